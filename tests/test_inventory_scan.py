"""Inventory scans against a real PostgreSQL (through pyodbc and the PostgreSQL ODBC driver) and a real OpenSSH host."""

from __future__ import annotations

import json
import secrets
import shutil
import time
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from servers import running_postgres

PASSWORD = "pw-" + secrets.token_hex(12)  # must never show up anywhere


@pytest.fixture(scope="module")
def pg():
    try:
        with running_postgres(PASSWORD) as server:
            server.psql("CREATE DATABASE sales")
            server.psql(
                "CREATE TABLE filler AS SELECT repeat('x', 900) AS pad FROM generate_series(1, 30000)", db="sales"
            )
            yield server
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


OWNERS = """agencies: [{id: UKE, name: Utviklings- og kompetanseetaten}]
systems:
  - {id: SYS-0001, name: Salg, agency: UKE, databases: ["*/sales"],
     contacts: [{name: Kari Nordmann, email: kari.nordmann@example.org}]}
"""


def write_targets(path: Path, pg, ssh_server, pg_port: int | None = None) -> None:
    path.write_text(f"""kind: scan-targets
postgres:
  - name: pg01
    host: 127.0.0.1
    host_id: dbhost
    port: {pg_port or pg.port}
    driver: PostgreSQL Unicode
    username: inventory
    password_env: OSLOMIG_TEST_PG_PASSWORD
    timeout_s: 10
hosts:
  - name: dbhost
    host: 127.0.0.1
    port: {ssh_server.port}
    username: {ssh_server.user}
    key_file: {ssh_server.key_file}
    known_hosts: {ssh_server.known_hosts}
    timeout_s: 15
""")


def scan(targets: Path, out: Path, *extra):
    return run_cli(
        "inventory",
        "scan",
        "--targets",
        str(targets),
        "--out",
        str(out),
        *extra,
        env={"OSLOMIG_TEST_PG_PASSWORD": PASSWORD},
    )


def test_scan_validate_rescan_with_a_target_down_and_diff(pg, ssh_server, tmp_path):
    out = tmp_path / "inventories"
    (out / "owners").mkdir(parents=True)
    (out / "owners" / "owners.yaml").write_text(OWNERS)
    targets = tmp_path / "targets.yaml"
    write_targets(targets, pg, ssh_server)

    first = scan(targets, out)
    assert first.returncode == 0, first.stderr
    assert "2 of 2 targets scanned" in first.stderr.splitlines()[-1]
    pg_file = out / "scanned" / "postgres-pg01.yaml"
    host_file = out / "scanned" / "hosts-dbhost.yaml"
    data = yaml.safe_load(pg_file.read_text())
    assert data["source"]["target"] == "postgres/pg01" and data["source"]["tool_version"].startswith("oslomig ")
    sizes = {d["name"]: d["size_gb"] for d in data["databases"]}
    real = int(pg.psql("SELECT pg_database_size('sales')")) / 1024**3
    assert abs(sizes["sales"] - real) < 0.002 and sizes["sales"] > 0.02  # ~30 MB of rows
    host = yaml.safe_load(host_file.read_text())["hosts"][0]
    assert host["name"] == "dbhost" and host["os"] == "linux" and host["cpu_count"] >= 1 and host["disks"]
    # the scanned files merge with the hand-written ones and validate
    valid = run_cli("validate", str(out))
    assert valid.returncode == 0, valid.stdout + valid.stderr

    snapshot = tmp_path / "before"
    shutil.copytree(out, snapshot)
    pg.psql("CREATE DATABASE added_tonight")
    before = pg_file.read_bytes()
    # the second run: the PostgreSQL target is down; its old file stays, the host is rescanned, exit 1 names it
    write_targets(targets, pg, ssh_server, pg_port=1)  # nothing listens on port 1
    second = scan(targets, out)
    assert second.returncode == 1
    assert "pg01 (127.0.0.1:1): cannot reach the server" in second.stderr
    assert "1 of 2 targets scanned, 1 failed (pg01)" in second.stderr.splitlines()[-1]
    assert pg_file.read_bytes() == before
    # back up: the drift shows the database added between scans
    write_targets(targets, pg, ssh_server)
    assert scan(targets, out, "--only", "pg01", "--quiet").returncode == 0
    drift = run_cli("inventory", "diff", str(snapshot), str(out), "--format", "json")
    assert drift.returncode == 1
    report = json.loads(drift.stdout)
    assert report["databases"]["added"] == ["dbhost/" + str(pg.port) + "/added_tonight"]
    same = run_cli("inventory", "diff", str(out), str(out))
    assert same.returncode == 0 and "no drift" in same.stderr

    # no password in any output or written file
    everything = first.stdout + first.stderr + second.stdout + second.stderr + drift.stdout + drift.stderr
    for path in out.rglob("*"):
        if path.is_file():
            everything += path.read_text(errors="replace")
    assert PASSWORD not in everything


def test_wrong_password_is_login_refused_without_the_password(pg, tmp_path):
    targets = tmp_path / "t.yaml"
    targets.write_text(
        "kind: scan-targets\npostgres:\n  - "
        f"{{name: pgbad, host: 127.0.0.1, port: {pg.port}, username: inventory, password_env: OSLOMIG_BAD_PW, "
        "timeout_s: 10}\n"
    )
    wrong = PASSWORD + "-wrong"
    proc = run_cli(
        "inventory", "scan", "--targets", str(targets), "--out", str(tmp_path / "o"), env={"OSLOMIG_BAD_PW": wrong}
    )
    assert proc.returncode == 1
    assert f"pgbad (127.0.0.1:{pg.port}): login refused for inventory" in proc.stderr
    assert wrong not in proc.stderr + proc.stdout and PASSWORD not in proc.stderr


def test_lock_prevents_two_scans_of_one_directory(tmp_path):
    import fcntl

    out = tmp_path / "inv"
    out.mkdir()
    holder = open(out / ".oslomig-scan.lock", "a+")  # noqa: SIM115 (held across the test)
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    holder.write("pid 4242 since earlier\n")
    holder.flush()
    targets = tmp_path / "t.yaml"
    targets.write_text(
        "kind: scan-targets\npostgres:\n  - {name: p, host: 127.0.0.1, port: 1, username: u, password_env: X}\n"
    )
    proc = run_cli("inventory", "scan", "--targets", str(targets), "--out", str(out))
    assert proc.returncode == 2 and "another scan is writing" in proc.stderr and "pid 4242" in proc.stderr
    holder.close()


def test_targets_run_concurrently(tmp_path):
    """Four targets are in flight at once: each waits at a barrier that opens only when all four have arrived
    (run one after the other, the first would wait alone and fail). No wall-clock assertion."""
    import threading

    from oslomig.models import PostgresTarget
    from oslomig.scanning.runner import run_targets

    barrier = threading.Barrier(4, timeout=20)

    def scan_together(kind, target):
        barrier.wait()
        return {"databases": []}

    jobs = [
        ("postgres", PostgresTarget(name=f"p{i}", host="h", username="u", password_env="X", timeout_s=60))
        for i in range(4)
    ]
    results = run_targets(jobs, tmp_path, workers=8, scan=scan_together)
    assert [r.ok for r in results] == [True] * 4, [r.message for r in results]
    # and with two workers the same four cannot all meet: the barrier breaks, every target fails and says why
    barrier2 = threading.Barrier(4, timeout=1)

    def scan_two_at_a_time(kind, target):
        barrier2.wait()
        return {"databases": []}

    results = run_targets(jobs, tmp_path, workers=2, scan=scan_two_at_a_time)
    assert not any(r.ok for r in results)


def test_a_hanging_target_times_out_and_the_others_finish(tmp_path):
    from oslomig.models import PostgresTarget
    from oslomig.scanning.runner import run_targets

    def scan_(kind, target):
        if target.name == "hangs":
            time.sleep(60)
        return {"databases": []}

    jobs = [
        ("postgres", PostgresTarget(name="hangs", host="h", username="u", password_env="X", timeout_s=0.5)),
        ("postgres", PostgresTarget(name="fine", host="h", username="u", password_env="X")),
    ]
    results = {r.name: r for r in run_targets(jobs, tmp_path, scan=scan_)}
    assert results["fine"].ok and not results["hangs"].ok and "timed out" in results["hangs"].message
