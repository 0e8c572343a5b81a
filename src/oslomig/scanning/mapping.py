"""Turn catalog rows into inventory entries. Pure functions over DB-API cursors, so they can be
tested with recorded rows as well as run against a live server."""

from __future__ import annotations

from typing import Any

from oslomig.scanning.queries import ORACLE, POSTGRES, SQLSERVER, quote_tsql


def rows(cursor, sql: str, *params) -> list[dict[str, Any]]:
    cursor.execute(sql, *params) if params else cursor.execute(sql)
    names = [d[0].lower() for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def short_host(name: str) -> str:
    """`SQLP01.example.org\\INST` -> `sqlp01`: the inventory's host id."""
    return name.split("\\\\")[0].split("\\", 1)[0].split(".")[0].lower()


def sqlserver_inventory(cursor, host_id: str, port: int | None) -> dict:
    (info,) = rows(cursor, SQLSERVER["instance"])
    instance_name = info.get("instance_name") or "MSSQLSERVER"
    instance_id = f"{host_id}/{instance_name}"
    ag_members: dict[str, str] = {}
    ags: dict[str, list[dict]] = {}
    if info.get("is_hadr_enabled"):
        for r in rows(cursor, SQLSERVER["availability_replicas"]):
            ags.setdefault(r["ag_name"], []).append(
                {
                    k: v
                    for k, v in {
                        "server": r["replica_server_name"],
                        "role": r.get("role"),
                        "availability_mode": r.get("availability_mode"),
                    }.items()
                    if v is not None
                }
            )
        for r in rows(cursor, SQLSERVER["availability_databases"]):
            ag_members[r["database_name"]] = r["ag_name"]
    instance = {
        "id": instance_id,
        "engine": "sqlserver",
        "host": host_id,
        "name": instance_name,
        "version": str(info.get("version") or ""),
        "edition": info.get("edition"),
        "port": port,
        "clustered": bool(info.get("is_clustered")),
        "hadr_enabled": bool(info.get("is_hadr_enabled")),
        "availability_groups": [{"name": n, "replicas": r} for n, r in sorted(ags.items())],
        "linked_servers": [
            {
                k: v
                for k, v in {
                    "name": r["name"],
                    "product": r.get("product"),
                    "data_source": r.get("data_source"),
                }.items()
                if v
            }
            for r in rows(cursor, SQLSERVER["linked_servers"])
        ],
    }
    databases = []
    for r in rows(cursor, SQLSERVER["databases"]):
        db = {
            "id": f"{instance_id}/{r['name']}",
            "name": r["name"],
            "instance": instance_id,
            "size_gb": round(float(r["size_gb"] or 0), 3),
            "state": r.get("state"),
            "recovery_model": r.get("recovery_model"),
            "compatibility_level": r.get("compatibility_level"),
        }
        if r["name"] in ag_members:
            db["availability_group"] = ag_members[r["name"]]
        if r.get("state") == "ONLINE":
            refs = rows(cursor, SQLSERVER["cross_database_references"].format(db=quote_tsql(r["name"])))
            links = sorted(
                {
                    f"{instance_id}/{x['database_name']}"
                    if not x.get("server_name")
                    else f"{short_host(x['server_name'])}/{x['database_name']}"
                    for x in refs
                    if x.get("database_name") and x["database_name"] != r["name"]
                }
            )
            if links:
                db["links"] = links
        databases.append({k: v for k, v in db.items() if v is not None})
    return {"instances": [{k: v for k, v in instance.items() if v not in (None, [], "")}], "databases": databases}


def oracle_inventory(cursor, host_id: str, port: int | None) -> dict:
    insts = rows(cursor, ORACLE["instances"])
    (db,) = rows(cursor, ORACLE["database"])
    hosts = sorted({short_host(r["host_name"]) for r in insts}) or [host_id]
    name = db["db_unique_name"] or db["name"]
    instance_id = f"{hosts[0] if len(hosts) == 1 else host_id}/{name}"
    pdbs = [r["name"] for r in rows(cursor, ORACLE["pdbs"])] if str(db.get("cdb", "NO")).upper() == "YES" else []
    (size,) = rows(cursor, ORACLE["size"])
    partners = [r["db_unique_name"] for r in rows(cursor, ORACLE["dataguard"]) if r["db_unique_name"] != name]
    db_links = [
        {
            k: v
            for k, v in {
                "name": f"{r['owner']}.{r['db_link']}",
                "product": "oracle",
                "data_source": r.get("host"),
            }.items()
            if v
        }
        for r in rows(cursor, ORACLE["db_links"])
    ]
    instance = {
        "id": instance_id,
        "engine": "oracle",
        "name": name,
        "version": str(insts[0]["version"]) if insts else None,
        "port": port,
        "data_guard_partners": partners,
        "linked_servers": db_links,
    }
    instance.update({"host": hosts[0]} if len(hosts) == 1 else {"hosts": hosts})
    database = {
        "id": f"{instance_id}/{db['name']}",
        "name": db["name"],
        "instance": instance_id,
        "size_gb": round(float(size["size_gb"] or 0), 3),
        "role": db.get("database_role"),
        "log_mode": db.get("log_mode"),
        "state": db.get("open_mode"),
        "pdbs": pdbs,
    }
    return {
        "instances": [{k: v for k, v in instance.items() if v not in (None, [], "")}],
        "databases": [{k: v for k, v in database.items() if v not in (None, [], "")}],
    }


def postgres_inventory(cursor, host_id: str, port: int) -> dict:
    (version,) = rows(cursor, POSTGRES["version"])
    instance_id = f"{host_id}/{port}"
    databases = [
        {
            "id": f"{instance_id}/{r['name']}",
            "name": r["name"],
            "instance": instance_id,
            "size_gb": round(int(r["size_bytes"]) / 1024**3, 6),
        }
        for r in rows(cursor, POSTGRES["databases"])
    ]
    return {
        "instances": [
            {"id": instance_id, "engine": "postgres", "host": host_id, "version": str(version["version"]), "port": port}
        ],
        "databases": databases,
    }
