"""Each class of bad input from the hardening issue ends cleanly: exit 0/1/2/130, a plain sentence, nothing written
outside --out, modes kept (SPEC §1, §8). The YAML-level classes are data cases in cases/validate/bad/."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT, run_cli
from test_shares import world_readable_tmp  # noqa: F401 (a fixture)

PLAN = "plans/sql-2021.yaml"
TODAY = "2021-04-20"


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert proc.returncode in (0, 1, 2, 130), (proc.returncode, proc.stderr)


def tree(base: Path) -> set[str]:
    return {str(p.relative_to(base)) for p in base.rglob("*")}


# ------------------------------------------------------------ names from ids

EVIL_IDS = ["../../../x", "a/b/c", "line\nbreak", "tab\there", "x" * 300, "..", ".hidden", "Økonomi æøå"]


@pytest.fixture(scope="module")
def evil_estate(tmp_path_factory):
    """The minimal example estate with one system per evil id, each with a contact and a database."""
    base = tmp_path_factory.mktemp("evil")
    inv = base / "inventories"
    inv.mkdir()
    systems, dbs = [], []
    for i, sid in enumerate(EVIL_IDS):
        systems.append(
            {
                "id": sid,
                "agency": "UKE",
                "contacts": [{"name": f"Kontakt {i}", "email": f"k{i}@example.org"}],
                "databases": [f"h{i}/I/db"],
            }
        )
        dbs.append({"id": f"h{i}/I/db", "instance": f"h{i}/I", "size_gb": 10, "environment": "prod"})
    estate = {
        "agencies": [{"id": "UKE"}],
        "systems": systems,
        "hosts": [{"name": f"h{i}"} for i in range(len(EVIL_IDS))],
        "instances": [{"id": f"h{i}/I", "engine": "sqlserver", "host": f"h{i}"} for i in range(len(EVIL_IDS))],
        "databases": dbs,
    }
    (inv / "estate.yaml").write_text(json.dumps(estate, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    plans = base / "plans"
    plans.mkdir()
    (plans / "plan.yaml").write_text(
        "kind: database-migration\nname: Evil ids\nperiod: {start: 2021-05-03, end: 2021-06-30}\n"
        "windows: [{name: w, weekdays: [tue, thu], start: '18:00', hours: 10, parallel: 8}]\n",
        encoding="utf-8",
    )
    return base


def test_notices_never_write_outside_out_and_every_name_is_safe(evil_estate, tmp_path):
    out = tmp_path / "deep" / "out" / "notices"
    before = tree(tmp_path)
    proc = run_cli("notices", "--plan", str(evil_estate / "plans" / "plan.yaml"), "--today", TODAY, "--out", str(out))
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    written = tree(tmp_path) - before
    assert all(w == "deep" or w.startswith("deep/out") for w in written), written
    files = sorted(p.name for p in out.iterdir())
    assert all(p.is_file() for p in out.iterdir())  # no folder was made from an id
    with (out / "notices.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(EVIL_IDS)  # one notice per system: the 300-character one too
    assert sorted(r["file"] for r in rows) == sorted(f for f in files if f.endswith(".txt"))
    assert len({r["file"] for r in rows}) == len(rows)  # unique
    assert all(len(f.encode()) <= 255 and "\n" not in f and "\t" not in f for f in files)
    assert {r["system"] for r in rows} == set(EVIL_IDS)  # the id itself is kept as data
    assert "Økonomi-æøå" in "".join(files)  # readable where it can be


def test_a_notice_set_is_written_all_or_nothing(evil_estate, tmp_path):
    """A file that cannot be written (a directory squats on one notice's name) leaves the earlier set as it was."""
    out = tmp_path / "notices"
    first = run_cli("notices", "--plan", str(evil_estate / "plans" / "plan.yaml"), "--today", TODAY, "--out", str(out))
    assert first.returncode == 0
    snapshot = {p.name: p.read_bytes() for p in out.iterdir()}
    victim = sorted(n for n in snapshot if n.endswith(".txt"))[3]
    (out / victim).unlink()
    (out / victim).mkdir()
    second = run_cli(
        "notices",
        "--plan",
        str(evil_estate / "plans" / "plan.yaml"),
        "--today",
        TODAY,
        "--out",
        str(out),
        "--lang",
        "en",
    )
    no_traceback(second)
    assert second.returncode == 2 and "is a directory" in second.stderr
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == {k: v for k, v in snapshot.items() if k != victim}  # nothing of the new set landed
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


# ------------------------------------------------------------ what a write may replace


def test_out_refuses_a_device_a_directory_and_a_symlink(tmp_path):
    for target, words in ((Path("/dev/full"), "not a regular file"), (tmp_path, "is a directory")):
        proc = run_cli("schedule", "--plan", PLAN, "--today", TODAY, "--format", "json", "--out", str(target))
        no_traceback(proc)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # still the device
    link = tmp_path / "link.json"
    real = tmp_path / "real.json"
    real.write_text("keep")
    link.symlink_to(real)
    proc = run_cli("schedule", "--plan", PLAN, "--today", TODAY, "--format", "json", "--out", str(link))
    assert proc.returncode == 2 and "symbolic link" in proc.stderr
    assert real.read_text() == "keep" and link.is_symlink()


def test_out_under_a_regular_file_or_in_an_unwritable_place_exits_2(tmp_path):
    (tmp_path / "file").write_text("x")
    for target in (tmp_path / "file" / "s.json", Path("/proc/oslomig-cannot-write-here.json")):
        proc = run_cli("schedule", "--plan", PLAN, "--today", TODAY, "--format", "json", "--out", str(target))
        no_traceback(proc)
        assert proc.returncode == 2 and proc.stderr.startswith("error: "), proc.stderr


def test_new_files_get_the_umask_mode_and_overwritten_files_keep_theirs(tmp_path):
    from oslomig.atomic import write_text

    old = os.umask(0o027)
    try:
        write_text(tmp_path / "new.txt", "a")
        assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o640
        shared = tmp_path / "shared.csv"
        shared.write_text("old")
        os.chmod(shared, 0o664)
        write_text(shared, "new")
        assert stat.S_IMODE(os.stat(shared).st_mode) == 0o664 and shared.read_text() == "new"
    finally:
        os.umask(old)


WRITER = r"""
import sys, time
from oslomig.atomic import atomic_open
with atomic_open(sys.argv[1]) as handle:
    handle.write("half-")
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
    handle.write("written")
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_atomic_write_keeps_the_previous_file(tmp_path, sig):
    """A real process is stopped in the middle of a write: the previous file stays whole."""
    target = tmp_path / "out.csv"
    target.write_text("previous, complete\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # the half-written temp file exists now
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert target.read_text() == "previous, complete\n"
    if sig == signal.SIGINT:  # a Python-level interrupt also cleans up its temp file
        assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


# ------------------------------------------------------------ arguments


def _held_syncs(monkeypatch, fail: bool = False):
    """os.fdatasync replaced: each call records the file's size on disk, then waits until the test lets it go
    (`release`), then checks its descriptor is still open (or fails, when `fail`). No timing is assumed."""
    seen: list = []
    release = threading.Event()

    def fdatasync(fd: int) -> None:
        seen.append(os.fstat(fd).st_size)
        assert release.wait(30), "the test never let the sync go"
        if fail:
            raise OSError(28, "No space left on device")
        try:
            os.fstat(fd)
        except OSError as exc:
            seen.append(exc)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    return seen, release


def _until(condition) -> None:
    import time

    deadline = time.monotonic() + 30
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_big_output_is_synced_behind_its_writer_and_never_closed_under_a_sync(tmp_path, monkeypatch):
    from oslomig.atomic import SyncBehind, atomic_open

    seen, release = _held_syncs(monkeypatch)
    target = tmp_path / "manifest.csv"
    lines = [f"{k:04d}," + "x" * 295 + "\r\n" for k in range(40)]  # 302 bytes each; a sync every 1,000
    with atomic_open(target, newline="") as handle, SyncBehind(handle, every=1000) as behind:
        for line in lines[:4]:
            handle.write(line)
            behind.wrote(len(line))
        _until(lambda: seen)
        assert seen == [4 * 302]  # the bytes written so far were flushed before the sync began
        for line in lines[4:24]:  # five more marks while that sync runs: each skipped, none waited for
            handle.write(line)
            behind.wrote(len(line))
        assert seen == [4 * 302]
        release.set()
        _until(lambda: behind.pending is not None and behind.pending.done())
        release.clear()
        for line in lines[24:]:  # the next write starts the next sync, with everything written before it
            handle.write(line)
            behind.wrote(len(line))
        _until(lambda: len(seen) == 2)
        assert seen == [4 * 302, 25 * 302]  # at the first write after the first sync ended
        threading.Timer(0.3, release.set).start()  # the last sync still runs when the block is left
    assert target.read_bytes().decode() == "".join(lines)
    assert seen == [4 * 302, 25 * 302]  # and no sync saw its file closed under it


def test_a_failed_sync_behind_the_writer_keeps_the_previous_file(tmp_path, monkeypatch):
    from oslomig.atomic import SyncBehind, atomic_open

    _seen, release = _held_syncs(monkeypatch, fail=True)
    release.set()
    target = tmp_path / "manifest.csv"
    target.write_text("previous, complete\n")
    with pytest.raises(OSError, match="No space"), atomic_open(target) as handle, SyncBehind(handle, 10) as behind:
        handle.write("x" * 20)
        behind.wrote(20)
    assert target.read_text() == "previous, complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.csv"]
    # an error of the writer's own goes on, not the sync's
    with pytest.raises(KeyboardInterrupt), atomic_open(target) as handle, SyncBehind(handle, 10) as behind:
        handle.write("x" * 20)
        behind.wrote(20)
        raise KeyboardInterrupt
    assert target.read_text() == "previous, complete\n"


@pytest.mark.parametrize("today", ["garbage", "2021-02-30", "", "20210420"])
def test_bad_today_exits_2(today):
    proc = run_cli("schedule", "--plan", PLAN, "--today", today)
    no_traceback(proc)
    assert proc.returncode == 2 and "--today" in proc.stderr


def test_a_bad_through_date_is_named_as_through(tmp_path):
    proc = run_cli("announce", "--plan", PLAN, "--through", "2021-02-30", "--today", "2021-04-20")
    no_traceback(proc)
    assert proc.returncode == 2 and "--through '2021-02-30' is not a date" in proc.stderr, proc.stderr


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_inventory_scan_refuses_zero_workers(workers, tmp_path):
    proc = run_cli(
        "inventory",
        "scan",
        "--targets",
        "plans/scan-targets.yaml",
        "--out",
        str(tmp_path),
        "--workers",
        workers,
        timeout=30,
    )
    assert proc.returncode == 2 and "--workers" in proc.stderr


def test_debug_works_after_the_subcommand(tmp_path):
    bad = tmp_path / "s.json"
    bad.write_text(json.dumps({"assignments": [{"group": "G"}]}))
    for args in (["--debug", "verify"], ["verify", "--debug"]):
        proc = run_cli(*args, "--plan", PLAN, "--schedule", str(bad))
        assert proc.returncode == 2 and "assignments[0]" in proc.stderr, proc.stderr
        assert "No such option" not in proc.stderr


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"assignments": {}},
        {"assignments": [1]},
        {
            "assignments": [
                {"group": "G", "window": "w", "start": "x", "end": "y", "estimated_hours": 1, "databases": []}
            ]
        },
        {"assignments": [], "today": "never"},
        {"assignments": [], "unscheduled": ["G-1"]},
        {"assignments": [], "unscheduled": {}},
    ],
)
def test_verify_with_a_schedule_of_the_wrong_shape_exits_2(payload, tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(payload))
    proc = run_cli("verify", "--plan", PLAN, "--schedule", str(path))
    no_traceback(proc)
    assert proc.returncode == 2 and "expected the JSON of `oslomig schedule --format json`" in proc.stderr


def test_verify_names_databases_the_inventory_does_not_know(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {
                "today": TODAY,
                "assignments": [
                    {
                        "group": "G-x",
                        "window": "weeknight",
                        "start": "2021-05-11T18:00:00+02:00",
                        "end": "2021-05-12T04:00:00+02:00",
                        "estimated_hours": 1.0,
                        "databases": ["nowhere/X/Y"],
                    }
                ],
                "unscheduled": [],
            }
        )
    )
    proc = run_cli("verify", "--plan", PLAN, "--schedule", str(path))
    no_traceback(proc)
    assert proc.returncode == 1 and "G-x: nowhere/X/Y is not in the inventory" in proc.stdout


# ------------------------------------------------------------ share scans and the scan database


def test_db_that_is_a_device_a_directory_or_not_sqlite_exits_2(tmp_path):
    src = tmp_path / "share"
    src.mkdir()
    (src / "a.txt").write_text("a")
    notdb = tmp_path / "notes.txt"
    notdb.write_text("just text, not a database\n" * 10)
    for db, words in (
        (Path("/dev/null"), "not a regular file"),
        (tmp_path, "is a directory"),
        (notdb, "not an SQLite"),
    ):
        proc = run_cli("share", "scan", str(src), "--db", str(db))
        no_traceback(proc)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert not os.path.exists("/dev/null-journal") and not os.path.exists("/dev/null-wal")
    assert notdb.read_text().startswith("just text")


def test_a_malformed_scan_database_says_what_to_do_and_is_left_alone(tmp_path):
    """A scan file whose pages are broken (a new one the machine stopped while writing it, unsynced) is one sentence
    that says to remove it and scan again; the file is not touched."""
    from oslomig.shares.store import ScanStore

    src = tmp_path / "share"
    src.mkdir()
    db = tmp_path / "scan.sqlite"
    store = ScanStore(db)
    store.finish_scan(store.begin_scan("s", str(src)), "s")
    store.close()
    data = bytearray(db.read_bytes())
    data[100:108] = b"\x0d\x00\x00\x00\x09\xff\xff\x00"  # the first page's B-tree header: cells past its end
    db.write_bytes(bytes(data))
    proc = run_cli("share", "scan", str(src), "--db", str(db))
    no_traceback(proc)
    assert proc.returncode == 2, proc.stderr
    assert "database disk image is malformed" in proc.stderr and "remove it and scan again" in proc.stderr
    assert db.read_bytes() == bytes(data)


def test_scanning_a_missing_source_leaves_no_database(tmp_path):
    db = tmp_path / "scan.sqlite"
    proc = run_cli("share", "scan", str(tmp_path / "nonexistent"), "--db", str(db))
    no_traceback(proc)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_manifest_of_nothing_scanned_is_an_error(tmp_path):
    from oslomig.shares.store import ScanStore

    db = tmp_path / "empty.sqlite"
    ScanStore(db).close()
    out = tmp_path / "out"
    proc = run_cli("share", "manifest", "--plan", "plans/demo-shares.yaml", "--db", str(db), "--out", str(out))
    no_traceback(proc)
    assert proc.returncode == 2 and "has been scanned" in proc.stderr
    assert not out.exists()


def test_ctrl_c_while_hashing_exits_130_and_keeps_the_previous_scan(tmp_path, monkeypatch):
    """KeyboardInterrupt raised inside a hashing batch (inside an open transaction): the scan is abandoned cleanly,
    the previous scan is intact, and the CLI maps it to 130."""
    from oslomig import cli as cli_module
    from oslomig.commands import shares
    from oslomig.console import Env
    from oslomig.shares import scan as scan_module
    from oslomig.shares.store import ScanStore

    src = tmp_path / "share"
    src.mkdir()
    for i in range(40):
        (src / f"f{i:02}.bin").write_bytes(bytes([i]) * 5000)  # one size: every file is hashed
    db = tmp_path / "scan.sqlite"
    env = Env(stdout=io.StringIO(), stderr=io.StringIO())
    assert shares.run_scan(None, str(src), [], db, env) == 0
    (src / "new.txt").write_text("added after the first scan")

    real = scan_module._hash_path
    calls = {"n": 0}

    def interrupted(path, size, limit):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return real(path, size, limit)

    monkeypatch.setattr(scan_module, "_hash_path", interrupted)
    monkeypatch.setattr(scan_module, "BATCH", 3)  # the interrupt lands with a batch transaction just behind it
    with pytest.raises(SystemExit) as exit_:
        cli_module._run(lambda: shares.run_scan(None, str(src), [], db, env))
    assert exit_.value.code == 130
    store = ScanStore(db, create=False)
    latest = store.latest_scan("share")
    paths = [r[0] for r in store.iter_files(latest[0])]
    assert latest[3] == 40 and b"new.txt" not in paths
    assert store.db.execute("SELECT count(*) FROM scans").fetchone()[0] == 1  # the interrupted one is gone
    store.close()


def test_manifest_csv_reads_back_with_cr_lf_quotes_and_commas(tmp_path):
    src = tmp_path / "share"
    src.mkdir()
    names = ["cr\rin name.txt", "lf\nin name.txt", 'quote"d.txt', "comma,name.txt", "crlf\r\n.txt", "plain.txt"]
    for i, name in enumerate(names):
        (src / name).write_bytes(b"x" * (i + 1))
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "kind: share-migration\nname: CR\nshares:\n  - id: s\n    source: share\n    spmt_source: '\\\\srv\\s'\n"
        "    target: {site: https://t.sharepoint.com/sites/S}\n",
        encoding="utf-8",
    )
    db = tmp_path / "scan.sqlite"
    assert run_cli("share", "scan", "--plan", str(plan), "--db", str(db)).returncode == 0
    proc = run_cli(
        "share", "manifest", "--plan", str(plan), "--db", str(db), "--out", str(tmp_path / "out"), "--today", TODAY
    )
    assert proc.returncode == 0, proc.stderr
    with (tmp_path / "out" / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["source_path"] for r in rows) == sorted(names)
    assert all(len(r) == 9 and None not in r for r in rows)


# ------------------------------------------------------------ inventory scans in cron


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never says a word (a hung sshd)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    th.join()
    for c in held:
        c.close()
    srv.close()


def test_a_silent_ssh_target_is_one_plain_line_and_quiet_means_the_summary(silent_server, tmp_path):
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True) if shutil.which(
        "ssh-keygen"
    ) else key.write_text("not used: the server never gets as far as authentication")
    targets = tmp_path / "targets.yaml"
    targets.write_text(
        f"kind: scan-targets\nhosts:\n  - {{name: hung, host: 127.0.0.1, port: {silent_server}, username: u, "
        f"key_file: {key}, known_hosts: {tmp_path}/kh, timeout_s: 1.5}}\n"
    )
    out = tmp_path / "out"
    loud = run_cli("inventory", "scan", "--targets", str(targets), "--out", str(out), timeout=60)
    no_traceback(loud)
    assert loud.returncode == 1
    lines = loud.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert "did not answer as an SSH server" in lines[0] and "(no earlier file)" in lines[0]
    quiet = run_cli("inventory", "scan", "--targets", str(targets), "--out", str(out), "--quiet", timeout=60)
    no_traceback(quiet)
    lines = quiet.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inventory scan: 0 of 1 targets scanned, 1 failed (hung)")
    assert "nothing" not in lines[0]


# ------------------------------------------------------------ output discipline


def test_text_problems_are_one_line_each(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text('hosts:\n  - name: h1\n    "two\\nlines": 1\n', encoding="utf-8")
    proc = run_cli("validate", str(bad))
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and "two\\nlines" in lines[0]


def test_console_colour_follows_tty_and_no_color(fake_env):
    from oslomig.problems import Problem, render_text

    tty, pipe = fake_env(tty=True), fake_env(tty=False)
    tty.warn("careful")
    pipe.warn("careful")
    assert "\x1b[33m" in tty.stderr.getvalue() and pipe.stderr.getvalue() == "warning: careful\n"
    no_colour = fake_env(tty=True)
    no_colour.no_color = True
    no_colour.error("bad")
    assert no_colour.stderr.getvalue() == "error: bad\n"
    assert tty.colour_out and not pipe.colour_out and not no_colour.colour_out
    p = [Problem("f.yaml", 1, 2, "error", "x", "m")]
    assert "\x1b[" in render_text(p, colour=tty.colour_out) and "\x1b[" not in render_text(p, colour=pipe.colour_out)
    # progress bars only on a TTY
    from oslomig.console import _NoProgress

    assert type(pipe.progress("x", 10)) is _NoProgress and type(tty.progress("x", 10)) is not _NoProgress


def test_tables_off_a_tty_are_not_cropped(fake_env):
    env = fake_env(tty=False)
    console = env.table_console()
    from rich.table import Table

    table = Table()
    table.add_column("group")
    table.add_column("long")
    table.add_row("G-d9e8ca60cb", "x" * 150)
    console.print(table)
    out = env.stdout.getvalue()
    assert "G-d9e8ca60cb" in out and "x" * 150 in out


def test_the_march_clock_change_night_has_no_0230_occurrence_and_the_verifier_agrees(cli, tmp_path):
    import datetime as dt

    from estate import make_inventory, make_plan

    from oslomig.planning.grouping import compute_groups
    from oslomig.planning.scheduling import build_schedule
    from oslomig.planning.timewindows import occurrences
    from oslomig.planning.verifier import verify_schedule

    plan = make_plan(
        period={"start": "2021-03-20", "end": "2021-04-11"},
        notice_days=0,
        windows=[{"name": "sunday-early", "weekdays": ["sun"], "start": "02:30", "hours": 3}],
    )
    days = [o.start.date() for o in occurrences(plan)]
    assert dt.date(2021, 3, 28) not in days and dt.date(2021, 3, 21) in days and dt.date(2021, 4, 4) in days
    inv = make_inventory([{"id": "h1/A/db", "instance": "h1/A", "size_gb": 100}])
    result = build_schedule(plan, inv, compute_groups(plan, inv), dt.date(2021, 3, 22)).as_json()
    assert result["assignments"][0]["start"] == "2021-04-04T02:30:00+02:00"
    assert verify_schedule(result, plan, inv, dt.date(2021, 3, 22)) == []
    tampered = json.loads(json.dumps(result))
    tampered["assignments"][0]["start"] = "2021-03-28T03:30:00+02:00"  # what the old scheduler wrote
    tampered["assignments"][0]["end"] = "2021-03-28T05:30:00+02:00"
    assert any("not an occurrence" in p for p in verify_schedule(tampered, plan, inv, dt.date(2021, 3, 22)))


def test_a_read_only_scan_database_exits_2(world_readable_tmp):  # noqa: F811 (the fixture)
    """Run as `nobody` (root writes anywhere): a scan database the user cannot write is a sentence, exit 2."""
    from test_shares import _as_unprivileged

    from oslomig.shares.store import ScanStore

    base = world_readable_tmp
    (base / "share").mkdir()
    (base / "share" / "a.txt").write_text("a")
    db = base / "scan.sqlite"
    ScanStore(db).close()
    os.chmod(db, 0o444)
    proc = subprocess.run(
        _as_unprivileged([sys.executable, "-m", "oslomig", "share", "scan", str(base / "share"), "--db", str(db)]),
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT / "src")},
    )
    no_traceback(proc)
    assert proc.returncode == 2 and "cannot write the scan database" in proc.stderr, proc.stderr


def test_atomic_refusals_say_exactly_what_is_wrong(tmp_path):
    from oslomig.atomic import check_target, ensure_dir, write_many, write_text
    from oslomig.errors import OslomigError

    (tmp_path / "file").write_text("x")
    cases = [
        (
            lambda: ensure_dir(tmp_path / "file" / "sub"),
            f"cannot create {tmp_path}/file/sub: a folder on its path is a regular file",
        ),
        (
            lambda: ensure_dir(tmp_path / "file"),
            f"cannot use {tmp_path}/file as a directory: it exists and is not a directory",
        ),
        (
            lambda: check_target(tmp_path / "file" / "x.csv"),
            f"cannot write {tmp_path}/file/x.csv: a folder on its path is a regular file",
        ),
        (lambda: write_text(tmp_path, "x"), f"cannot write {tmp_path}: it is a directory; give a file name"),
        (
            lambda: write_text(Path("/dev/null"), "x"),
            "refusing to write /dev/null: it is not a regular file (a device, pipe or socket)",
        ),
    ]
    for call, message in cases:
        with pytest.raises(OslomigError) as err:
            call()
        assert str(err.value) == message
    assert check_target(tmp_path / "new.txt") is None
    os.chmod(tmp_path / "file", 0o640)
    assert check_target(tmp_path / "file") == 0o640
    # a set whose second member cannot be written leaves no temp file and replaces nothing
    (tmp_path / "a.txt").write_text("old a")
    (tmp_path / "b.txt").mkdir()
    with pytest.raises(OslomigError):
        write_many({tmp_path / "a.txt": "new a", tmp_path / "b.txt": b"new b"})
    assert (tmp_path / "a.txt").read_text() == "old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "file"]
    write_many({tmp_path / "a.txt": "new a", tmp_path / "c.bin": b"\x00\x01"})
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "c.bin").read_bytes() == b"\x00\x01"
