#!/usr/bin/env python3
"""Generate the shipped example estate: inventories/, plans/ and schema/.

Deterministic (a fixed seed, sorted output): run it twice and git sees no
change. `make examples` runs it; its output is committed so a fresh clone
has the examples without running anything.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from oslomig.commands.schema import schema_json  # noqa: E402

SEED = 2021
AGENCIES = [
    ("UKE", "Utviklings- og kompetanseetaten"),
    ("INE", "Innkrevingsetaten"),
    ("SYE", "Sykehjemsetaten"),
    ("BYM", "Bymiljøetaten"),
    ("KLI", "Klimaetaten"),
    ("HEL", "Helseetaten"),
    ("REG", "Regnskapsetaten"),
    ("NAE", "Næringsetaten"),
    ("UDE", "Utdanningsetaten"),
    ("VAV", "Vann- og avløpsetaten"),
    ("PBE", "Plan- og bygningsetaten"),
    ("EBY", "Eiendoms- og byfornyelsesetaten"),
    ("KUL", "Kulturetaten"),
    ("BRE", "Brann- og redningsetaten"),
    ("BFE", "Barne- og familieetaten"),
    ("VEL", "Velferdsetaten"),
    ("BYDEL-ALNA", "Bydel Alna"),
    ("BYDEL-BJERKE", "Bydel Bjerke"),
    ("BYDEL-FROGNER", "Bydel Frogner"),
    ("BYDEL-GAMLE-OSLO", "Bydel Gamle Oslo"),
    ("BYDEL-GRORUD", "Bydel Grorud"),
    ("BYDEL-GRUNERLOKKA", "Bydel Grünerløkka"),
    ("BYDEL-NORDRE-AKER", "Bydel Nordre Aker"),
    ("BYDEL-NORDSTRAND", "Bydel Nordstrand"),
    ("BYDEL-SAGENE", "Bydel Sagene"),
    ("BYDEL-ST-HANSHAUGEN", "Bydel St. Hanshaugen"),
    ("BYDEL-STOVNER", "Bydel Stovner"),
    ("BYDEL-SONDRE-NORDSTRAND", "Bydel Søndre Nordstrand"),
    ("BYDEL-ULLERN", "Bydel Ullern"),
    ("BYDEL-VESTRE-AKER", "Bydel Vestre Aker"),
    ("BYDEL-OSTENSJO", "Bydel Østensjø"),
]
FIRST = [
    "Kari",
    "Ola",
    "Ingrid",
    "Lars",
    "Sigrid",
    "Knut",
    "Astrid",
    "Per",
    "Solveig",
    "Erik",
    "Marit",
    "Jon",
    "Nora",
    "Emil",
    "Hanne",
    "Bjørn",
    "Liv",
    "Tor",
    "Aisha",
    "Ali",
    "Mina",
    "Tuan",
    "Zofia",
    "Ahmed",
]
LAST = [
    "Nordmann",
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Johnsen",
    "Pettersen",
    "Eriksen",
    "Berg",
    "Haugen",
    "Hagen",
    "Bakke",
    "Khan",
    "Nguyen",
]
SYSTEM_WORDS = [
    "Saksbehandling",
    "Arkiv",
    "Økonomi",
    "Lønn",
    "Timeføring",
    "Fakturering",
    "Innkjøp",
    "Byggesak",
    "Parkering",
    "Renovasjon",
    "Skoleadmin",
    "Barnehageopptak",
    "Journal",
    "Turnus",
    "Kart",
    "Vann",
    "Avløp",
    "Eiendom",
    "Billettering",
    "Booking",
    "Tilskudd",
    "Kontrakt",
    "Rapportering",
    "Portal",
    "Integrasjon",
    "Tilgang",
    "Kompetanse",
    "Avvik",
    "Vedlikehold",
    "Kvalitet",
    "Inventar",
    "Bibliotek",
]


def ascii_slug(text: str) -> str:
    table = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "Æ": "Ae", "Ø": "O", "Å": "A", "ü": "u"})
    return "".join(c for c in text.translate(table) if c.isalnum())


def contact(rng: random.Random) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {"name": f"{first} {last}", "email": f"{ascii_slug(first).lower()}.{ascii_slug(last).lower()}@example.org"}


def dump(path: Path, schema: str, data: dict, comment: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rel = Path("../" * (len(path.relative_to(ROOT).parts) - 1)) / "schema" / f"{schema}.json"
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120)
    path.write_text(f"# yaml-language-server: $schema={rel.as_posix()}\n# {comment}\n{text}", encoding="utf-8")


def size(rng: random.Random, env: str) -> float:
    base = rng.lognormvariate(3.2, 1.3) if env == "prod" else rng.lognormvariate(2.2, 1.0)
    return round(min(base, 1500.0), 1)


def generate() -> None:
    rng = random.Random(SEED)
    agencies = [{"id": a, "name": n, "contacts": [contact(rng)]} for a, n in AGENCIES]

    hosts: list[dict] = []
    instances: list[dict] = []
    sql_dbs: list[dict] = []
    ora_dbs: list[dict] = []
    pg_dbs: list[dict] = []

    def host(name: str, os_: str, **extra) -> str:
        hosts.append(
            {
                "name": name,
                "fqdn": f"{name}.example.org",
                "os": os_,
                "site": "old-dc",
                **extra,
                "vm": extra.pop("vm", True),
            }
        )
        return name

    # SQL Server: prod hosts (some in two-node failover clusters), test hosts
    sql_prod = [host(f"sqlp{i:02d}", "windows") for i in range(1, 121)]
    sql_test = [host(f"sqlt{i:02d}", "windows") for i in range(1, 61)]
    for i in range(0, 16, 2):  # clusters of two prod hosts
        for h in hosts[i : i + 2]:
            h["cluster"] = f"sqlclu{i // 2 + 1:02d}"
    ora_prod = [host(f"orap{i:02d}", "linux") for i in range(1, 41)]
    ora_test = [host(f"orat{i:02d}", "linux") for i in range(1, 21)]
    rac = [host(f"orarac01{x}", "linux", vm=False) for x in "ab"]
    mixed = [host(f"dbmix{i:02d}", "windows") for i in range(1, 5)]  # SQL Server and Oracle on one box
    pg = [host(f"pgp{i:02d}", "linux") for i in range(1, 4)]
    [host(f"filsrv{i:02d}", "windows") for i in range(1, 5)]
    for i in range(1, 1350 - len(hosts) + 1):  # application servers
        host(f"app{i:04d}", "windows" if rng.random() < 0.6 else "linux")

    def instance(iid: str, engine: str, port: int, version: str, **where) -> str:
        instances.append({"id": iid, "engine": engine, **where, "version": version, "port": port})
        return iid

    sql_instances_prod, sql_instances_test = [], []
    for h in sql_prod + mixed:
        sql_instances_prod.append(
            instance(
                f"{h}/MSSQLSERVER", "sqlserver", 1433, rng.choice(["13.0.6300.2", "14.0.3381.3", "15.0.4312.2"]), host=h
            )
        )
        if rng.random() < 0.15:
            sql_instances_prod.append(instance(f"{h}/APP", "sqlserver", 1434, "15.0.4312.2", host=h))
    for h in sql_test:
        sql_instances_test.append(instance(f"{h}/MSSQLSERVER", "sqlserver", 1433, "15.0.4312.2", host=h))
    ora_instances_prod = [
        instance(f"{h}/ORCL", "oracle", 1521, rng.choice(["12.2.0.1", "19.11.0.0"]), host=h) for h in ora_prod + mixed
    ]
    ora_instances_prod.append(instance("orarac01/RACPROD", "oracle", 1521, "19.11.0.0", hosts=rac))
    ora_instances_test = [instance(f"{h}/ORCLT", "oracle", 1521, "19.11.0.0", host=h) for h in ora_test]
    pg_instances = [instance(f"{h}/main", "postgres", 5432, "13.4", host=h) for h in pg]

    systems: list[dict] = []
    used_names: set[str] = set()
    for n in range(1, 393):
        agency = AGENCIES[0][0] if n <= 40 else rng.choice(AGENCIES)[0]
        while True:
            suffix = rng.choice(["", "pluss", "web", "X", "Pro", "2", "Online", "Mobil", "Data"])
            name = f"{rng.choice(SYSTEM_WORDS)} {suffix}".strip()
            name = f"{name} {agency}" if name in used_names else name
            if name not in used_names:
                used_names.add(name)
                break
        sid = f"SYS-{n:04d}"
        system = {
            "id": sid,
            "name": name,
            "agency": agency,
            "criticality": rng.choice(["low", "medium", "medium", "high"]),
            "contacts": [contact(rng) for _ in range(rng.choice([1, 1, 2]))],
            "databases": [],
        }
        if n == 1:
            system.update(name="Lønn (SAP HR)", agency="REG", criticality="high")
        if n == 42:
            system.update(name="Agresso økonomi", agency="UKE", criticality="high")
        if n > 1 and rng.random() < 0.2:
            system["depends_on"] = [f"SYS-{rng.randint(1, n - 1):04d}"]
        dbname = ascii_slug(system["name"]) + f"{n:03d}"
        r = rng.random()
        if r < 0.62:  # SQL Server, prod and usually test
            prod_inst = rng.choice(sql_instances_prod)
            sql_dbs.append(
                {
                    "id": f"{prod_inst}/{dbname}",
                    "name": dbname,
                    "instance": prod_inst,
                    "size_gb": size(rng, "prod"),
                    "environment": "prod",
                }
            )
            if rng.random() < 0.75:
                test_inst = rng.choice(sql_instances_test)
                sql_dbs.append(
                    {
                        "id": f"{test_inst}/{dbname}_TEST",
                        "name": f"{dbname}_TEST",
                        "instance": test_inst,
                        "size_gb": size(rng, "test"),
                        "environment": "test",
                    }
                )
            if rng.random() < 0.2:
                sql_dbs.append(
                    {
                        "id": f"{prod_inst}/{dbname}_DW",
                        "name": f"{dbname}_DW",
                        "instance": prod_inst,
                        "size_gb": size(rng, "prod"),
                        "environment": "prod",
                    }
                )
            system["databases"].append(f"*/{dbname}*")
        elif r < 0.85:  # Oracle
            prod_inst = rng.choice(ora_instances_prod)
            ora_dbs.append(
                {
                    "id": f"{prod_inst}/{dbname.upper()}",
                    "name": dbname.upper(),
                    "instance": prod_inst,
                    "size_gb": size(rng, "prod"),
                    "environment": "prod",
                }
            )
            if rng.random() < 0.6:
                test_inst = rng.choice(ora_instances_test)
                ora_dbs.append(
                    {
                        "id": f"{test_inst}/{dbname.upper()}T",
                        "name": f"{dbname.upper()}T",
                        "instance": test_inst,
                        "size_gb": size(rng, "test"),
                        "environment": "test",
                    }
                )
            system["databases"].append(f"*/{dbname.upper()}*")
        elif r < 0.88:
            inst = rng.choice(pg_instances)
            pg_dbs.append(
                {
                    "id": f"{inst}/{dbname.lower()}",
                    "name": dbname.lower(),
                    "instance": inst,
                    "size_gb": size(rng, "prod"),
                    "environment": "prod",
                }
            )
            system["databases"].append(f"{inst}/{dbname.lower()}")
        systems.append(system)

    # special cases the plans and the demo rely on
    sql_dbs.append(
        {
            "id": "sqlp01/MSSQLSERVER/Agresso",
            "name": "Agresso",
            "instance": "sqlp01/MSSQLSERVER",
            "size_gb": 120.5,
            "environment": "prod",
        }
    )
    sql_dbs.append(
        {
            "id": "sqlt01/MSSQLSERVER/Agresso_TEST",
            "name": "Agresso_TEST",
            "instance": "sqlt01/MSSQLSERVER",
            "size_gb": 40.0,
            "environment": "test",
        }
    )
    systems[41]["databases"] = [p for p in systems[41]["databases"] if "MSSQL" not in p] + [
        "*/MSSQLSERVER/Agresso",
        "*/MSSQLSERVER/Agresso_*",
    ]
    sql_dbs.append(
        {
            "id": "sqldvh01/MSSQLSERVER/DVH",
            "name": "DVH",
            "instance": "sqldvh01/MSSQLSERVER",
            "size_gb": 3400.0,
            "environment": "prod",
        }
    )
    hosts.append({"name": "sqldvh01", "fqdn": "sqldvh01.example.org", "os": "windows", "site": "old-dc", "vm": False})
    instances.append(
        {
            "id": "sqldvh01/MSSQLSERVER",
            "engine": "sqlserver",
            "host": "sqldvh01",
            "version": "15.0.4312.2",
            "port": 1433,
        }
    )
    systems[2]["databases"].append("sqldvh01/MSSQLSERVER/DVH")
    # availability groups: pairs of prod databases on different hosts that must move together
    ag_candidates = [d for d in sql_dbs if d["environment"] == "prod" and d["instance"].startswith("sqlp")][:40]
    for i in range(0, 12, 2):
        name = f"ag-{ascii_slug(AGENCIES[i // 2][0]).lower()}"
        ag_candidates[i]["availability_group"] = name
        ag_candidates[i + 1]["availability_group"] = name
    # a staging database living on a prod host: the group mixes prod and non-prod (a warning)
    sql_dbs.append(
        {
            "id": "sqlp05/MSSQLSERVER/Intranett_STAGING",
            "name": "Intranett_STAGING",
            "instance": "sqlp05/MSSQLSERVER",
            "size_gb": 12.0,
            "environment": "staging",
        }
    )
    systems[5]["databases"].append("sqlp05/MSSQLSERVER/Intranett_STAGING")
    # cross-engine links: SQL Server linked servers into Oracle (warnings unless a plan binds links)
    for d, o in zip(sql_dbs[3:9:2], ora_dbs[:3]):
        d["links"] = [o["id"]]

    shares = [
        {"id": "filsrv01-ine-felles", "host": "filsrv01", "path": "/srv/shares/INE/Felles", "agency": "INE"},
        {"id": "filsrv01-ine-okonomi", "host": "filsrv01", "path": "/srv/shares/INE/Okonomi", "agency": "INE"},
        {"id": "filsrv02-bym-felles", "host": "filsrv02", "path": "/srv/shares/BYM/Felles", "agency": "BYM"},
        {"id": "filsrv03-uke-prosjekt", "host": "filsrv03", "path": "/srv/shares/UKE/Prosjekt", "agency": "UKE"},
    ]

    inv = ROOT / "inventories"
    note_people = (
        "Written by people: agencies, systems, contacts, ownership. Generated by scripts/generate_examples.py."
    )
    note_scan = "Written by scanners (oslomig inventory scan). Generated by scripts/generate_examples.py."
    dump(inv / "owners" / "agencies.yaml", "inventory", {"agencies": agencies}, note_people)
    dump(inv / "owners" / "systems.yaml", "inventory", {"systems": systems}, note_people)
    dump(inv / "scanned" / "hosts.yaml", "inventory", {"hosts": sorted(hosts, key=lambda h: h["name"])}, note_scan)
    by_engine = {e: [i for i in instances if i["engine"] == e] for e in ("sqlserver", "oracle", "postgres")}
    dump(
        inv / "scanned" / "sqlserver.yaml",
        "inventory",
        {"instances": by_engine["sqlserver"], "databases": sorted(sql_dbs, key=lambda d: d["id"])},
        note_scan,
    )
    dump(
        inv / "scanned" / "oracle.yaml",
        "inventory",
        {"instances": by_engine["oracle"], "databases": sorted(ora_dbs, key=lambda d: d["id"])},
        note_scan,
    )
    dump(
        inv / "scanned" / "postgres.yaml",
        "inventory",
        {"instances": by_engine["postgres"], "databases": sorted(pg_dbs, key=lambda d: d["id"])},
        note_scan,
    )
    dump(inv / "shares.yaml", "inventory", {"shares": shares}, note_people)

    sql_prod_dbs = sorted(d["id"] for d in sql_dbs if d["environment"] == "prod" and d["instance"].startswith("sqlp"))
    plans = ROOT / "plans"
    dump(
        plans / "sql-2021.yaml",
        "plan",
        {
            "kind": "database-migration",
            "name": "SQL Server 2021",
            "inventory": "../inventories",
            "timezone": "Europe/Oslo",
            "coordinate_with": ["oracle-2021.yaml"],
            "team_contact": "migrering@example.org",
            "period": {"start": dt.date(2021, 5, 3), "end": dt.date(2021, 12, 17)},
            "scope": {"engines": ["sqlserver"]},
            "grouping": {"bind": ["instance", "host", "cluster", "availability_group"], "systems": False},
            "timing": {"throughput_gb_per_hour": 200, "overhead_hours": 1.0},
            "notice_days": 14,
            "test_before_prod_days": 7,
            "windows": [
                {
                    "name": "weeknight",
                    "weekdays": ["tue", "thu"],
                    "start": "18:00",
                    "hours": 10,
                    "parallel": 3,
                    "max_groups": 4,
                    "engines": ["sqlserver"],
                },
                {
                    "name": "long-saturday",
                    "weekdays": ["sat"],
                    "start": "08:00",
                    "hours": 14,
                    "parallel": 2,
                    "max_groups": 3,
                },
            ],
            "blackouts": [
                {"name": "fellesferie", "from": dt.date(2021, 7, 1), "to": dt.date(2021, 8, 8)},
                {"name": "lønnskjøring", "monthly_days": [9, 10, 11, 12], "systems": ["SYS-0001"]},
                {"name": "helligdager", "holidays": "NO"},
                {
                    "name": "juleavslutning",
                    "from": dt.date(2021, 12, 13),
                    "to": dt.date(2021, 12, 17),
                    "agencies": ["UDE"],
                },
            ],
            "announced": [
                {"database": "sqlt01/MSSQLSERVER/Agresso_TEST", "start": "2021-05-04T18:00"},
                {"database": "sqlp01/MSSQLSERVER/Agresso", "start": "2021-05-25T18:00"},
            ],
            "migrated": [sql_prod_dbs[-1], sql_prod_dbs[-2]],
        },
        "SQL Server databases, May to December 2021. Validate with: oslomig validate plans/sql-2021.yaml",
    )
    dump(
        plans / "oracle-2021.yaml",
        "plan",
        {
            "kind": "database-migration",
            "name": "Oracle 2021",
            "inventory": "../inventories",
            "timezone": "Europe/Oslo",
            "coordinate_with": ["sql-2021.yaml"],
            "team_contact": "migrering@example.org",
            "period": {"start": dt.date(2021, 8, 16), "end": dt.date(2021, 12, 17)},
            "scope": {"engines": ["oracle"]},
            "grouping": {"bind": ["instance", "host", "cluster", "availability_group", "links"]},
            "timing": {"throughput_gb_per_hour": 150, "overhead_hours": 1.5},
            "notice_days": 14,
            "test_before_prod_days": 7,
            "windows": [
                {
                    "name": "weeknight",
                    "weekdays": ["mon", "wed"],
                    "start": "19:00",
                    "hours": 9,
                    "parallel": 2,
                    "max_groups": 3,
                },
                {"name": "weekend", "weekdays": ["sat"], "start": "08:00", "hours": 14, "parallel": 2},
            ],
            "blackouts": [
                {"name": "lønnskjøring", "monthly_days": [9, 10, 11, 12], "systems": ["SYS-0001"]},
                {"name": "helligdager", "holidays": "NO"},
            ],
        },
        "Oracle databases after the summer of 2021.",
    )
    dump(
        plans / "shares-ine-2021.yaml",
        "share-plan",
        {
            "kind": "share-migration",
            "name": "INE filområder 2021",
            "timezone": "Europe/Oslo",
            "policy": {
                "stale_after_years": 5,
                "stale_action": "review",
                "junk": ["Thumbs.db", "desktop.ini", ".DS_Store", "~$*", "*.tmp"],
                "duplicates": "review",
                "invalid_chars": "replace",
                "replacement": "_",
            },
            "shares": [
                {
                    "id": "ine-felles",
                    "source": "/srv/shares/INE/Felles",
                    "spmt_source": "\\\\filsrv01\\INE\\Felles",
                    "staging": "/srv/shares/INE/.staging/ine-felles",
                    "agency": "INE",
                    "department": "Økonomi",
                    "contact": {"name": "Ola Nordmann", "email": "ola.nordmann@example.org"},
                    "target": {
                        "site": "https://tenant.sharepoint.com/sites/INE-Okonomi",
                        "library": "Documents",
                        "folder": "Felles",
                    },
                    "read_only_from": dt.date(2021, 9, 1),
                    "delete_after_days": 90,
                    "routes": [
                        {"match": "Arkiv/**", "action": "skip"},
                        {
                            "match": "Prosjekter/**",
                            "target": {
                                "site": "https://tenant.sharepoint.com/sites/INE-Prosjekt",
                                "library": "Documents",
                            },
                        },
                    ],
                },
                {
                    "id": "ine-innkreving",
                    "source": "ssh://inventory@filsrv01.example.org/srv/shares/INE/Innkreving",
                    "spmt_source": "\\\\filsrv01\\INE\\Innkreving",
                    "staging": "/srv/shares/INE/.staging/ine-innkreving",
                    "agency": "INE",
                    "department": "Innkreving",
                    "contact": {"name": "Kari Nordmann", "email": "kari.nordmann@example.org"},
                    "target": {
                        "site": "https://tenant.sharepoint.com/sites/INE-Innkreving",
                        "library": "Dokumenter",
                        "library_url": "Dokumenter",
                        "folder": "",
                    },
                    "read_only_from": dt.date(2021, 10, 1),
                    "delete_after_days": 120,
                },
                {
                    "id": "ine-lonn",
                    "source": "smb://OSLO;svc-oslomig@filsrv01/INE/Lonn",
                    "password_env": "OSLOMIG_FILSRV_PASSWORD",
                    "staging": "\\\\filsrv01\\INE\\.staging\\ine-lonn",
                    "agency": "INE",
                    "department": "Lønn",
                    "contact": {"name": "Kari Nordmann", "email": "kari.nordmann@example.org"},
                    "target": {
                        "site": "https://tenant.sharepoint.com/sites/INE-Lonn",
                        "library": "Documents",
                        "folder": "Lønn",
                    },
                    "read_only_from": dt.date(2021, 10, 1),
                    "delete_after_days": 120,
                },
            ],
        },
        "INE's department shares to SharePoint Online.",
    )
    dump(
        plans / "scan-targets.yaml",
        "scan-targets",
        {
            "kind": "scan-targets",
            "sqlserver": [
                {
                    "name": "sqlp01",
                    "server": "sqlp01.example.org",
                    "port": 1433,
                    "driver": "ODBC Driver 18 for SQL Server",
                    "username": "svc_inventory",
                    "password_env": "OSLOMIG_SQL_PASSWORD",
                    "trust_server_certificate": True,
                    "timeout_s": 20,
                },
                {
                    "name": "sqlp02-app",
                    "server": "sqlp02.example.org\\APP",
                    "driver": "FreeTDS",
                    "username": "svc_inventory",
                    "password_env": "OSLOMIG_SQL_PASSWORD",
                },
            ],
            "oracle": [
                {
                    "name": "orap01",
                    "dsn": "orap01.example.org:1521/ORCLPDB1",
                    "username": "inventory",
                    "password_env": "OSLOMIG_ORA_PASSWORD",
                }
            ],
            "postgres": [
                {
                    "name": "pgp01",
                    "host": "pgp01.example.org",
                    "port": 5432,
                    "driver": "PostgreSQL Unicode",
                    "username": "inventory",
                    "password_file": "/etc/oslomig/pgp01.secret",
                }
            ],
            "hosts": [
                {
                    "name": "filsrv01",
                    "host": "filsrv01.example.org",
                    "port": 22,
                    "username": "inventory",
                    "key_file": "~/.ssh/id_ed25519",
                    "known_hosts": "~/.ssh/known_hosts",
                    "accept_new_host_key": False,
                }
            ],
        },
        "What the nightly scan reaches. Passwords come from the environment or a file, never from here.",
    )

    schema_dir = ROOT / "schema"
    schema_dir.mkdir(exist_ok=True)
    for name in ("plan", "share-plan", "scan-targets", "inventory"):
        (schema_dir / f"{name}.json").write_text(
            json.dumps(schema_json(name), indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    print(
        f"{len(systems)} systems, {len(hosts)} hosts, {len(instances)} instances, "
        f"{len(sql_dbs)} SQL Server, {len(ora_dbs)} Oracle and {len(pg_dbs)} PostgreSQL databases, {len(shares)} shares"
    )


if __name__ == "__main__":
    generate()
