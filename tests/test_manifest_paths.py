"""The manifest writes a share's rows three ways that must agree byte for byte: one row at a time (the reference),
runs of plain rows placed whole, and with the rows read and classified in a second process. A run placed whole
that should have gone row by row would give a file a name another file already has in SharePoint."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oslomig.models import SharePlan
from oslomig.shares import manifest, placement
from oslomig.shares.decisions import Decision
from oslomig.shares.manifestcsv import iso_time
from oslomig.shares.store import ScanStore

TODAY = dt.date(2021, 4, 20)
RECENT, STALE = 1.6e9, 1.0e9
# names that collide once SharePoint compares them case-insensitively (the sigmas: final and not), that need
# quotes, that the rules rename (edge spaces, ':') or skip (junk), and plain ones
NAMES = [
    "a",
    "A",
    "b",
    "ΟΔΟΣ",
    "οδος",
    "οδοσ",
    "x,y",
    "k l",
    " kant",
    "c:d",
    "Thumbs.db",
    "x.tmp",
    "~$a.docx",
    "rapport.docx",
    "RAPPORT.DOCX",
]
FOLDERS = ["", "Arkiv", "arkiv", "Felles", "FELLES", "Felles/Sub", "felles/sub", "A", "a", "Ny"]

ROW = st.tuples(
    st.sampled_from(FOLDERS),
    st.sampled_from(NAMES),
    st.sampled_from([0, 7, 7, 100, 1234, 5000]),  # size 7 often: the copies
    st.sampled_from([RECENT, RECENT, RECENT, STALE]),
    st.sampled_from(["file"] * 8 + ["symlink"]),
)
DECIDED = st.lists(st.tuples(st.integers(0, 39), st.sampled_from(["migrate", "skip"]), st.booleans()), max_size=3)
ROUTES_LIST = [
    [],
    [{"match": "Arkiv/**", "action": "skip"}],
    [{"match": "Ny/**", "target": {"site": "https://t.sharepoint.com/sites/S", "folder": "Felles"}}],
    [{"match": "Felles/**", "target": {"site": "https://t.sharepoint.com/sites/B"}}],
    [{"match": "Ny/**", "target": {"site": "https://t.sharepoint.com/sites/S", "folder": "Ny, gammel"}}],
]
ROUTES = st.sampled_from(ROUTES_LIST)
COMMA_ROUTE = 4


def _plan(routes: list, folder: str, shares: int = 1) -> SharePlan:
    """Share s, and with `shares=2` share t into the same library: t's folders are known before its first row."""
    return SharePlan.model_validate(
        {
            "kind": "share-migration",
            "name": "paths",
            "policy": {"duplicates": "review", "stale_action": "review", "stale_after_years": 5},
            "shares": [
                {
                    "id": sid,
                    "source": f"/srv/{sid}",
                    "target": {"site": "https://t.sharepoint.com/sites/S", "folder": folder},
                    "routes": routes,
                }
                for sid in "st"[:shares]
            ],
        }
    )


def _store(db: Path, rows: list[tuple]) -> None:
    """Finished scans of these rows: share s as they are, share t with "-t" after each name. Files of size 7 are
    copies of one another, as a scan hashes them."""
    store = ScanStore(db)
    for sid, end in (("s", b""), ("t", b"-t")):
        scan_id = store.begin_scan(sid, f"/srv/{sid}")
        store.add_files(scan_id, [(p + end, kind, size, mtime, None, None) for p, kind, size, mtime in rows])
        copies = [(p + end, "prefix", "full") for p, kind, size, _ in rows if size == 7 and kind == "file"]
        if len(copies) > 1:
            store.store_hashes(scan_id, copies)
        store.finish_scan(scan_id, sid)
    store.close()


def _write(plan: SharePlan, db: Path, out: Path, decisions) -> tuple[dict[str, bytes], object]:
    store = ScanStore(db, create=False)
    try:
        totals = manifest.write_manifest(plan, store, out, TODAY, plan.shares, decisions=decisions)
    finally:
        store.close()
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}, totals


def _rows(entries) -> list[tuple]:
    seen, rows = set(), []
    for folder, name, size, mtime, kind in entries:
        path = f"{folder}/{name}" if folder else name
        if path not in seen:
            seen.add(path)
            rows.append((path.encode(), kind, size, mtime))
    return rows


def _by_action(manifest_csv: bytes) -> dict[tuple[str, str], list[int]]:
    """(share, action) -> [rows, bytes], counted from the written manifest: what the totals table must say."""
    import csv
    import io

    counts: dict[tuple[str, str], list[int]] = {}
    for row in csv.DictReader(io.StringIO(manifest_csv.decode("utf-8", "surrogateescape"), newline="")):
        t = counts.setdefault((row["share"], row["action"]), [0, 0])
        t[0] += 1
        t[1] += int(row["size_bytes"])
    return counts


def _files(*pairs: tuple[str, str]) -> list[tuple]:
    return [(folder, name, 100, RECENT, "file") for folder, name in pairs]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(ROW, min_size=1, max_size=40),
    ROUTES,
    st.sampled_from(["", "Felles", "Data"]),
    st.sampled_from([1, 2, 3, 7, 50]),
    DECIDED,
    st.sampled_from([1, 2]),
)
# a run of two names that are one in SharePoint (the folder is known from the row before the junk file)
@example(_files(("Ny", "A"), ("Ny", "Thumbs.db"), ("Ny", "ΟΔΟΣ"), ("Ny", "οδος")), [], "", 50, [], 1)
# a run placed whole: two rows counted in their folder
@example(_files(("Ny", "A"), ("Ny", "Thumbs.db"), ("Ny", "b"), ("Ny", "rapport.docx")), [], "", 50, [], 1)
# a file on a folder's name, after the folder
@example(_files(("A", "b"), ("", "Thumbs.db"), ("", "a")), [], "", 50, [], 1)
# a run in a folder renamed because a file took its name first
@example(_files(("", "A"), ("a", "b"), ("a", "x,y"), ("a", "ΟΔΟΣ")), [], "", 50, [], 1)
# the second share's run spans two folders of one depth, both known from the first share
@example(_files(("A", "b"), ("Arkiv", "b")), [], "", 50, [], 2)
# skipped rows written whole: one of them decided by a contact; two whose target folder holds a comma
@example(_files(("", "Thumbs.db"), ("", "x.tmp"), ("", "~$a.docx")), [], "", 50, [(0, "skip", True)], 1)
@example(_files(("Ny", "Thumbs.db"), ("Ny", "x.tmp")), ROUTES_LIST[COMMA_ROUTE], "", 50, [], 1)
def test_runs_placed_whole_and_rows_read_in_a_second_process_write_what_one_by_one_writes(
    tmp_path_factory, monkeypatch, entries, routes, folder, batch, decided, shares
):
    tmp = tmp_path_factory.mktemp("paths")
    rows = _rows(entries)
    _store(tmp / "scan.sqlite", rows)
    plan = _plan(routes, folder, shares)
    decisions = None
    if decided:  # a contact decided some rows, as they were or as they were before they changed
        by_row = {}
        for k, action, same in decided:
            path, _kind, size, mtime = rows[k % len(rows)]
            seen = str(size if same else size + 1)
            by_row[("s", path.decode())] = Decision(action, seen, iso_time(mtime, ZoneInfo(plan.timezone)), "", "r:2")
        decisions = SimpleNamespace(by_row=by_row)

    monkeypatch.setattr(placement, "FOLDER_ITEMS", 1)  # every folder's count and the library's in summary.csv
    monkeypatch.setattr(placement, "LIBRARY_ITEMS", 1)
    monkeypatch.setattr(placement, "LIBRARY_FILES", 1)
    monkeypatch.setattr(manifest, "BULK", False)
    monkeypatch.setattr(manifest, "PARALLEL_FROM", 10**9)
    reference, ref_totals = _write(plan, tmp / "scan.sqlite", tmp / "one", decisions)
    assert {k: v for k, v in ref_totals.by_action.items() if v[0]} == _by_action(reference["manifest.csv"])
    monkeypatch.setattr(manifest, "BULK", True)
    monkeypatch.setattr(manifest, "BATCH", batch)
    whole, whole_totals = _write(plan, tmp / "scan.sqlite", tmp / "whole", decisions)
    assert whole == reference
    assert whole_totals == ref_totals
    if batch in (3, 50):  # forking costs a few milliseconds; some examples are enough
        monkeypatch.setattr(manifest, "PARALLEL_FROM", 0)
        forked, forked_totals = _write(plan, tmp / "scan.sqlite", tmp / "forked", decisions)
        assert forked == reference
        assert forked_totals == ref_totals


def _raising_on_call(monkeypatch, cls, name: str, n: int, error: BaseException) -> list:
    """`cls.name` as it was, but its `n`-th call (in this process) raises `error`; the calls made here, listed."""
    method, calls = getattr(cls, name), []

    def raising(self, *args):
        calls.append(1)
        if len(calls) == n:
            raise error
        return method(self, *args)

    monkeypatch.setattr(cls, name, raising)
    return calls


def test_an_error_in_the_reading_process_is_raised_by_the_writer(tmp_path, monkeypatch):
    """The second process dies of an error: the writer raises it (an internal error, exit 3) and leaves no
    manifest behind, not a short one."""
    _store(tmp_path / "scan.sqlite", [(f"d/f{i}".encode(), "file", 100 + i, RECENT) for i in range(50)])
    plan = _plan([], "Felles")
    monkeypatch.setattr(manifest, "PARALLEL_FROM", 0)
    monkeypatch.setattr(manifest, "BATCH", 10)
    calls = _raising_on_call(monkeypatch, manifest._Reader, "prepare", 3, ValueError("disk went away"))
    with pytest.raises(RuntimeError, match="disk went away"):
        _write(plan, tmp_path / "scan.sqlite", tmp_path / "out", None)
    assert not (tmp_path / "out" / "manifest.csv").exists()
    assert calls == []  # the reading happened in the other process


def test_ctrl_c_while_the_second_process_reads_leaves_the_previous_manifest_and_no_process(tmp_path, monkeypatch):
    """Interrupted between batches: the previous outputs stay as they were, nothing half-written is left beside
    them, and the reading process is gone."""
    import multiprocessing

    # 3,000 rows in batches of 10: more than the pipe holds, so the reader is still at work when Ctrl-C comes
    _store(tmp_path / "scan.sqlite", [(f"d/f{i:04d}".encode(), "file", 100 + i, RECENT) for i in range(3000)])
    plan = _plan([], "Felles")
    before, _ = _write(plan, tmp_path / "scan.sqlite", tmp_path / "out", None)
    monkeypatch.setattr(manifest, "PARALLEL_FROM", 0)
    monkeypatch.setattr(manifest, "BATCH", 10)
    _raising_on_call(monkeypatch, manifest._ShareWriter, "batch", 4, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        _write(plan, tmp_path / "scan.sqlite", tmp_path / "out", None)
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "out").iterdir())} == before
    assert multiprocessing.active_children() == []


def test_copies_that_are_all_skipped_are_not_called_duplicates(tmp_path):
    """A content whose every copy a rule skips has no keeper; none of its copies is a DUPLICATE of another."""
    rows = [(b"Arkiv/a.docx", "file", 7, RECENT), (b"Arkiv/b.docx", "file", 7, RECENT), (b"c.docx", "file", 9, RECENT)]
    _store(tmp_path / "scan.sqlite", rows)  # size 7: copies of one another
    plan = _plan(ROUTES_LIST[1], "")
    written, _ = _write(plan, tmp_path / "scan.sqlite", tmp_path / "out", None)
    reasons = {r.split(",")[1]: r.split(",")[5] for r in written["manifest.csv"].decode().splitlines()[1:]}
    assert reasons["Arkiv/a.docx"] == reasons["Arkiv/b.docx"] == "ROUTED_SKIP"
    assert reasons["c.docx"] == ""
