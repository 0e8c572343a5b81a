"""A mutation fuzzer over the shipped plans, targets and inventories (the hardening issue's "keep it found").

Each case takes a shipped file, applies one to three mutations (byte flips, deleted and duplicated lines, swapped
types, extreme numbers, impossible dates, tags, deep nesting, anchors) and runs it the way the commands do: load,
validate, and for what validates, group, schedule, verify and write notices (database plans) or classify a small
scanned tree into a manifest (share plans). Any exception other than the user errors the CLI maps to exit 1/2 is a
failure, and so is a case that runs longer than CASE_SECONDS (a hang). Every 25th case also runs through the real
CLI in a subprocess, where a signal (the old segfault on deep nesting) or a traceback fails the test.

`make test` runs OSLOMIG_FUZZ_CASES=300 (default); `make fuzz` runs 20,000. Cases are numbered and seeded, so a
failure names the case that reproduces it: OSLOMIG_FUZZ_ONLY=1234.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

CASES = int(os.environ.get("OSLOMIG_FUZZ_CASES", "300"))
ONLY = os.environ.get("OSLOMIG_FUZZ_ONLY")
CASE_SECONDS = 20
TODAY = dt.date(2021, 4, 20)

SEEDS = [
    ROOT / "plans" / "sql-2021.yaml",
    ROOT / "plans" / "oracle-2021.yaml",
    ROOT / "plans" / "shares-ine-2021.yaml",
    ROOT / "plans" / "demo-shares.yaml",
    ROOT / "plans" / "scan-targets.yaml",
    ROOT / "inventories" / "shares.yaml",
    ROOT / "inventories" / "scanned" / "postgres.yaml",
    ROOT / "inventories" / "owners" / "agencies.yaml",
]

NUMBERS = [
    "0",
    "-1",
    "-3.5",
    "1e308",
    "-1e308",
    "5e-324",
    ".nan",
    ".inf",
    "-.inf",
    "1e12",
    "99999999999999999999999",
    "0x7f",
    "0o17",
    "1_000",
]
DATES = [
    "2021-02-30",
    "9999-12-31",
    "0000-01-01",
    "2021-13-01",
    "1969-12-31",
    "2199-12-31",
    "2021-03-28T02:30",
    "2021-10-31T02:30",
    "2021-05-04T25:00",
    "2021-05-04T18:00+14:00",
]
TAGS = ["!!str", "!!int", "!!float", "!!bool", "!!null", "!!binary", "!foo", "!!set", "!!timestamp", "!!map", "!!seq"]
VALUES = [
    "[]",
    "{}",
    "[a, b]",
    "{a: 1}",
    "~",
    "''",
    '"x\\ny"',
    "yes",
    "NO",
    "true",
    "'../../../x'",
    "a/b",
    "'x' ",
    "*x",
]


def _replace_value(line: str, rng: random.Random, pool: list[str]) -> str:
    if ":" in line and not line.rstrip().endswith(":"):
        key, _, _ = line.partition(":")
        return f"{key}: {rng.choice(pool)}"
    if line.lstrip().startswith("- "):
        indent = line[: len(line) - len(line.lstrip())]
        return f"{indent}- {rng.choice(pool)}"
    return line


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        if not lines:
            lines = [""]
        i = rng.randrange(len(lines))
        kind = rng.randrange(11)
        if kind == 0:  # byte flip
            raw = bytearray("\n".join(lines).encode("utf-8", "surrogateescape"))
            if raw:
                raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            lines = raw.decode("utf-8", "surrogateescape").splitlines()
        elif kind == 1:
            del lines[i]
        elif kind == 2:
            lines.insert(i, lines[i])
        elif kind == 3:
            lines[i] = _replace_value(lines[i], rng, NUMBERS)
        elif kind == 4:
            lines[i] = _replace_value(lines[i], rng, DATES)
        elif kind == 5:
            lines[i] = _replace_value(lines[i], rng, VALUES)
        elif kind == 6:
            tag = rng.choice(TAGS)
            lines[i] = _replace_value(lines[i], rng, [f"{tag} {v}" for v in ("0755", "true", "x", "1.5", "")])
        elif kind == 7:  # deep nesting, sometimes beyond what the C parser survives
            depth = rng.choice([50, 199, 201, 5000, 40000])
            lines[i] = _replace_value(lines[i], rng, ["[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth])
        elif kind == 8:  # indentation broken, tabs
            lines[i] = rng.choice(["\t", " ", "   ", "\t  "]) + lines[i]
        elif kind == 9:  # anchors and aliases
            lines[i] = _replace_value(lines[i], rng, ["&x 1", "*x", "&x [*x]", "*nowhere"])
        else:  # swap two lines
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines) + "\n"


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"a case ran longer than {CASE_SECONDS} s")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The shipped inventory (loaded once) and a small scanned tree under the shipped share ids."""
    from oslomig.problems import Problems
    from oslomig.shares.scan import scan_local
    from oslomig.shares.store import ScanStore
    from oslomig.validation import load_checked_inventory

    base = tmp_path_factory.mktemp("fuzz")
    inv = load_checked_inventory([ROOT / "inventories"], Problems())
    tree = base / "tree"
    for rel, data in [
        ("a.txt", b"a"),
        ("Arkiv/old.pdf", b"old"),
        ("Prosjekter/p.docx", b"p" * 10),
        ("x:y.txt", b"a"),
        ("~$lock.docx", b"l"),
        ("Thumbs.db", b"t"),
        ("dir /space.txt", b"s"),
        ("forms", b"f"),
    ]:
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    store = ScanStore(base / "scan.sqlite")
    for share in ("ine-felles", "ine-innkreving", "ine-okonomi-demo"):
        scan_local(store, share, str(tree))
    store.close()
    return {"base": base, "inventory": inv, "db": base / "scan.sqlite"}


def run_case(n: int, world) -> None:
    from oslomig.errors import OslomigError
    from oslomig.loading import document_kind, parse_model, read_document, read_inventory
    from oslomig.models import DatabasePlan, ScanTargets, SharePlan
    from oslomig.problems import Problems
    from oslomig.validation import check_inventory, check_plan, check_scan_targets, check_share_plan

    rng = random.Random(n)
    seed = SEEDS[n % len(SEEDS)]
    text = mutate(seed.read_text(encoding="utf-8"), rng)
    case_dir = world["base"] / "cases" / str(n)
    case_dir.mkdir(parents=True, exist_ok=True)
    path = case_dir / seed.name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    problems = Problems()
    try:
        doc = read_document(path, problems)
        if doc is None:
            assert problems.errors, "a file that cannot be read says why"
            return
        kind = document_kind(doc)
        if kind is None:
            inv = read_inventory([path], problems)
            check_inventory(inv, problems)
        elif kind == "database-migration":
            plan = parse_model(doc, DatabasePlan, problems)
            if plan is not None:
                check_plan(plan, doc, world["inventory"], problems)
                if not problems.errors:
                    _run_plan(plan, world, case_dir, n)
        elif kind == "share-migration":
            share_plan = parse_model(doc, SharePlan, problems)
            if share_plan is not None:
                check_share_plan(share_plan, doc, problems)
                if not problems.errors:
                    _run_share_plan(share_plan, world, case_dir)
        elif kind == "scan-targets":
            targets = parse_model(doc, ScanTargets, problems)
            if targets is not None:
                check_scan_targets(targets, doc, problems)
        for p in problems:
            assert p.line >= 1 and p.column >= 1 and p.code and p.message
            assert "\n" not in p.as_text()
    except OslomigError:
        pass  # a user error: the CLI prints it and exits 1 or 2


def _run_plan(plan, world, case_dir: Path, n: int) -> None:
    from oslomig.atomic import write_many
    from oslomig.errors import NothingInScope
    from oslomig.planning.grouping import compute_groups
    from oslomig.planning.notices import build_notices, notices_csv
    from oslomig.planning.scheduling import build_schedule
    from oslomig.planning.verifier import verify_schedule

    inv = world["inventory"]
    grouping = compute_groups(plan, inv)
    if not grouping.groups:
        raise NothingInScope("nothing in scope")
    sched = build_schedule(plan, inv, grouping, TODAY, time_limit=1.0, use_solver=n % 7 == 0)
    payload = sched.as_json()
    assert verify_schedule(payload, plan, inv, TODAY) == []
    notices = build_notices(plan, inv, sched, "nb" if n % 2 else "en")
    if n % 5 == 0:
        out = case_dir / "notices"
        write_many({**{out / x.filename: x.text for x in notices}, out / "notices.csv": notices_csv(notices)})
        assert all(p.parent == out for p in out.rglob("*"))


def _run_share_plan(plan, world, case_dir: Path) -> None:
    from oslomig.shares.manifest import write_manifest
    from oslomig.shares.store import ScanStore

    store = ScanStore(world["db"], create=False)
    try:
        shares = [s for s in plan.shares if store.latest_scan(s.id) is not None]
        if shares:
            totals = write_manifest(plan, store, case_dir / "manifest", TODAY, shares)
            assert totals.digest == _fingerprints(case_dir / "manifest" / "manifest.csv", shares)
    finally:
        store.close()


def _fingerprints(manifest_csv: Path, shares) -> dict[str, str]:
    """Each share's fingerprint computed again from the written manifest, as `share verify` computes it: the deletion
    gate compares the two."""
    import hashlib

    from oslomig.shares.manifestcsv import read_rows
    from oslomig.shares.proof import digest_update

    hashes = {s.id: hashlib.sha256() for s in shares}
    for _line, row in read_rows(manifest_csv, set(hashes)):
        if row[4] == "migrate":
            digest_update(hashes[row[0]], row)
    return {sid: h.hexdigest() for sid, h in hashes.items()}


def _cases() -> list[int]:
    if ONLY:
        return [int(x) for x in ONLY.split(",")]
    return list(range(CASES))


def test_fuzz_in_process(world):
    """Every case ends in a result or a user error; none raises anything else or hangs."""
    failures = []
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for n in _cases():
            signal.alarm(CASE_SECONDS)
            try:
                run_case(n, world)
            except Exception as exc:
                failures.append(f"case {n} ({SEEDS[n % len(SEEDS)].name}): {type(exc).__name__}: {exc}"[:400])
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, old)
    assert not failures, f"{len(failures)} of {len(_cases())} cases failed:\n" + "\n".join(failures[:20])


def test_fuzz_through_the_cli(world):
    """Every 25th case through the real CLI: exit 0/1/2 only, no signal, no traceback."""
    bad = []
    for n in _cases()[::25]:
        seed = SEEDS[n % len(SEEDS)]
        path = world["base"] / "cases" / str(n) / seed.name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(
                mutate(seed.read_text(encoding="utf-8"), random.Random(n)).encode("utf-8", "surrogateescape")
            )
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "oslomig", "validate", str(path)],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "NO_COLOR": "1"},
                cwd=ROOT,
                errors="replace",
            )
        except subprocess.TimeoutExpired:
            bad.append(f"case {n}: validate hung")
            continue
        if proc.returncode not in (0, 1, 2) or "Traceback" in proc.stderr + proc.stdout:
            bad.append(f"case {n}: exit {proc.returncode}: {proc.stderr[-300:]}")
    assert not bad, "\n".join(bad)
