from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import nasty_tree
import pytest
from conftest import ROOT, run_cli

TODAY = "2021-04-20"


def read_manifest(out: Path) -> list[dict]:
    with (out / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def check_manifest(rows: list[dict], expect: dict[bytes, tuple[str, set[str]]]) -> None:
    shown = {nasty_tree_display(k): v for k, v in expect.items()}
    paths = [r["source_path"] for r in rows]
    assert len(paths) == len(set(paths)), "every file exactly once"
    assert sorted(paths) == sorted(shown), set(paths) ^ set(shown)
    for r in rows:
        action, reasons = shown[r["source_path"]]
        got = set(r["reasons"].split(";")) - {""}
        assert reasons == got, (r["source_path"], reasons, got)
        assert r["action"] == action, (r["source_path"], action, r["action"], got)


def nasty_tree_display(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace")


@pytest.fixture
def world_readable_tmp():
    """A temp dir others can enter: CI runs as root and the unreadable-directory check runs as `nobody`."""
    base = Path(tempfile.mkdtemp(prefix="oslomig-share-", dir="/tmp"))
    os.chmod(base, 0o755)
    yield base
    for dirpath, dirnames, _ in os.walk(base):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o755)
    shutil.rmtree(base, ignore_errors=True)


def _as_unprivileged(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd  # chmod 000 already stops us
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop privileges to test an unreadable directory")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]


def test_nasty_tree_local(world_readable_tmp):
    tree = world_readable_tmp / "share"
    expect = nasty_tree.build(tree)
    expect.update(nasty_tree.add_unreadable(tree))
    work = world_readable_tmp / "work"
    work.mkdir()
    os.chmod(work, 0o777)
    plan = work / "plan.yaml"
    plan.write_text(nasty_tree.plan_yaml(str(tree)), encoding="utf-8")
    db = work / "scan.sqlite"
    env = {**os.environ, "NO_COLOR": "1", "HOME": str(work), "PYTHONDONTWRITEBYTECODE": "1"}
    scan = subprocess.run(
        _as_unprivileged([sys.executable, "-m", "oslomig", "share", "scan", "--plan", str(plan), "--db", str(db)]),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert scan.returncode == 0, scan.stderr
    assert "1 problem(s) recorded" in scan.stderr  # the locked directory
    out = work / "out"
    proc = run_cli("share", "manifest", "--plan", str(plan), "--db", str(db), "--out", str(out), "--today", TODAY)
    assert proc.returncode == 0, proc.stderr
    rows = read_manifest(out)
    check_manifest(rows, expect)
    by_path = {r["source_path"]: r for r in rows}
    assert by_path['chars/a"b.txt']["target_path"] == "chars/a_b.txt"  # first in path order keeps the name
    later = sorted(f"chars/a{ch}b.txt" for ch in "*:<>?\\|")
    assert [by_path[p]["target_path"] for p in later] == [f"chars/a_b ({n}).txt" for n in range(2, 9)]
    assert by_path["rapporter/budsjett.xlsx"]["target_path"] == "rapporter/budsjett (2).xlsx"
    assert by_path["trim/x.txt "]["target_path"] == "trim/x (2).txt"
    assert by_path["fileorfolder/name/inner.txt"]["target_path"] == "fileorfolder/name (2)/inner.txt"
    # no two rows that land in SharePoint share a target path, compared as SharePoint compares names
    landing = [r["target_path"].lower() for r in rows if r["action"] != "skip"]
    assert len(landing) == len(set(landing))
    assert by_path[" lead.txt"]["target_path"] == "lead.txt"
    assert by_path["latin/caf\\xe9.txt"]["target_path"] == "latin/café.txt"
    # review files hold just the rows to decide on; summary adds up
    review = list(csv.DictReader((out / "review-nasty.csv").open(encoding="utf-8")))
    assert sorted(r["source_path"] for r in review) == sorted(p for p, r in by_path.items() if r["action"] == "review")
    summary = list(csv.DictReader((out / "summary.csv").open(encoding="utf-8")))
    assert (
        sum(
            int(r["files"])
            for r in summary
            if r["reason"] in ("JUNK", "SYMLINK", "ROUTED_SKIP") and r["action"] == "skip"
        )
        >= 6
    )
    assert "nasty" in proc.stdout and "review" in proc.stdout  # the totals table


def test_file_vanishing_mid_scan_is_recorded(tmp_path):
    from oslomig.shares.scan import scan_local
    from oslomig.shares.store import ScanStore

    (tmp_path / "share" / "d").mkdir(parents=True)
    (tmp_path / "share" / "d" / "stays.txt").write_text("a")
    (tmp_path / "share" / "d" / "goes.txt").write_text("b")

    def delete_after_listing(path: bytes, entries) -> None:
        if path.endswith(b"/d"):
            os.unlink(os.path.join(path, b"goes.txt"))

    store = ScanStore(tmp_path / "s.sqlite")
    result = scan_local(store, "s", str(tmp_path / "share"), after_listing=delete_after_listing)
    assert result.files == 1 and result.problems == 1
    rows = store.db.execute("SELECT path, kind FROM problems").fetchall()
    assert rows == [(b"d/goes.txt", "vanished")]


def test_rescan_replaces_and_interrupted_scan_keeps_previous(tmp_path):
    from oslomig.shares.scan import scan_local
    from oslomig.shares.store import ScanStore

    share = tmp_path / "share"
    share.mkdir()
    (share / "one.txt").write_text("1")
    store = ScanStore(tmp_path / "s.sqlite")
    scan_local(store, "s", str(share))
    (share / "two.txt").write_text("2")

    def interrupt(path, entries):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan_local(store, "s", str(share), after_listing=interrupt)
    scan_id = store.latest_scan("s")[0]
    assert [r[0] for r in store.iter_files(scan_id)] == [b"one.txt"]
    scan_local(store, "s", str(share))
    scan_id = store.latest_scan("s")[0]
    assert [r[0] for r in store.iter_files(scan_id)] == [b"one.txt", b"two.txt"]
    assert store.db.execute("SELECT count(*) FROM scans").fetchone()[0] == 1


def test_a_new_scan_file_has_large_pages_and_one_from_before_keeps_its_own(tmp_path):
    """A new scan file gets PAGE_SIZE pages and a write-ahead log of WAL_BYTES before it is copied in; a scan file
    from before (4 KiB pages, its rows in it) keeps its pages, its rows, and takes a new scan beside them."""
    from oslomig.shares.scan import scan_local
    from oslomig.shares.store import PAGE_SIZE, WAL_BYTES, ScanStore

    share = tmp_path / "share"
    share.mkdir()
    (share / "one.txt").write_text("1")
    new = ScanStore(tmp_path / "new.sqlite")
    assert new.db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE > 4096
    assert new.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_BYTES // PAGE_SIZE
    new.close()

    old = tmp_path / "old.sqlite"
    db = sqlite3.connect(old)
    db.execute("PRAGMA page_size=4096")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE scans (id INTEGER PRIMARY KEY, share TEXT NOT NULL, source TEXT NOT NULL, "
        "started_at REAL NOT NULL, finished_at REAL, files INTEGER DEFAULT 0, problems INTEGER DEFAULT 0)"
    )
    db.execute(
        "CREATE TABLE files (scan_id INTEGER NOT NULL, path BLOB NOT NULL, kind TEXT NOT NULL, size INTEGER "
        "NOT NULL, mtime REAL NOT NULL, owner TEXT, prefix_hash TEXT, full_hash TEXT, "
        "PRIMARY KEY (scan_id, path)) WITHOUT ROWID"
    )
    db.execute("CREATE TABLE problems (scan_id INTEGER NOT NULL, path BLOB NOT NULL, kind TEXT NOT NULL, message TEXT)")
    db.execute("INSERT INTO scans VALUES (1, 'other', '/x', 1.0, 2.0, 1, 0)")
    db.execute("INSERT INTO files VALUES (1, x'6f6c64', 'file', 3, 1.0, 'root', NULL, NULL)")
    db.commit()
    db.close()
    store = ScanStore(old)
    assert store.db.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_BYTES // 4096
    scan_local(store, "s", str(share))
    assert [r[0] for r in store.iter_files(store.latest_scan("s")[0])] == [b"one.txt"]
    assert [r[0] for r in store.iter_files(1)] == [b"old"]
    store.close()


def _synced(monkeypatch) -> list[str]:
    """The files and folders os.fsync is called on, by name, as they are synced."""
    synced: list[str] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real(fd))
    return synced


def test_a_new_scan_file_is_synced_once_when_closed_and_one_from_before_by_sqlite(tmp_path, monkeypatch):
    """A scan file this run creates is written without waiting for the disk (its connections, the writer's too,
    synchronous OFF); the flusher copies the log into the file while the scan goes on; and closing it syncs the
    file, after SQLite has closed it, and then its folder. A file from before keeps SQLite's own syncs (NORMAL) and
    is not synced again."""
    from oslomig.shares.scan import Writer, scan_local
    from oslomig.shares.store import ScanStore

    share = tmp_path / "share"
    share.mkdir()
    for i in range(12):
        (share / f"{i}.txt").write_text("x" * i)
    monkeypatch.setattr("oslomig.shares.found.FoundChunks.CHUNK", 32)  # chunks enough to start the writer's thread
    modes: list[int] = []
    start = Writer._start
    monkeypatch.setattr(
        Writer,
        "_start",
        lambda self: start(self) or modes.append(self.own.db.execute("PRAGMA synchronous").fetchone()[0]),
    )
    synced = _synced(monkeypatch)
    path = tmp_path / "new.sqlite"
    store = ScanStore(path)
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
    scan_local(store, "s", str(share))  # its listing's rows flushed behind it
    store._join_flusher()
    assert modes == [0] and synced == [str(path)]
    closed = store.db.close
    monkeypatch.setattr(store, "db", type("Db", (), {"close": lambda self: synced.append("closed") or closed()})())
    store.close()
    assert synced == [str(path), "closed", str(path), str(tmp_path)]

    synced.clear()
    modes.clear()
    again = ScanStore(path)
    assert again.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    scan_local(again, "s", str(share))
    again.flush_behind()  # nothing to do: SQLite syncs a file from before at its checkpoints
    again.close()
    assert modes == [1] and synced == []
    assert [r[0] for r in ScanStore(path).iter_files(1)] == []  # the second scan replaced the first


def test_the_flusher_copies_the_log_into_a_new_file_and_syncs_it(tmp_path, monkeypatch):
    """`flush_behind`: the rows in the write-ahead log (a new file's second scan: its first was finished) are copied
    into the file and the file synced, by a thread, while the scan goes on."""
    from oslomig.shares.store import ScanStore

    synced = _synced(monkeypatch)
    path = tmp_path / "new.sqlite"
    store = ScanStore(path)
    store.finish_scan(store.begin_scan("s", "/x"), "s")
    store.add_files(store.begin_scan("t", "/y"), [(b"%06d" % i, "file", i, 0.0, None) for i in range(3000)], None)
    size = store.db.execute("PRAGMA page_count").fetchone()[0] * store.db.execute("PRAGMA page_size").fetchone()[0]
    assert os.path.getsize(path) < size  # the rows are in the log
    store.flush_behind()
    store._join_flusher()
    assert os.path.getsize(path) == size and synced == [str(path)]
    store.close()


def test_a_scan_file_that_cannot_be_synced_is_a_plain_sentence(tmp_path, monkeypatch):
    from oslomig.errors import OslomigError
    from oslomig.shares.store import ScanStore

    store = ScanStore(tmp_path / "new.sqlite")

    def failing(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(OslomigError, match=r"^cannot write the scan database .*new\.sqlite: Input/output error$"):
        store.close()


def test_a_new_scan_file_left_without_a_scan_is_removed_not_synced(tmp_path, monkeypatch):
    from oslomig.shares.store import ScanStore

    synced = _synced(monkeypatch)
    store = ScanStore(tmp_path / "new.sqlite")
    store.flush_behind()
    store.discard_if_empty()
    store.close()
    assert sorted(os.listdir(tmp_path)) == [] and synced == [str(tmp_path / "new.sqlite")]  # the flusher's alone


def test_only_size_collisions_are_hashed(tmp_path):
    from oslomig.shares.scan import scan_local
    from oslomig.shares.store import ScanStore

    share = tmp_path / "share"
    share.mkdir()
    (share / "a").write_bytes(b"x" * 10000)
    (share / "b").write_bytes(b"x" * 10000)
    (share / "c").write_bytes(b"x" * 9999 + b"y")  # same size and prefix, different end
    (share / "d").write_bytes(b"unique size")
    store = ScanStore(tmp_path / "s.sqlite")
    scan_local(store, "s", str(share))
    rows = {r[0]: r for r in store.db.execute("SELECT path, prefix_hash, full_hash FROM files")}
    assert rows[b"d"][1:] == (None, None)
    assert rows[b"a"][2] == rows[b"b"][2] != rows[b"c"][2]


def test_spmt_formats(tmp_path):
    """One SPMT task per staging root (SPEC 5.2): the root of the share's target and of each route target, read
    over the UNC path derived from spmt_source; a glob route is no task over the whole share."""
    from oslomig.models import SharePlan
    from oslomig.shares.manifest import _write_spmt, spmt_tasks

    share = {
        "id": "a",
        "source": "/srv/shares/INE/Felles",
        "spmt_source": "\\\\filsrv01\\INE\\Felles",
        "staging": "/srv/shares/INE/.staging/a",
        "target": {"site": "https://t.sharepoint.com/sites/A", "folder": "Felles"},
        "routes": [
            {"match": "Prosjekter/**", "target": {"site": "https://t.sharepoint.com/sites/P", "library": "Prosjekter"}},
            {"match": "**/*.pdf", "target": {"site": "https://t.sharepoint.com/sites/P", "library": "Prosjekter"}},
            {"match": "Arkiv/**", "action": "skip"},
        ],
    }
    bare = {"id": "b", "source": "/srv/b", "target": {"site": "https://t.sharepoint.com/sites/B"}}
    plan = SharePlan.model_validate({"kind": "share-migration", "name": "x", "shares": [share, bare]})
    tasks, warnings = spmt_tasks(plan.shares, tmp_path)
    assert tasks == [
        {
            "SourcePath": "\\\\filsrv01\\INE\\.staging\\a\\A_Documents_Felles",
            "TargetPath": "https://t.sharepoint.com/sites/A",
            "TargetList": "Documents",
            "TargetListRelativePath": "Felles",
        },
        {
            "SourcePath": "\\\\filsrv01\\INE\\.staging\\a\\P_Prosjekter",
            "TargetPath": "https://t.sharepoint.com/sites/P",
            "TargetList": "Prosjekter",
            "TargetListRelativePath": "",
        },
    ]
    assert warnings == [
        "b: no `staging:` in the share plan; give a directory on the share's volume for the hard-link staging tree "
        "(SPEC §5.2), e.g. staging: /srv/shares/.staging/b; no SPMT task for this share"
    ]
    _write_spmt(tmp_path, plan.shares, tmp_path)
    rows = list(csv.reader((tmp_path / "spmt.csv").open(encoding="utf-8", newline="")))
    assert len(rows) == 2 and all(len(r) == 6 and r[1] == r[2] == "" for r in rows)
    assert rows[0][0] == tasks[0]["SourcePath"]  # no header row
    data = json.loads((tmp_path / "spmt.json").read_text(encoding="utf-8"))
    assert data == {"Tasks": tasks}


def test_nasty_tree_over_ssh(world_readable_tmp, ssh_server):
    tree = world_readable_tmp / "share"
    expect = nasty_tree.build(tree)
    expect.update(nasty_tree.add_unreadable(tree))
    work = world_readable_tmp / "work"
    work.mkdir()
    ssh_block = f'    ssh: {{key_file: "{ssh_server.key_file}", known_hosts: "{ssh_server.known_hosts}"}}\n'
    plan = work / "plan.yaml"
    plan.write_text(nasty_tree.plan_yaml(ssh_server.url(str(tree)), ssh_block), encoding="utf-8")
    db = work / "scan.sqlite"
    scan = run_cli("share", "scan", "--plan", str(plan), "--db", str(db))
    assert scan.returncode == 0, scan.stderr
    out = work / "out"
    proc = run_cli("share", "manifest", "--plan", str(plan), "--db", str(db), "--out", str(out), "--today", TODAY)
    assert proc.returncode == 0, proc.stderr
    check_manifest(read_manifest(out), expect)
    # hashed on the server, only where sizes collide: the duplicate pair and its same-size twin
    con = sqlite3.connect(db)
    hashed = {r[0] for r in con.execute("SELECT path FROM files WHERE full_hash IS NOT NULL")}
    assert {b"dups/a-first.txt", b"dups/b-second.txt", b"dups/c-same-size.txt"} <= hashed
    assert b"big/disk.vhdx" not in hashed


def test_ssh_source_unreachable_is_a_plain_sentence(tmp_path):
    from servers import free_port

    port = free_port()
    proc = run_cli("share", "scan", f"ssh://someone@127.0.0.1:{port}/srv/x", "--db", str(tmp_path / "s.sqlite"))
    assert proc.returncode == 1
    assert f"127.0.0.1:{port}: connection refused (no SSH server listening)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_invalid_chars_review_leaves_names_alone_and_asks_a_person(tmp_path):
    """`invalid_chars: review`: a name SharePoint refuses is not renamed but sent to review; `replace` renames it."""
    share = tmp_path / "share"
    share.mkdir()
    (share / "a:b.txt").write_text("x")
    (share / "ok.txt").write_text("yy")
    db = tmp_path / "s.sqlite"
    for policy, action, target in (("review", "review", "a:b.txt"), ("replace", "migrate", "a_b.txt")):
        plan = tmp_path / f"{policy}.yaml"
        plan.write_text(
            f"kind: share-migration\nname: x\npolicy: {{invalid_chars: {policy}}}\nshares:\n  - id: s\n"
            "    source: share\n    spmt_source: '\\\\srv\\s'\n    target: {site: https://t.sharepoint.com/sites/S}\n",
            encoding="utf-8",
        )
        assert run_cli("share", "scan", "--plan", str(plan), "--db", str(db)).returncode == 0
        out = tmp_path / f"out-{policy}"
        proc = run_cli(
            "share", "manifest", "--plan", str(plan), "--db", str(db), "--out", str(out), "--today", "2021-04-20"
        )
        assert proc.returncode == 0, proc.stderr
        rows = {r["source_path"]: r for r in read_manifest(out)}
        assert (rows["a:b.txt"]["action"], rows["a:b.txt"]["reasons"]) == (action, "INVALID_CHARS")
        assert rows["a:b.txt"]["target_path"] == target
        assert rows["ok.txt"]["action"] == "migrate"


@pytest.mark.parametrize("wanted", [1, 64, 65, 300])
def test_files_of_sizes_bound_or_in_a_table_are_the_files_of_those_sizes(tmp_path, wanted):
    """A few sizes are bound in the statement, more go to a temporary table: either way the files (not symlinks) of
    those sizes, in key order, from this scan only."""
    from oslomig.shares.store import FEW_SIZES, ScanStore

    assert 1 <= FEW_SIZES < 300  # the cases fall on both sides of the line
    store = ScanStore(tmp_path / "s.sqlite")
    scans = [store.begin_scan("s", "/s"), store.begin_scan("t", "/t")]
    rows = [
        (f"d{k % 7}/f{k:04d}".encode(), "symlink" if k % 5 == 0 else "file", k % 400, 1.0, "root") for k in range(2000)
    ]
    for scan_id in scans:
        store.add_files(scan_id, rows, column=None)
    sizes = set(range(1, wanted + 1)) | ({999} if wanted > 100 else set())  # 999: a size no file has
    expected = sorted((path, size) for path, kind, size, _mtime, _owner in rows if kind == "file" and size in sizes)
    assert expected and store.files_of_sizes(scans[0], sizes) == expected
    batches = list(store.batches_of_sizes(scans[0], sizes, 7))  # as an SSH scan sends them, a batch at a time
    assert [len(b) for b in batches] == [7] * (len(expected) // 7) + ([len(expected) % 7] if len(expected) % 7 else [])
    assert [row for batch in batches for row in batch] == expected
    assert not store.db.in_transaction  # the temporary table's transaction ended with the last batch
    store.close()


@pytest.mark.parametrize("fail", [False, True])
def test_batches_commit_every_few_and_a_failure_rolls_back_only_the_open_ones(tmp_path, fail):
    """`commits_every(2)`: five batches written, each one's rows by `add_files` inside the open transaction; what
    another connection sees is committed two batches at a time, and an exception after the fifth rolls back the
    fifth alone, leaving no transaction open. Without one, all five are in."""
    from oslomig.shares.store import ScanStore

    store = ScanStore(tmp_path / "s.sqlite")
    scan_id = store.begin_scan("s", "/s")
    other = sqlite3.connect(tmp_path / "s.sqlite")
    seen = []
    with contextlib.suppress(KeyboardInterrupt), store.commits_every(2) as written:
        for b in range(5):
            store.add_files(scan_id, [(f"b{b}/f{k}".encode(), "file", k, 1.0, "root") for k in range(3)], column=None)
            written()
            seen.append(other.execute("SELECT count(*) FROM files").fetchone()[0])
        if fail:
            raise KeyboardInterrupt
    assert seen == [0, 6, 6, 12, 12]
    assert not store.db.in_transaction
    assert other.execute("SELECT count(*) FROM files").fetchone()[0] == (12 if fail else 15)
    other.close()
    store.close()


def test_a_finished_scan_counts_its_own_rows_alone_or_beside_other_shares(tmp_path):
    """`finish_scan` records the scan's row count: counted over the whole table when the scan's rows are the only
    ones left (the share's earlier scan removed first), and by the scan's id beside another share's rows."""
    from oslomig.shares.store import ScanStore

    store = ScanStore(tmp_path / "s.sqlite")

    def scan(share: str, n: int) -> int:
        scan_id = store.begin_scan(share, f"/{share}")
        store.add_files(scan_id, [(f"f{k}".encode(), "file", k, 1.0, "root") for k in range(n)], column=None)
        store.finish_scan(scan_id, share)
        return scan_id

    def recorded(scan_id: int) -> int:
        return store.db.execute("SELECT files FROM scans WHERE id = ?", (scan_id,)).fetchone()[0]

    first = scan("a", 5)
    assert recorded(first) == 5
    again = scan("a", 3)  # replaces the first: its 3 rows are then the table's only ones
    assert recorded(again) == 3 and store.db.execute("SELECT count(*) FROM files").fetchone()[0] == 3
    other = scan("b", 4)  # beside share a's rows
    assert recorded(other) == 4 and recorded(again) == 3
    assert store.db.execute("SELECT count(*) FROM files").fetchone()[0] == 7
    store.close()


def _journal(db) -> str:
    return db.execute("PRAGMA journal_mode").fetchone()[0]


def test_a_new_scan_file_has_no_journal_until_its_first_scan_is_finished(tmp_path):
    """Both connections of a new file's first scan (the scan's and its writer's thread's) write without a journal;
    once that scan is finished the file has its write-ahead log, and a file that exists has it from the start."""
    from oslomig.shares.scan import Writer
    from oslomig.shares.store import ScanStore

    path = tmp_path / "new.sqlite"
    store = ScanStore(path)
    assert store.bare and _journal(store.db) == "off"
    scan_id = store.begin_scan("s", "/x")
    writer = Writer(store, scan_id)
    for start in (0, 10, 20):  # the first batch is written here, the next by the writer's thread
        writer.add([(b"%06d" % i, "file", i, 0.0, None) for i in range(start, start + 10)])
    assert writer.own is not None and _journal(writer.own.db) == "off"
    writer.close()
    store.finish_scan(scan_id, "s")
    assert not store.bare and _journal(store.db) == "wal"
    store.close()
    again = ScanStore(path)
    assert not again.bare and _journal(again.db) == "wal"
    assert again.db.execute("SELECT count(*) FROM files").fetchone()[0] == 30
    again.close()


def test_a_failed_first_scan_starts_the_new_file_over(tmp_path, monkeypatch, capsys):
    """A new file's first scan fails after its rows are in (there is no journal to roll them back): the file starts
    over, and the plan's next share is scanned into it whole, the only scan it holds."""
    from oslomig import cli
    from oslomig.shares import scan

    for name, n in (("first", 30), ("second", 20)):
        (tmp_path / name).mkdir()
        for i in range(n):
            (tmp_path / name / f"f{i}.txt").write_bytes(b"x" * i)
    plan = tmp_path / "plan.yaml"
    target = '{site: "https://tenant.sharepoint.com/sites/x", library: Documents, folder: ""}'
    plan.write_text(
        "kind: share-migration\nname: x\nshares:\n"
        + "".join(f"  - id: {name}\n    source: {name}\n    target: {target}\n" for name in ("first", "second")),
        encoding="utf-8",
    )
    real = scan._store_listing

    def failing(store, scan_id, root, *args):
        if root.endswith(b"/first"):
            raise OSError(5, "Input/output error")
        return real(store, scan_id, root, *args)

    monkeypatch.setattr(scan, "_store_listing", failing)
    db = tmp_path / "scan.sqlite"
    with pytest.raises(SystemExit) as done:
        cli.main(["share", "scan", "--plan", str(plan), "--db", str(db)])
    assert done.value.code == 1
    assert "first" in capsys.readouterr().err
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT share, files, finished_at IS NOT NULL FROM scans").fetchall() == [("second", 20, 1)]
    assert con.execute("SELECT count(*) FROM files").fetchone()[0] == 20
    assert _journal(con) == "wal"
    con.close()


def test_abandoning_a_new_files_first_scan_starts_the_file_over_and_a_later_scan_rolls_back(tmp_path):
    from oslomig.shares.store import ScanStore

    rows = [(b"%06d" % i, "file", i, 0.0, None) for i in range(100)]
    store = ScanStore(tmp_path / "new.sqlite")
    first, old = store.begin_scan("s", "/x"), store.db
    store.db.execute("BEGIN")
    store.add_files(first, rows, None)  # inside the open transaction, as the writer's batches are
    store.abandon_scan(first)  # nothing to roll it back with: the file is made again
    with pytest.raises(sqlite3.ProgrammingError):
        old.execute("SELECT 1")
    assert store.bare and _journal(store.db) == "off"
    assert store.db.execute("SELECT count(*) FROM scans").fetchone()[0] == 0
    kept = store.begin_scan("s", "/x")
    store.add_files(kept, rows, None)
    store.finish_scan(kept, "s")
    later, db = store.begin_scan("t", "/y"), store.db
    store.db.execute("BEGIN")
    store.add_files(later, rows, None)
    store.abandon_scan(later)  # the log rolls it back: the file and the finished scan stay
    assert store.db is db and store.db.execute("SELECT share, files FROM scans").fetchall() == [("s", 100)]
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()
