"""Every catalog query oslomig runs, as named SQL text in one place.

The tests parse each of them with sqlglot in its engine's dialect, so a typo
here fails in CI even though no SQL Server or Oracle runs there.
"""

SQLSERVER = {
    "instance": """
SELECT CAST(SERVERPROPERTY('ServerName') AS NVARCHAR(256)) AS server_name,
       CAST(SERVERPROPERTY('MachineName') AS NVARCHAR(256)) AS machine_name,
       CAST(SERVERPROPERTY('InstanceName') AS NVARCHAR(256)) AS instance_name,
       CAST(SERVERPROPERTY('ProductVersion') AS NVARCHAR(64)) AS version,
       CAST(SERVERPROPERTY('Edition') AS NVARCHAR(256)) AS edition,
       CAST(SERVERPROPERTY('IsClustered') AS INT) AS is_clustered,
       CAST(SERVERPROPERTY('IsHadrEnabled') AS INT) AS is_hadr_enabled
""",
    "databases": """
SELECT d.name AS name,
       d.state_desc AS state,
       d.recovery_model_desc AS recovery_model,
       d.compatibility_level AS compatibility_level,
       CAST(SUM(CAST(mf.size AS BIGINT)) * 8.0 / 1024 / 1024 AS DECIMAL(18, 3)) AS size_gb
FROM sys.databases AS d
JOIN sys.master_files AS mf ON mf.database_id = d.database_id
WHERE d.database_id > 4
GROUP BY d.name, d.state_desc, d.recovery_model_desc, d.compatibility_level
ORDER BY d.name
""",
    "availability_replicas": """
SELECT ag.name AS ag_name,
       ar.replica_server_name AS replica_server_name,
       ars.role_desc AS role,
       ar.availability_mode_desc AS availability_mode
FROM sys.availability_groups AS ag
JOIN sys.availability_replicas AS ar ON ar.group_id = ag.group_id
LEFT JOIN sys.dm_hadr_availability_replica_states AS ars ON ars.replica_id = ar.replica_id
ORDER BY ag.name, ar.replica_server_name
""",
    "availability_databases": """
SELECT ag.name AS ag_name, adc.database_name AS database_name
FROM sys.availability_databases_cluster AS adc
JOIN sys.availability_groups AS ag ON ag.group_id = adc.group_id
ORDER BY ag.name, adc.database_name
""",
    "linked_servers": """
SELECT s.name AS name, s.product AS product, s.provider AS provider, s.data_source AS data_source
FROM sys.servers AS s
WHERE s.is_linked = 1
ORDER BY s.name
""",
    # per database; {db} is replaced by a quoted identifier (see quote_tsql)
    "cross_database_references": """
SELECT DISTINCT sed.referenced_server_name AS server_name, sed.referenced_database_name AS database_name
FROM {db}.sys.sql_expression_dependencies AS sed
WHERE sed.referenced_database_name IS NOT NULL
""",
}

ORACLE = {
    "instances": """
SELECT inst_id, instance_name, host_name, version, status
FROM gv$instance
ORDER BY inst_id
""",
    "database": """
SELECT name, db_unique_name, database_role, log_mode, open_mode, cdb
FROM v$database
""",
    "pdbs": """
SELECT name, open_mode
FROM v$pdbs
ORDER BY name
""",
    "size": """
SELECT ROUND(SUM(bytes) / 1024 / 1024 / 1024, 3) AS size_gb
FROM dba_data_files
""",
    "db_links": """
SELECT owner, db_link, host
FROM dba_db_links
ORDER BY owner, db_link
""",
    "dataguard": """
SELECT db_unique_name, dest_role
FROM v$dataguard_config
ORDER BY db_unique_name
""",
}

POSTGRES = {
    "version": "SELECT current_setting('server_version') AS version",
    "databases": """
SELECT datname AS name, pg_database_size(datname) AS size_bytes
FROM pg_database
WHERE NOT datistemplate
ORDER BY datname
""",
}


def quote_tsql(name: str) -> str:
    """A T-SQL identifier, QUOTENAME-style: `]` doubles, so any name stays one identifier."""
    return "[" + name.replace("]", "]]") + "]"
