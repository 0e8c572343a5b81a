"""Nothing lost (keepers among moving copies) and the contacts' review round trip (SPEC §5, §5.1)."""

from __future__ import annotations

import csv
import os
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
from conftest import run_cli

TODAY = "2021-04-20"


def plan_text(extra_policy: str = "") -> str:
    return (
        "kind: share-migration\nname: Review\n"
        f"policy: {{duplicates: skip, stale_action: review, stale_after_years: 5{extra_policy}}}\n"
        "shares:\n  - id: s\n    source: share\n    department: Økonomi\n"
        "    contact: {name: Ola Nordmann, email: ola@example.org}\n    spmt_source: '\\\\srv\\s'\n"
        "    target: {site: https://t.sharepoint.com/sites/S}\n"
        "    routes:\n      - {match: 'Arkiv/**', action: skip}\n"
    )


def make(tmp_path: Path, files: dict[str, bytes], mtimes: dict[str, int] | None = None) -> Path:
    share = tmp_path / "share"
    for rel, data in files.items():
        p = share / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    for rel, t in (mtimes or {}).items():
        os.utime(share / rel, (t, t))
    (tmp_path / "plan.yaml").write_text(plan_text(), encoding="utf-8")
    return tmp_path / "plan.yaml"


def scan_and_manifest(tmp_path: Path, out: str = "out", *extra: str) -> tuple[dict[str, dict], object]:
    plan, db = tmp_path / "plan.yaml", tmp_path / "scan.sqlite"
    assert run_cli("share", "scan", "--plan", str(plan), "--db", str(db)).returncode == 0
    proc = run_cli(
        "share",
        "manifest",
        "--plan",
        str(plan),
        "--db",
        str(db),
        "--out",
        str(tmp_path / out),
        "--today",
        TODAY,
        *extra,
    )
    with (tmp_path / out / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        rows = {r["source_path"]: r for r in csv.DictReader(handle)}
    return rows, proc


def test_a_copy_of_a_skipped_file_still_moves(tmp_path):
    """Arkiv/ is routed to skip and duplicates are skipped: the report in Prosjekter/ must still move; a Thumbs.db
    that happens to hold the same bytes as a real file does not make the real file a duplicate."""
    make(
        tmp_path,
        {
            "Arkiv/rapport.pdf": b"the report",
            "Prosjekter/rapport.pdf": b"the report",
            "bilder/Thumbs.db": b"same bytes",
            "bilder/z-ekte.bin": b"same bytes",
            "to/a.txt": b"twice",
            "to/b.txt": b"twice",
            "Arkiv/only-here.txt": b"archived alone",
            "Arkiv/c1.txt": b"both archived",
            "Arkiv/c2.txt": b"both archived",
        },
    )
    rows, proc = scan_and_manifest(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (rows["Arkiv/rapport.pdf"]["action"], rows["Arkiv/rapport.pdf"]["reasons"]) == ("skip", "ROUTED_SKIP")
    assert (rows["Prosjekter/rapport.pdf"]["action"], rows["Prosjekter/rapport.pdf"]["reasons"]) == ("migrate", "")
    assert rows["bilder/Thumbs.db"]["action"] == "skip" and rows["bilder/z-ekte.bin"]["action"] == "migrate"
    # an ordinary pair: the first moves, the second is the duplicate the policy skips
    assert rows["to/a.txt"]["action"] == "migrate"
    assert (rows["to/b.txt"]["action"], rows["to/b.txt"]["reasons"]) == ("skip", "DUPLICATE")
    # every content has a copy that moves, unless every copy is skipped by its own rule
    by_content: dict[bytes, list[dict]] = {}
    for rel, row in rows.items():
        by_content.setdefault((tmp_path / "share" / rel).read_bytes(), []).append(row)
    for content, copies in by_content.items():
        own_skip = all(set(r["reasons"].split(";")) & {"ROUTED_SKIP", "JUNK", "SYMLINK"} for r in copies)
        assert own_skip or any(r["action"] != "skip" for r in copies), content


def _fill(xlsx: Path, decisions: dict[str, str], comment: str = "sjekket") -> None:
    """What a contact does in Excel: pick a decision per row in the Filer sheet, save."""
    book = openpyxl.load_workbook(xlsx)
    sheet = book["Filer"]
    header = [c.value for c in sheet[1]]
    path_col, decision_col, comment_col = (header.index(n) + 1 for n in ("source_path", "decision", "comment"))
    for r in range(2, sheet.max_row + 1):
        path = sheet.cell(r, path_col).value
        if path in decisions:
            sheet.cell(r, decision_col).value = decisions[path]
            sheet.cell(r, comment_col).value = comment
    book.save(xlsx)


def test_the_review_round_trip(tmp_path):
    old = 1262304000  # 2010: stale
    files = {f"gammel/{i}.doc": f"old {i}".encode() for i in range(6)}
    files["gammel/æøå rapport.doc"] = b"old with a name Excel must show"
    make(tmp_path, files, {rel: old for rel in files})
    rows, proc = scan_and_manifest(tmp_path, "round1")
    assert proc.returncode == 0, proc.stderr
    assert all(r["action"] == "review" for r in rows.values()) and len(rows) == 7
    out1 = tmp_path / "round1"
    # the workbook as a contact gets it
    book = openpyxl.load_workbook(out1 / "review-s.xlsx")
    assert book.sheetnames == ["Slik gjør du", "Filer"]
    assert "Slik gjør du:" in [c.value for c in book["Slik gjør du"]["A"]]
    sheet = book["Filer"]
    assert [c.value for c in sheet[1]][-2:] == ["decision", "comment"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    assert sheet.column_dimensions["B"].width >= 20
    validation = sheet.data_validations.dataValidation[0]
    assert validation.type == "list" and validation.formula1 == '"migrate,skip"'
    assert sheet.max_row == 8
    csv_bytes = (out1 / "review-s.csv").read_bytes()
    assert csv_bytes.startswith(b"\xef\xbb\xbf") and "æøå".encode() in csv_bytes

    # the contact decides five rows (one in bokmål, one in capitals) and writes nonsense in one
    returned = tmp_path / "returned"
    returned.mkdir()
    shutil.copy(out1 / "review-s.xlsx", returned / "review-s.xlsx")
    _fill(
        returned / "review-s.xlsx",
        {
            "gammel/0.doc": "migrate",
            "gammel/1.doc": "skip",
            "gammel/2.doc": "Ikke flytt",
            "gammel/3.doc": "MIGRATE",
            "gammel/4.doc": "kanskje",
            "gammel/æøå rapport.doc": "migrate",
        },
    )
    # meanwhile someone edits 3.doc: that decision is stale
    changed = tmp_path / "share" / "gammel" / "3.doc"
    changed.write_bytes(b"edited after the list was made")
    os.utime(changed, (old, old))  # still stale (so still for review), but no longer what the contact saw
    rows, proc = scan_and_manifest(tmp_path, "round2", "--decisions", str(returned))
    assert proc.returncode == 0, proc.stderr
    decided = {p: (r["action"], r["reasons"]) for p, r in rows.items() if "DECIDED" in r["reasons"]}
    assert decided == {
        "gammel/0.doc": ("migrate", "STALE;DECIDED"),
        "gammel/1.doc": ("skip", "STALE;DECIDED"),
        "gammel/2.doc": ("skip", "STALE;DECIDED"),
        "gammel/æøå rapport.doc": ("migrate", "STALE;DECIDED"),
    }
    where = str(returned / "review-s.xlsx")
    assert f"{where}:6: decision 'kanskje' is not migrate or skip; not applied" in proc.stderr
    assert f"{where}:5: s/gammel/3.doc changed since the list was made" in proc.stderr
    # the next review list holds only what is still open, and the summary counts it per contact
    with (tmp_path / "round2" / "review-s.csv").open(encoding="utf-8-sig", newline="") as handle:
        still_open = sorted(r["source_path"] for r in csv.DictReader(handle))
    assert still_open == ["gammel/3.doc", "gammel/4.doc", "gammel/5.doc"]
    with (tmp_path / "round2" / "summary.csv").open(encoding="utf-8", newline="") as handle:
        summary = list(csv.DictReader(handle))
    assert [(r["contact"], r["files"]) for r in summary if r["reason"] == "OPEN"] == [("ola@example.org", "3")]
    with (out1 / "summary.csv").open(encoding="utf-8", newline="") as handle:
        assert [r["files"] for r in csv.DictReader(handle) if r["reason"] == "OPEN"] == ["7"]


def test_decisions_for_vanished_and_unknown_files_and_conflicts_are_warnings(tmp_path):
    make(tmp_path, {"a.doc": b"a", "b.doc": b"bb"}, {"a.doc": 1262304000, "b.doc": 1262304000})
    rows, _ = scan_and_manifest(tmp_path, "r1")
    returned = tmp_path / "returned"
    returned.mkdir()
    header = (
        "share,source_path,size_bytes,modified,action,reasons,target_site,target_library,target_path,decision,comment"
    )

    def line(path, decision, share="s"):
        r = rows.get(path, {"size_bytes": "1", "modified": "2010-01-01T01:00:00+01:00"})
        return f"{share},{path},{r['size_bytes']},{r['modified']},review,STALE,x,Documents,{path},{decision},"

    (returned / "one.csv").write_text(
        "\n".join(
            [
                header,
                line("a.doc", "migrate"),
                line("b.doc", "skip"),
                line("gone.doc", "skip"),
                line("x.doc", "skip", share="other"),
            ]
        )
        + "\n",
        encoding="utf-8-sig",
    )
    (returned / "two.csv").write_text("\n".join([header, line("b.doc", "migrate")]) + "\n", encoding="utf-8")
    # reordered columns are read by name
    (returned / "three.csv").write_text(
        "decision,source_path,share,size_bytes,modified\n"
        f"skip,a.doc,s,{rows['a.doc']['size_bytes']},{rows['a.doc']['modified']}\n",
        encoding="utf-8",
    )
    rows2, proc = scan_and_manifest(tmp_path, "r2", "--decisions", str(returned))
    assert proc.returncode == 0, proc.stderr
    assert "DECIDED" not in rows2["b.doc"]["reasons"]  # decided both ways: neither applied
    assert (
        f"{returned / 'two.csv'}:2: b.doc is decided 'migrate' here and 'skip' at {returned / 'one.csv'}:3"
        in proc.stderr
    )
    assert f"{returned / 'one.csv'}:4: s/gone.doc is not in the scan" in proc.stderr
    assert f"{returned / 'one.csv'}:5: no scanned share 'other'" in proc.stderr
    assert "a.doc is decided 'skip' here and 'migrate'" in proc.stderr


@pytest.mark.parametrize(
    "name,content,words",
    [
        ("not-a-workbook.xlsx", b"this is not a zip file", "not an Excel workbook"),
        ("renamed.csv", b"share,path,size_bytes,modified,choice\ns,a.doc,1,x,skip\n", "has no source_path, decision"),
        ("latin1.csv", "share,source_path\ns,\xe6\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_a_returned_file_that_cannot_be_read_is_an_error_naming_it(tmp_path, name, content, words):
    make(tmp_path, {"a.doc": b"a"}, {"a.doc": 1262304000})
    scan_and_manifest(tmp_path, "r1")
    returned = tmp_path / "returned"
    returned.mkdir()
    (returned / name).write_bytes(content)
    rows, proc = scan_and_manifest(tmp_path, "r2", "--decisions", str(returned))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"error: {returned / name}: " in proc.stderr and words in proc.stderr
    assert rows["a.doc"]["action"] == "review"  # nothing applied, the manifest still written


def test_review_workbook_bytes_are_deterministic(tmp_path):
    make(tmp_path, {"a.doc": b"a"}, {"a.doc": 1262304000})
    scan_and_manifest(tmp_path, "r1")
    scan_and_manifest(tmp_path, "r2")
    assert (tmp_path / "r1" / "review-s.xlsx").read_bytes() == (tmp_path / "r2" / "review-s.xlsx").read_bytes()


def test_library_limits_are_warnings_on_stderr_and_in_the_summary(tmp_path):
    share = tmp_path / "share" / "Stor"
    share.mkdir(parents=True)
    for i in range(5001):
        (share / f"f{i:05}.txt").write_bytes(b"")
    (tmp_path / "plan.yaml").write_text(plan_text(), encoding="utf-8")
    rows, proc = scan_and_manifest(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (
        "[FOLDER_OVER_5000] s: https://t.sharepoint.com/sites/S/Shared Documents/Stor holds 5,001 items" in proc.stderr
    )
    with (tmp_path / "out" / "summary.csv").open(encoding="utf-8", newline="") as handle:
        warnings = [r for r in csv.DictReader(handle) if r["action"] == "warning"]
    assert [(w["reason"].split()[0], w["files"]) for w in warnings] == [("FOLDER_OVER_5000", "5001")]


def test_folder_counts_of_plain_files(tmp_path):
    """Plain files (recent, not empty, unique) are placed and counted on the manifest's short path, a folder's run
    at a time: a folder over the limit, one under it, and the last one over it, each counted exactly."""
    for folder, n in (("A", 5001), ("B", 4999), ("C", 5003)):
        (tmp_path / "share" / folder).mkdir(parents=True)
        for i in range(n):
            (tmp_path / "share" / folder / f"f{i:05}.txt").write_bytes(f"{folder}{i}".encode())
    (tmp_path / "plan.yaml").write_text(plan_text(), encoding="utf-8")
    rows, proc = scan_and_manifest(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {r["action"] for r in rows.values()} == {"migrate"} and {r["reasons"] for r in rows.values()} == {""}
    with (tmp_path / "out" / "summary.csv").open(encoding="utf-8", newline="") as handle:
        warnings = [r for r in csv.DictReader(handle) if r["action"] == "warning"]
    assert [(w["reason"], w["files"]) for w in warnings] == [
        ("FOLDER_OVER_5000 https://t.sharepoint.com/sites/S/Shared Documents/A", "5001"),
        ("FOLDER_OVER_5000 https://t.sharepoint.com/sites/S/Shared Documents/C", "5003"),
    ]


def test_library_item_and_file_limits():
    from oslomig.shares.placement import LibraryCounter

    counter = LibraryCounter()
    lib = ("https://t.sharepoint.com/sites/S", "Shared Documents")
    for i in range(300_001):
        counter.add(lib, f"d{i // 4000:03}/f{i}.txt")  # 76 folders of at most 4,000 files: no folder over 5,000
    codes = [(code, n) for _, code, _, n in counter.warnings()]
    assert codes == [("LIBRARY_OVER_100000_ITEMS", 300_001 + 76), ("LIBRARY_OVER_300000_FILES", 300_001)]
    small = LibraryCounter()
    for i in range(5_000):
        small.add(lib, f"f{i}.txt")
    assert small.warnings() == []  # 5,000 is the limit itself


NAMES = ["plain.doc", "a & <b> c.doc", " lead.doc", "trail.doc ", "ctl\x01.doc", "_x0041_.doc", "æøå 😀.doc",
         "tab\tin.doc", "end\x1f", "nl\nin.doc"]  # fmt: skip


def test_review_workbook_cells_read_back_as_written(tmp_path):
    """The data rows are written into the sheet's XML directly, but for text with control characters or a literal
    _xHHHH_, which XlsxWriter escapes into the shared strings: every cell reads back as it was (openpyxl, both
    modes, and the decisions reader) as it did when XlsxWriter wrote every cell, and every decision cell has the
    same drop-down style."""
    from oslomig.shares.decisions import _read_xlsx, review_workbook

    rows = [
        ["s", name, k * 1_000_003, "2020-01-01T00:00:00+01:00", "review", "STALE", "https://t/sites/S",
         "Shared Documents", f"Felles/{name}"]
        for k, name in enumerate(NAMES * 3)
    ]  # fmt: skip
    xlsx = tmp_path / "review-s.xlsx"
    xlsx.write_bytes(review_workbook("s", rows))
    book = openpyxl.load_workbook(xlsx)
    sheet = book["Filer"]
    # openpyxl leaves a control character as Excel's escape (_x0001_), as it always did; Excel shows the character
    shown = [[re.sub(r"[\x00-\x08\x0b-\x1f]", lambda m: f"_x{ord(m[0]):04X}_", v) if k != 2 else v
              for k, v in enumerate(r)] for r in rows]  # fmt: skip
    assert [[c.value for c in r][:9] for r in sheet.iter_rows(min_row=2)] == shown
    assert sheet.dimensions == f"A1:K{len(rows) + 1}" and sheet.auto_filter.ref == f"A1:K{len(rows) + 1}"
    styles = {sheet.cell(n, col).style_id for n in range(2, len(rows) + 2) for col in (10, 11)}
    assert len(styles) == 1 and sheet.cell(2, 10).fill.fgColor.rgb.endswith("FFF2CC")
    assert sheet.cell(2, 1).style_id != sheet.cell(2, 10).style_id
    # Excel drops a cell's edge spaces unless told to keep them (openpyxl keeps them either way)
    import zipfile

    xml = zipfile.ZipFile(xlsx).read("xl/worksheets/sheet2.xml").decode()
    assert '<t xml:space="preserve"> lead.doc</t>' in xml and '<t xml:space="preserve">trail.doc </t>' in xml
    read = _read_xlsx(xlsx)
    assert [(line, values["source_path"], values["size_bytes"]) for line, values in read] == [
        (n, r[1], r[2]) for n, r in enumerate(shown, start=2)
    ]
