"""SQL Server and Oracle cannot run here: their catalog queries are parsed with sqlglot in their
dialects, and recorded rows run through the real mapping code via a DB-API double."""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

from oslomig.scanning import mapping
from oslomig.scanning.queries import ORACLE, POSTGRES, SQLSERVER, quote_tsql


@pytest.mark.parametrize("dialect,queries", [("tsql", SQLSERVER), ("oracle", ORACLE), ("postgres", POSTGRES)])
def test_every_query_parses_in_its_dialect(dialect, queries):
    for name, sql in queries.items():
        text = sql.format(db=quote_tsql("Agresso")) if "{db}" in sql else sql
        parsed = sqlglot.parse(text, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
        assert len(parsed) == 1 and isinstance(parsed[0], exp.Select), name


@pytest.mark.parametrize("name", ["a]b; DROP TABLE x--", "Agresso", "with space", "[bracketed]", "x]]y", "æøå'\""])
def test_per_database_query_keeps_a_hostile_name_one_identifier(name):
    sql = SQLSERVER["cross_database_references"].format(db=quote_tsql(name))
    statements = sqlglot.parse(sql, read="tsql")
    assert len(statements) == 1  # no second statement smuggled in
    table = statements[0].find(exp.Table)
    assert table.catalog == name and table.db == "sys" and table.name == "sql_expression_dependencies"
    assert "DROP" not in [t.text.upper() for t in sqlglot.tokenize(sql, read="tsql") if t.token_type.name == "DROP"]


def output_columns(sql: str, dialect: str) -> list[str]:
    """The column names a query returns, read from the query itself (its select list, aliases first)."""
    select = sqlglot.parse_one(sql, read=dialect)
    return [e.alias_or_name.lower() for e in select.expressions]


class FakeCursor:
    """A DB-API cursor double: answers each known query with recorded rows. The column names in `description` come
    from the SQL being answered, not from the test: rename a column in the query and the mapping code that reads the
    old name fails here, as it would against a real server. The names the test lists must agree with the query."""

    def __init__(self, answers: list[tuple[str, list[str], list[tuple]]], dialect: str = "tsql"):
        self.answers = answers
        self.dialect = dialect
        self.description = None
        self._rows: list[tuple] = []
        self.executed: list[str] = []

    def execute(self, sql, *params):
        self.executed.append(sql)
        for needle, expected, rows in self.answers:
            if re.search(needle, sql, re.S):
                columns = output_columns(sql, self.dialect)
                assert [c.lower() for c in expected] == columns, f"the recorded columns are not what {needle!r} returns"
                assert all(len(r) == len(columns) for r in rows), "a recorded row is not as wide as the query's select"
                self.description = [(c, None, None, None, None, None, None) for c in columns]
                self._rows = rows
                return self
        raise AssertionError(f"unexpected query: {sql}")

    def fetchall(self):
        return list(self._rows)


def test_sqlserver_mapping_from_recorded_rows():
    cursor = FakeCursor(
        [
            (
                r"SERVERPROPERTY\('ServerName'\)",
                [
                    "server_name",
                    "machine_name",
                    "instance_name",
                    "version",
                    "edition",
                    "is_clustered",
                    "is_hadr_enabled",
                ],
                [("SQLP01", "SQLP01", None, "15.0.4312.2", "Enterprise Edition (64-bit)", 0, 1)],
            ),
            (
                r"FROM sys\.availability_groups AS ag\s+JOIN sys\.availability_replicas",
                ["ag_name", "replica_server_name", "role", "availability_mode"],
                [
                    ("ag-okonomi", "SQLP01", "PRIMARY", "SYNCHRONOUS_COMMIT"),
                    ("ag-okonomi", "SQLP02", "SECONDARY", "SYNCHRONOUS_COMMIT"),
                ],
            ),
            (r"availability_databases_cluster", ["ag_name", "database_name"], [("ag-okonomi", "Agresso")]),
            (
                r"is_linked = 1",
                ["name", "product", "provider", "data_source"],
                [("ORADB02", "Oracle", "OraOLEDB.Oracle", "oradb02:1521/LONN")],
            ),
            (
                r"FROM sys\.databases",
                ["name", "state", "recovery_model", "compatibility_level", "size_gb"],
                [
                    ("Agresso", "ONLINE", "FULL", 150, "120.500"),
                    ("Arkiv", "OFFLINE", "SIMPLE", 130, "10.000"),
                    ("a]b; DROP TABLE x--", "ONLINE", "FULL", 150, "0.010"),
                ],
            ),
            (
                r"\[Agresso\]\.sys\.sql_expression_dependencies",
                ["server_name", "database_name"],
                [(None, "Agresso"), (None, "Lonn"), ("SQLP09.example.org", "DVH")],
            ),
            (r"\[a\]\]b; DROP TABLE x--\]\.sys", ["server_name", "database_name"], []),
        ]
    )
    inv = mapping.sqlserver_inventory(cursor, "sqlp01", 1433)
    (inst,) = inv["instances"]
    assert inst["id"] == "sqlp01/MSSQLSERVER" and inst["hadr_enabled"] is True and inst["version"] == "15.0.4312.2"
    assert inst["availability_groups"][0]["replicas"][1] == {
        "server": "SQLP02",
        "role": "SECONDARY",
        "availability_mode": "SYNCHRONOUS_COMMIT",
    }
    assert inst["linked_servers"] == [{"name": "ORADB02", "product": "Oracle", "data_source": "oradb02:1521/LONN"}]
    dbs = {d["name"]: d for d in inv["databases"]}
    assert dbs["Agresso"]["availability_group"] == "ag-okonomi" and dbs["Agresso"]["size_gb"] == 120.5
    assert dbs["Agresso"]["links"] == ["sqlp01/MSSQLSERVER/Lonn", "sqlp09/DVH"]
    assert "links" not in dbs["Arkiv"]  # offline: not queried
    assert not any("Arkiv" in q and "sql_expression" in q for q in cursor.executed)
    # what the scanner writes is a valid inventory file
    from oslomig.models import InventoryFile

    InventoryFile.model_validate(inv)


def test_oracle_mapping_rac_from_recorded_rows():
    cursor = FakeCursor(
        [
            (
                r"FROM gv\$instance",
                ["INST_ID", "INSTANCE_NAME", "HOST_NAME", "VERSION", "STATUS"],
                [
                    (1, "LONN1", "orarac01a.example.org", "19.0.0.0.0", "OPEN"),
                    (2, "LONN2", "orarac01b.example.org", "19.0.0.0.0", "OPEN"),
                ],
            ),
            (
                r"FROM v\$database",
                ["NAME", "DB_UNIQUE_NAME", "DATABASE_ROLE", "LOG_MODE", "OPEN_MODE", "CDB"],
                [("LONN", "LONN_A", "PRIMARY", "ARCHIVELOG", "READ WRITE", "YES")],
            ),
            (r"FROM v\$pdbs", ["NAME", "OPEN_MODE"], [("LONNPDB", "READ WRITE")]),
            (r"FROM dba_data_files", ["SIZE_GB"], [(812.25,)]),
            (r"FROM dba_db_links", ["OWNER", "DB_LINK", "HOST"], [("LONN", "AGRESSO.EXAMPLE.ORG", "sqlp01")]),
            (
                r"v\$dataguard_config",
                ["DB_UNIQUE_NAME", "DEST_ROLE"],
                [("LONN_A", "PRIMARY DATABASE"), ("LONN_B", "PHYSICAL STANDBY")],
            ),
        ],
        dialect="oracle",
    )
    inv = mapping.oracle_inventory(cursor, "orarac01", 1521)
    (inst,) = inv["instances"]
    assert inst["hosts"] == ["orarac01a", "orarac01b"] and inst["data_guard_partners"] == ["LONN_B"]
    (db,) = inv["databases"]
    assert db == {
        "id": "orarac01/LONN_A/LONN",
        "name": "LONN",
        "instance": "orarac01/LONN_A",
        "size_gb": 812.25,
        "role": "PRIMARY",
        "log_mode": "ARCHIVELOG",
        "state": "READ WRITE",
        "pdbs": ["LONNPDB"],
    }
    from oslomig.models import InventoryFile

    InventoryFile.model_validate(inv)


def test_host_facts_parse_real_command_output():
    from oslomig.scanning.connectors import host_facts

    text = """@@uname
Linux 6.1.0-18-amd64 x86_64
@@os
Debian GNU/Linux 12 (bookworm)
@@cpu
8
@@mem
16318480
@@df
/dev/sda1 102687672 40211212 57216672 42% /
/dev/sdb1 524032000 1000 524031000 1% /srv/shares
@@mounts
/dev/sda1 / ext4 rw 0 0
/dev/sdb1 /srv/shares xfs rw 0 0
@@listen
LISTEN 0 244 127.0.0.1:5432 0.0.0.0:*
LISTEN 0 128 0.0.0.0:22 0.0.0.0:*
LISTEN 0 244 [::]:1521 [::]:*
"""
    host = host_facts("filsrv01", "filsrv01.example.org", text)
    assert host["os"] == "linux" and host["os_version"] == "Debian GNU/Linux 12 (bookworm)" and host["cpu_count"] == 8
    assert (
        host["memory_gb"] == 15.56
        and host["listening_ports"] == [1521, 5432]
        and host["fqdn"] == "filsrv01.example.org"
    )
    assert host["disks"][1] == {"mount": "/srv/shares", "size_gb": 499.76, "free_gb": 499.75, "fstype": "xfs"}


def test_unreachable_sqlserver_via_freetds_and_oracle_are_plain_sentences(tmp_path):

    from conftest import run_cli
    from servers import free_port

    port = free_port()  # nothing listens there
    targets = tmp_path / "targets.yaml"
    targets.write_text(f"""kind: scan-targets
sqlserver:
  - {{name: sqlx, server: 127.0.0.1, port: {port}, driver: FreeTDS, username: svc,
     password_env: OSLOMIG_T_PW, timeout_s: 5}}
oracle:
  - {{name: orax, dsn: "127.0.0.1:{port}/ORCLPDB1", username: inv, password_env: OSLOMIG_T_PW, timeout_s: 5}}
""")
    proc = run_cli(
        "inventory",
        "scan",
        "--targets",
        str(targets),
        "--out",
        str(tmp_path / "out"),
        env={"OSLOMIG_T_PW": "pw-not-shown-9"},
        timeout=60,
    )
    assert proc.returncode == 1
    assert "sqlx (127.0.0.1): cannot reach the server" in proc.stderr
    assert f"orax (127.0.0.1:{port}): no listener" in proc.stderr
    assert "2 failed (sqlx, orax)" in proc.stderr
    assert "pw-not-shown-9" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
