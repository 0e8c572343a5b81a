"""share stage and share verify (SPEC 5.2): the staging tree holds exactly the manifest, as hard links, and
verify proves from SPMT's item reports that every moved file arrived before a share may be deleted."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from fake_spmt import COLUMNS, item_rows, write_report

TODAY = "2021-06-01"
SITE_A = "https://t.sharepoint.com/sites/A"
SITE_P = "https://t.sharepoint.com/sites/P"
SITE_R = "https://t.sharepoint.com/sites/R"
# (site, library) -> (staging root directory, target folder): written out here, not computed by the code under test
ROOTS = {
    (SITE_A, "Documents"): ("A_Documents_Felles", "Felles"),
    (SITE_P, "Documents"): ("P_Documents", ""),
    (SITE_R, "Dokumenter"): ("R_Dokumenter", ""),
}
OLD = 1262304000  # 2010: stale in 2021

FILES: dict[bytes, bytes] = {
    b"Budsjett/2021/plan.xlsx": b"plan 2021",
    b"Budsjett/a:b.txt": b"renamed to a_b.txt",
    b'Felles/it\'s $HOME `id` "q".txt': b"quotes, dollar, backticks",
    b"Felles/line\nbreak.txt": b"a newline in the name",
    b"Felles/[brackets] & (parens).docx": b"brackets",
    b"Felles/caf\xe9.txt": b"latin-1 name, decided migrate",
    b"Felles/gammel.txt": b"stale, decided migrate",
    b"Felles/-dash.txt": b"starts with a dash",
    b"Prosjekter/Alfa/notat.docx": b"routed to site P",
    b"Prosjekter/Beta/tegning.pdf": b"routed to site P (first route wins)",
    b"Rapporter/aarsrapport.pdf": b"pdf anywhere else: site R",
    b"Rapporter/2020/q1.pdf": b"pdf, deeper",
    b"Arkiv/old.txt": b"routed skip",
    b"Thumbs.db": b"junk",
    b"dup/a.bin": b"same content" * 10,
    b"dup/b.bin": b"same content" * 10,
    b"dup/c.bin": b"same content" * 10,
}


def plan_yaml(source: str, staging: str, extra: str = "") -> str:
    return f"""kind: share-migration
name: staging test
policy:
  stale_after_years: 5
  stale_action: review
  duplicates: review
shares:
  - id: dept
    source: {source}
    spmt_source: \\\\filsrv01\\INE\\dept
    staging: {staging}
    contact: {{name: Ola, email: ola@example.org}}
    target: {{site: {SITE_A}, library: Documents, folder: Felles}}
    read_only_from: 2021-09-01
    delete_after_days: 90
    routes:
      - {{match: "Arkiv/**", action: skip}}
      - {{match: "Prosjekter/**", target: {{site: {SITE_P}, library: Documents}}}}
      - {{match: "**/*.pdf", target: {{site: {SITE_R}, library: Dokumenter, library_url: Dokumenter}}}}
{extra}"""


def build(root: Path) -> None:
    for rel, content in FILES.items():
        path = os.path.join(os.fsencode(root), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content)
    os.utime(os.path.join(os.fsencode(root), b"Felles/gammel.txt"), (OLD, OLD))


def decide(out: Path, decisions: Path, choices: dict[str, str]) -> None:
    """A contact fills in the first review list (kept as review-first.csv) and returns it: decision per path."""
    decisions.mkdir(exist_ok=True)
    first = out.parent / "review-first.csv"
    if not first.exists():
        shutil.copy(out / "review-dept.csv", first)
    with open(first, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    for row in rows[1:]:
        row[header.index("decision")] = choices.get(row[1], "")
    with open(decisions / "review-dept.csv", "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture
def world(tmp_path):
    share_root = tmp_path / "vol" / "dept"
    build(share_root)
    (tmp_path / "vol" / ".staging").mkdir()
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_yaml("vol/dept", "vol/.staging/dept"), encoding="utf-8")
    db, out = tmp_path / "scan.sqlite", tmp_path / "out"
    assert run_cli("share", "scan", "--plan", str(plan), "--db", str(db)).returncode == 0
    first = run_cli("share", "manifest", "--plan", str(plan), "--db", str(db), "--out", str(out), "--today", TODAY)
    assert first.returncode == 0, first.stderr
    decide(
        out,
        tmp_path / "returned",
        {"Felles/caf\\xe9.txt": "migrate", "Felles/gammel.txt": "migrate", "dup/c.bin": "skip"},
    )
    args = ("--plan", str(plan), "--db", str(db), "--out", str(out), "--today", TODAY)
    proc = run_cli("share", "manifest", *args, "--decisions", str(tmp_path / "returned"))
    assert proc.returncode == 0, proc.stderr
    return tmp_path, plan, db, out, share_root, tmp_path / "vol" / ".staging" / "dept"


def manifest_rows(out: Path) -> list[dict]:
    with open(out / "manifest.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def raw(shown: str) -> bytes:
    """The manifest's source_path back to bytes: the one name of the tree that is not UTF-8 is shown as `\\xe9`."""
    return b"Felles/caf\xe9.txt" if shown == "Felles/caf\\xe9.txt" else shown.encode("utf-8")


def expected_tree(out: Path, share_root: Path) -> dict[bytes, int]:
    """staging-relative path -> inode of the source file, from the manifest's migrate rows."""
    want = {}
    for row in manifest_rows(out):
        if row["action"] != "migrate":
            continue
        root, folder = ROOTS[(row["target_site"], row["target_library"])]
        rel = row["target_path"][len(folder) + 1 :] if folder else row["target_path"]
        src = os.path.join(os.fsencode(share_root), raw(row["source_path"]))
        want[f"{root}/{rel}".encode()] = os.lstat(src).st_ino
    return want


def actual_tree(staging: Path) -> dict[bytes, int]:
    got = {}
    base = os.fsencode(staging)
    for top, _dirs, files in os.walk(base):
        for name in files:
            full = os.path.join(top, name)
            rel = os.path.relpath(full, base)
            if rel == b".oslomig-staging":
                continue
            assert not os.path.islink(full)
            got[rel] = os.lstat(full).st_ino
    return got


def test_stage_apply_and_stage_sh_build_exactly_the_manifest(world):
    tmp, plan, db, out, share_root, staging = world
    rows = {r["source_path"]: r for r in manifest_rows(out)}
    # the tree exercises every way a file leaves or changes: the expectations the staging tree must follow
    assert rows["Felles/caf\\xe9.txt"]["action"] == "migrate" and "DECIDED" in rows["Felles/caf\\xe9.txt"]["reasons"]
    assert rows["dup/c.bin"]["action"] == "skip" and rows["dup/b.bin"]["action"] == "review"
    assert rows["Arkiv/old.txt"]["action"] == rows["Thumbs.db"]["action"] == "skip"
    assert rows["Budsjett/a:b.txt"]["target_path"] == "Felles/Budsjett/a_b.txt"
    assert rows["Prosjekter/Beta/tegning.pdf"]["target_site"] == SITE_P
    assert rows["Rapporter/2020/q1.pdf"]["target_site"] == SITE_R
    want = expected_tree(out, share_root)
    assert len(want) == 13

    proc = run_cli("share", "stage", "--plan", str(plan), "--db", str(db), "--manifest", str(out), "--apply")
    assert proc.returncode == 0, proc.stderr
    assert actual_tree(staging) == want  # every file a hard link of its source, at its target, nothing else
    assert "13 files staged" in proc.stderr and "(13 linked, 0 already in place, 0 removed)" in proc.stderr
    again = run_cli("share", "stage", "--plan", str(plan), "--db", str(db), "--manifest", str(out), "--apply")
    assert "(0 linked, 13 already in place, 0 removed)" in again.stderr and actual_tree(staging) == want

    # the script builds the same tree (from nothing, and again over its own result)
    shutil.rmtree(staging)
    for _ in range(2):
        script = subprocess.run(["sh", str(out / "stage.sh")], capture_output=True, text=True)
        assert script.returncode == 0, script.stderr
        assert actual_tree(staging) == want
    assert "dept: 13 files staged" in script.stderr


def test_apply_follows_a_changed_manifest_and_removes_what_left_it(world):
    tmp, plan, db, out, share_root, staging = world
    stage = ("share", "stage", "--plan", str(plan), "--db", str(db), "--manifest", str(out), "--apply")
    assert run_cli(*stage).returncode == 0
    (staging / "A_Documents_Felles" / "stray.txt").write_bytes(b"put there by hand")
    # the contact now skips the stale file: it leaves the staging tree
    decide(out, tmp / "returned", {"Felles/gammel.txt": "skip", "Felles/caf\\xe9.txt": "migrate", "dup/c.bin": "skip"})
    args = ("--plan", str(plan), "--db", str(db), "--out", str(out), "--today", TODAY)
    assert run_cli("share", "manifest", *args, "--decisions", str(tmp / "returned")).returncode == 0
    proc = run_cli(*stage)
    assert proc.returncode == 0, proc.stderr
    assert "(0 linked, 12 already in place, 2 removed)" in proc.stderr
    assert actual_tree(staging) == expected_tree(out, share_root)
    assert (share_root / "Felles" / "gammel.txt").read_bytes() == b"stale, decided migrate"  # the source is untouched


def test_stage_refuses_bad_staging_roots_and_touches_nothing(world):
    tmp, plan, db, out, share_root, staging = world

    def stage_with(staging_line: str) -> subprocess.CompletedProcess:
        bad = tmp / "bad.yaml"
        bad.write_text(plan_yaml("vol/dept", staging_line), encoding="utf-8")
        args = ("--plan", str(bad), "--db", str(db), "--manifest", str(out), "--out", str(tmp / "bad-out"))
        return run_cli("share", "stage", *args, "--apply")

    inside = stage_with("vol/dept/.staging")
    assert inside.returncode == 2 and "is inside the share" in inside.stderr
    assert not (share_root / ".staging").exists()
    holder = stage_with("vol")
    assert holder.returncode == 2 and "holds the share" in holder.stderr
    missing_parent = stage_with("vol/nowhere/dept")
    assert (
        missing_parent.returncode == 2
        and "parent" in missing_parent.stderr
        and "does not exist" in missing_parent.stderr
    )
    if os.stat("/dev/shm").st_dev == os.stat(tmp).st_dev:
        pytest.fail("the test needs /dev/shm on another file system than the temp dir")
    other = Path(tempfile_dir := "/dev/shm") / f"oslomig-stage-{os.getpid()}"
    try:
        other_volume = stage_with(str(other))
        assert other_volume.returncode == 2 and "another volume" in other_volume.stderr
        assert not other.exists(), tempfile_dir
    finally:
        shutil.rmtree(other, ignore_errors=True)
    busy = tmp / "vol" / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_bytes(b"someone's data")
    foreign = stage_with("vol/busy")
    assert foreign.returncode == 2 and "not an oslomig staging root" in foreign.stderr
    assert (busy / "keep.txt").read_bytes() == b"someone's data" and len(list(busy.iterdir())) == 1
    # the same refusal from the script, before it removes anything
    assert run_cli("share", "stage", "--plan", str(plan), "--db", str(db), "--manifest", str(out)).returncode == 0
    text = (out / "stage.sh").read_bytes().replace(os.fsencode(staging), os.fsencode(busy))
    (tmp / "busy.sh").write_bytes(text)
    refused = subprocess.run(["sh", str(tmp / "busy.sh")], capture_output=True, text=True)
    assert refused.returncode == 1 and "holds files and is not an oslomig staging root" in refused.stderr
    assert (busy / "keep.txt").read_bytes() == b"someone's data" and len(list(busy.iterdir())) == 1
    no_key = tmp / "nokey.yaml"
    no_key.write_text(plan_yaml("vol/dept", "''").replace("    staging: ''\n", ""), encoding="utf-8")
    proc = run_cli("share", "stage", "--plan", str(no_key), "--db", str(db), "--manifest", str(out))
    assert proc.returncode == 2 and "no `staging:` in the share plan" in proc.stderr


def test_stage_refuses_a_manifest_older_than_the_scan(world):
    tmp, plan, db, out, share_root, staging = world
    (share_root / "Budsjett" / "2021" / "plan.xlsx").write_bytes(b"changed after the manifest was written")
    assert run_cli("share", "scan", "--plan", str(plan), "--db", str(db)).returncode == 0
    proc = run_cli("share", "stage", "--plan", str(plan), "--db", str(db), "--manifest", str(out), "--apply")
    assert proc.returncode == 2 and "does not match the latest scan" in proc.stderr
    assert not staging.exists()


# ------------------------------------------------------------------------------------------- verify


def _staged_report(world) -> tuple[Path, list[list[str]]]:
    tmp, plan, db, out, share_root, staging = world
    assert (
        run_cli("share", "stage", "--plan", str(plan), "--db", str(db), "--manifest", str(out), "--apply").returncode
        == 0
    )
    rows = list(item_rows(out / "spmt.json", staging, "\\\\filsrv01\\INE\\.staging\\dept"))
    return tmp / "reports", rows


def _verify(world, reports: Path, *extra: str) -> subprocess.CompletedProcess:
    tmp, plan, db, out, *_ = world
    return run_cli(
        "share",
        "verify",
        "--plan",
        str(plan),
        "--manifest",
        str(out),
        "--reports",
        str(reports),
        "--today",
        "2021-10-01",
        *extra,
    )


def _timeline(out: Path) -> dict:
    with open(out / "timeline.csv", encoding="utf-8", newline="") as handle:
        return next(csv.DictReader(handle))


def test_verify_passes_on_a_complete_report_and_names_exactly_what_did_not_arrive(world):
    tmp, plan, db, out, share_root, staging = world
    reports, rows = _staged_report(world)
    assert sum(r[5] == "File" for r in rows) == 13 and any(r[5] == "Folder" for r in rows)
    write_report(reports / "TaskReport_1" / "ItemReport_R1.csv", rows)
    ok = _verify(world, reports)
    assert ok.returncode == 0, ok.stderr + ok.stdout
    assert ok.stdout == "" and "dept: 13 of 13 files arrived; verified" in ok.stderr
    gate = _timeline(out)
    assert gate["verified_at"] == "2021-10-01"
    assert gate["safe_to_delete"] == "false" and gate["blocked_because"] == "1 review row(s) still open"  # dup/b.bin
    with open(out / "verify-dept.csv", encoding="utf-8", newline="") as handle:
        results = list(csv.DictReader(handle))
    assert len(results) == 13 and {r["result"] for r in results} == {"arrived"}

    # one file missing from the report, one failed: exactly those two are named, and the gate closes
    files = [r for r in rows if r[5] == "File"]
    dropped = next(r for r in files if r[0].endswith("plan.xlsx"))
    failed = next(r for r in files if "line" in r[0])
    changed = [r for r in rows if r is not dropped]
    changed = [[*r[:6], "Failed", "", "The file is locked", *r[9:]] if r is failed else r for r in changed]
    write_report(reports / "TaskReport_1" / "ItemReport_R1.csv", changed)
    bad = _verify(world, reports)
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == [  # one line each: the newline in a name is shown escaped
        "dept: missing: Budsjett/2021/plan.xlsx -> Felles/Budsjett/2021/plan.xlsx",
        "dept: failed: Felles/line\\nbreak.txt -> Felles/Felles/line_break.txt (Failed: The file is locked)",
    ]
    assert "dept: 11 of 13 files arrived; NOT verified" in bad.stderr
    assert _timeline(out)["verified_at"] == "" and "2 file(s) not arrived" in _timeline(out)["blocked_because"]

    # a second round (SPMT's incremental run) that migrated both makes the share whole again
    retry = [r for r in rows if r is dropped or r is failed]
    write_report(reports / "TaskReport_2" / "ItemReport_R2.csv", retry)
    assert _verify(world, reports).returncode == 0


def test_verify_refuses_truncated_foreign_and_unknown_reports(world):
    tmp, plan, db, out, share_root, staging = world
    reports, rows = _staged_report(world)
    path = reports / "TaskReport_1" / "ItemReport_R1.csv"
    write_report(path, rows)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 40])  # cut inside the last row
    cut = _verify(world, reports)
    assert cut.returncode == 2 and "ItemReport_R1.csv:" in cut.stderr and "truncated" in cut.stderr
    assert not (out / "verified.json").exists()

    path.write_text("Name,Size\nx,1\n", encoding="utf-8")
    other_format = _verify(world, reports)
    assert other_format.returncode == 2 and "not an SPMT item report (no Source or Status column" in other_format.stderr

    foreign = [[r[0].replace("\\dept\\", "\\other\\"), *r[1:]] for r in rows]
    write_report(path, foreign)
    proc = _verify(world, reports)
    assert proc.returncode == 1 and "none of its rows is under the staging root" in proc.stderr
    assert len(proc.stdout.splitlines()) >= 13 and all(
        ": missing: " in line for line in proc.stdout.splitlines() if line.startswith("dept:")
    )

    extra = [
        *rows,
        [
            rows[-1][0].rsplit("\\", 1)[0] + "\\smuggled.txt",
            "",
            "smuggled.txt",
            "txt",
            "1",
            "File",
            "Migrated",
            "",
            "",
            "",
            "1",
            "T1",
            "X",
        ],
    ]
    write_report(path, extra)
    unknown = _verify(world, reports)
    assert unknown.returncode == 1 and "smuggled.txt is in an SPMT report" in unknown.stdout
    assert len(COLUMNS) == len(extra[-1])


def test_a_verification_holds_only_for_the_manifest_it_checked(world):
    tmp, plan, db, out, share_root, staging = world
    reports, rows = _staged_report(world)
    write_report(reports / "ItemReport_R1.csv", rows)
    # the contact settles the last review row: skip the second copy
    decide(
        out,
        tmp / "returned",
        {"Felles/caf\\xe9.txt": "migrate", "Felles/gammel.txt": "migrate", "dup/c.bin": "skip", "dup/b.bin": "skip"},
    )
    args = ("--plan", str(plan), "--db", str(db), "--out", str(out), "--today", TODAY)
    assert run_cli("share", "manifest", *args, "--decisions", str(tmp / "returned")).returncode == 0
    assert _verify(world, reports).returncode == 0
    gate = _timeline(out)
    assert (gate["safe_to_delete"], gate["blocked_because"]) == ("true", "")
    assert "is deleted (verified 2021-10-01)" in (out / "timeline.ics").read_text(encoding="utf-8")
    # a new file appears and is scanned: the new manifest moves one more file, so the old proof no longer holds
    (share_root / "Budsjett" / "ny.txt").write_bytes(b"new since the move")
    assert run_cli("share", "scan", "--plan", str(plan), "--db", str(db)).returncode == 0
    assert run_cli("share", "manifest", *args, "--decisions", str(tmp / "returned")).returncode == 0
    gate = _timeline(out)
    assert (
        gate["safe_to_delete"] == "false"
        and "the manifest changed since verify on 2021-10-01" in gate["blocked_because"]
    )
    assert "deletion BLOCKED" in (out / "timeline.ics").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------- stage.ps1


def ps_single_quoted(text: str, start: int) -> tuple[str, int]:
    """Read one PowerShell verbatim string at `start` (a quote character), as the PowerShell tokenizer does:
    the four single-quote characters all open and close it, and two in a row stand for one."""
    quotes = "'\u2018\u2019\u201a\u201b"
    assert text[start] in quotes
    out, i = [], start + 1
    while True:
        ch = text[i]
        if ch in quotes:
            if i + 1 < len(text) and text[i + 1] in quotes:
                out.append(ch)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1


def ps_calls(script: str, name: str) -> list[list[str]]:
    """The arguments of each top-level call `name 'a' 'b'` in the script, tokenized as PowerShell would."""
    calls = []
    i = 0
    marker = "\n" + name + " "
    while (i := script.find(marker, i)) >= 0:
        j = i + len(marker)
        args = []
        while script[j] != "\n":
            if script[j] == " ":
                j += 1
                continue
            value, j = ps_single_quoted(script, j)
            args.append(value)
        calls.append(args)
        i = j
    return calls


def test_stage_ps1_quotes_every_name_and_refuses_names_windows_cannot_hold(world, tmp_path):
    from oslomig.shares.stagescripts import ps_quote

    tmp, plan, db, out, share_root, staging = world
    assert run_cli("share", "stage", "--plan", str(plan), "--db", str(db), "--manifest", str(out)).returncode == 0
    raw_bytes = (out / "stage.ps1").read_bytes()
    assert raw_bytes.startswith(b"\xef\xbb\xbf")  # Windows PowerShell 5.1 reads a BOM-less script as ANSI
    script = raw_bytes.decode("utf-8-sig")
    # this share has a name that is not UTF-8: no Windows server holds it, so the script stops for this share
    throws = ps_calls(script, "throw")
    assert throws and "not UTF-8" in throws[0][0] and not ps_calls(script, "L")

    # without it, every name arrives as written
    plain = tmp / "plain"
    plain.mkdir()
    names = {  # names a Windows file server can hold, each a trap for a careless quoting
        "it's ‘curly’ ’quotes’ ‚low‛.txt": b"1",
        "$env_USERNAME `$(calc)` @(x) $(Get-Date) `n.txt": b"2",
        "[brackets] & (parens) %TEMP% !bang;semi.docx": b"3",
        "æøå ÆØÅ.txt": b"4",
    }
    for name, data in names.items():
        (plain / name).write_bytes(data)
    plan2 = tmp / "plain.yaml"
    plan2.write_text(
        plan_yaml("plain", "stage-plain").replace("\\\\filsrv01\\INE\\dept", "\\\\filsrv01\\INE\\plain"),
        encoding="utf-8",
    )
    db2, out2 = tmp / "plain.sqlite", tmp / "plain-out"
    assert run_cli("share", "scan", "--plan", str(plan2), "--db", str(db2)).returncode == 0
    m = run_cli("share", "manifest", "--plan", str(plan2), "--db", str(db2), "--out", str(out2), "--today", TODAY)
    assert m.returncode == 0
    assert run_cli("share", "stage", "--plan", str(plan2), "--db", str(db2), "--manifest", str(out2)).returncode == 0
    script = (out2 / "stage.ps1").read_text(encoding="utf-8-sig")
    starts = ps_calls(script, "Start-Share")
    assert starts == [["dept", "\\\\filsrv01\\INE\\plain", "\\\\filsrv01\\INE\\stage-plain"]]
    links = ps_calls(script, "L")
    migrate = {r["source_path"]: r["target_path"] for r in manifest_rows(out2) if r["action"] == "migrate"}
    assert len(links) == len(migrate) == 4
    assert {src: dst for src, dst in links} == {
        src: "A_Documents_Felles\\" + dst.removeprefix("Felles/").replace("/", "\\") for src, dst in migrate.items()
    }
    # outside the quoted strings the script has no `$` or backtick that came from a name
    for line in script.splitlines():
        if line.startswith(("L ", "D ", "Start-Share ")):
            rest = line.split(" ", 1)[1]
            while rest:
                assert rest[0] in "'\u2018\u2019\u201a\u201b", line
                _value, end = ps_single_quoted(rest, 0)
                rest = rest[end:].lstrip(" ")
    assert ps_quote("a'b\u2019c") == "'a''b\u2019\u2019c'"
    # the [brackets] name goes through CreateHardLinkW, since New-Item -Target reads it as a wildcard
    assert "IndexOfAny([char[]]'[]')" in script and "CreateHardLinkW" in script


def test_stage_apply_over_ssh_runs_the_script_on_the_server(ssh_server, tmp_path):
    """An ssh:// share is staged on its server: the share's part of stage.sh runs there through `sh -s`."""
    import pwd
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="oslomig-stage-ssh-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        share_root = base / "vol" / "dept"
        build(share_root)
        (base / "vol" / ".staging").mkdir()
        if os.geteuid() == 0:  # the login user links the files: protected_hardlinks wants them to be its own
            user = pwd.getpwnam(ssh_server.user)
            for top, dirs, files in os.walk(base / "vol"):
                for name in [top, *(os.path.join(top, n) for n in dirs + files)]:
                    os.chown(name, user.pw_uid, user.pw_gid)
        ssh = f'    ssh: {{key_file: "{ssh_server.key_file}", known_hosts: "{ssh_server.known_hosts}"}}\n'
        plan = tmp_path / "plan.yaml"
        plan.write_text(
            plan_yaml(ssh_server.url(str(share_root)), str(base / "vol" / ".staging" / "dept"), ssh), encoding="utf-8"
        )
        db, out = tmp_path / "scan.sqlite", tmp_path / "out"
        scan = run_cli("share", "scan", "--plan", str(plan), "--db", str(db))
        assert scan.returncode == 0, scan.stderr
        m = run_cli("share", "manifest", "--plan", str(plan), "--db", str(db), "--out", str(out), "--today", TODAY)
        assert m.returncode == 0, m.stderr
        proc = run_cli("share", "stage", "--plan", str(plan), "--db", str(db), "--manifest", str(out), "--apply")
        assert proc.returncode == 0, proc.stderr
        staging = base / "vol" / ".staging" / "dept"
        assert actual_tree(staging) == expected_tree(out, share_root) and len(actual_tree(staging)) == 11
        # a staging root on the server that is not ours is refused there, with the server's sentence
        shutil.rmtree(staging)
        staging.mkdir()
        (staging / "keep.txt").write_bytes(b"data")
        refused = run_cli("share", "stage", "--plan", str(plan), "--db", str(db), "--manifest", str(out), "--apply")
        assert refused.returncode == 2 and "holds files and is not an oslomig staging root" in refused.stderr
        assert os.listdir(staging) == ["keep.txt"]
    finally:
        shutil.rmtree(base, ignore_errors=True)
