#!/usr/bin/env python3
"""oslomig benchmarks: each figure beside its reference, measured in the same run.

    make bench                      # everything
    .venv/bin/python bench/run.py startup validate groups schedule
    .venv/bin/python bench/run.py --quick   # smaller sizes, for a quick look

The machine is shared and noisy: every figure is a median of repeated runs,
and the comparisons are ratios against a reference taken right beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
PY = sys.executable
BIN = Path(PY).parent


def median_time(cmd: list[str], runs: int, cwd: Path = ROOT) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def row(what: str, value: str, reference: str, verdict: str) -> None:
    print(f"  {what:<48} {value:>14}   {reference:<44} {verdict}")


def bench_startup(args) -> None:
    print(f"startup (median of {args.runs} cold processes)")
    base = median_time([PY, "-c", "pass"], args.runs)
    help_ = median_time([str(BIN / "oslomig"), "--help"], args.runs)
    imp = median_time([PY, "-c", "import oslomig.cli"], args.runs)
    row(
        "oslomig --help",
        f"{help_ * 1000:.0f} ms",
        f"python -c pass: {base * 1000:.0f} ms",
        f"budget 150 ms: {'OK' if help_ <= 0.150 else 'OVER'}",
    )
    row("import oslomig.cli", f"{imp * 1000:.0f} ms", f"ratio to python -c pass: {imp / base:.1f}x", "")


def bench_validate(args) -> None:
    files = sorted(str(p) for p in list((ROOT / "plans").glob("*.yaml")) + list((ROOT / "inventories").rglob("*.yaml")))
    lines = sum(Path(f).read_text(encoding="utf-8").count("\n") for f in files)
    print(f"validate on the shipped examples ({len(files)} files, {lines:,} lines; median of {args.runs // 2 + 1})")
    ours = median_time([str(BIN / "oslomig"), "validate", "plans", "inventories"], args.runs // 2 + 1)
    yamllint = shutil.which("yamllint", path=str(BIN)) or shutil.which("yamllint")
    if yamllint is None:
        row("oslomig validate", f"{ours:.2f} s", "yamllint: not installed", "")
        return
    ref = median_time([yamllint, "-d", "default", *files], args.runs // 2 + 1)
    row(
        "oslomig validate plans inventories",
        f"{ours:.2f} s",
        f"yamllint (same files): {ref:.2f} s",
        f"ratio {ours / ref:.2f}x: {'OK' if ours <= ref else 'SLOWER'}",
    )


def synthetic_inventory(n_dbs: int, n_hosts: int, seed: int = 1):
    """An estate built without YAML (model_construct): what `groups` works on after loading."""
    from oslomig import models
    from oslomig.loading import Inventory

    rng = random.Random(seed)
    # every list field given: pydantic 2.14's model_construct, calling a default factory, inspects its signature
    # and leaves ~26 objects of cyclic garbage a call (24 GB at a million databases with the collector off)
    host_lists = {"disks": [], "listening_ports": [], "sql_instances": []}
    inst_lists = {"availability_groups": [], "linked_servers": [], "data_guard_partners": []}
    hosts = [
        models.Host.model_construct(name=f"h{i:06d}", cluster=(f"c{i // 4:05d}" if i % 50 == 0 else None), **host_lists)
        for i in range(n_hosts)
    ]
    instances = []
    for i in range(n_hosts):
        instances.append(
            models.Instance.model_construct(
                id=f"h{i:06d}/A", engine="sqlserver" if i % 3 else "oracle", host=f"h{i:06d}", hosts=None, **inst_lists
            )
        )
        if i % 5 == 0:
            instances.append(
                models.Instance.model_construct(
                    id=f"h{i:06d}/B", engine="sqlserver", host=f"h{i:06d}", hosts=None, **inst_lists
                )
            )
    inst_ids = [i.id for i in instances]
    dbs = []
    for d in range(n_dbs):
        inst = inst_ids[rng.randrange(len(inst_ids))]
        ag = f"ag{d % 5000}" if d % 97 == 0 else None
        # as in a real estate, test and prod databases live on different servers
        env = "test" if int(inst[1:7]) % 3 == 0 else "prod"
        dbs.append(
            models.Database.model_construct(
                id=f"{inst}/db{d:07d}",
                instance=inst,
                size_gb=float(rng.randint(1, 500)),
                environment=env,
                availability_group=ag,
                links=[],
                pdbs=[],
            )
        )
    inv = Inventory()
    inv.hosts = {h.name: h for h in hosts}
    inv.instances = {i.id: i for i in instances}
    inv.databases = {d.id: d for d in dbs}
    return inv


def _write_big_estate(base: Path, n_dbs: int, n_hosts: int) -> tuple[Path, Path]:
    """`n_dbs` databases on `n_hosts` hosts as inventory YAML (one file per kind) with systems owning their
    databases by glob, as the shipped estate does (`*/db000123*`, ten databases each), and a plan over them."""
    import yaml

    inv = synthetic_inventory(n_dbs, n_hosts)
    inv_dir = base / "inventories"
    inv_dir.mkdir(parents=True, exist_ok=True)
    dump = {
        "hosts": [{"name": h.name, **({"cluster": h.cluster} if h.cluster else {})} for h in inv.hosts.values()],
        "instances": [{"id": i.id, "engine": i.engine, "host": i.host} for i in inv.instances.values()],
        "databases": [
            {
                "id": d.id,
                "instance": d.instance,
                "size_gb": d.size_gb,
                "environment": d.environment,
                **({"availability_group": d.availability_group} if d.availability_group else {}),
            }  # fmt: skip
            for d in inv.databases.values()
        ],
        "agencies": [{"id": f"A{a}", "name": f"Etat {a}"} for a in range(20)],
        "systems": [
            {"id": f"S{s:06d}", "agency": f"A{s % 20}", "databases": [f"*/db{s:06d}*"]}
            for s in range((n_dbs + 9) // 10)
        ],
    }
    for kind, rows in dump.items():
        (inv_dir / f"{kind}.yaml").write_text(yaml.safe_dump({kind: rows}, sort_keys=False), encoding="utf-8")
    plan = base / "plans" / "plan.yaml"
    plan.parent.mkdir(exist_ok=True)
    plan.write_text(
        "kind: database-migration\nname: big\nperiod: {start: 2021-01-04, end: 2021-12-31}\n"
        "windows: [{name: w, weekdays: [tue, thu], start: '18:00', hours: 10, parallel: 50}]\n",
        encoding="utf-8",
    )
    return plan, inv_dir


def bench_groups_yaml(args) -> None:
    """SPEC §6: `groups` end to end from YAML (100,000 databases on 20,000 hosts) and `validate` on the same files
    beside yamllint."""
    import tempfile

    n_dbs, n_hosts = (20_000, 4_000) if args.quick else (100_000, 20_000)
    with tempfile.TemporaryDirectory(dir=BENCH_DIR if BENCH_DIR.exists() else None) as tmp:
        plan, inv_dir = _write_big_estate(Path(tmp), n_dbs, n_hosts)
        files = sorted(inv_dir.glob("*.yaml"))
        lines = sum(f.read_text(encoding="utf-8").count("\n") for f in files)
        print(f"from YAML: {n_dbs:,} databases on {n_hosts:,} hosts ({lines:,} lines; median of 3)")
        t, rss = timed_rss([str(BIN / "oslomig"), "groups", "--plan", str(plan), "--format", "json"], 3)
        budget = 15 * n_dbs / 100_000
        row("oslomig groups --format json", f"{t:.2f} s", f"peak {rss / 1024:.0f} MB",
            f"budget {budget:g} s: {'OK' if t <= budget else 'OVER'}")  # fmt: skip
        t, rss = timed_rss([str(BIN / "oslomig"), "validate", str(plan), str(inv_dir)], 3)
        yamllint = shutil.which("yamllint", path=str(BIN)) or shutil.which("yamllint")
        if yamllint:
            ref, _ = timed_rss([yamllint, "-d", "default", *map(str, files)], 1)
            row("oslomig validate", f"{t:.2f} s", f"yamllint: {ref:.2f} s; peak {rss / 1024:.0f} MB",
                f"ratio {t / ref:.2f}x: {'OK' if t <= ref else 'SLOWER'}")  # fmt: skip
        else:
            row("oslomig validate", f"{t:.2f} s", f"peak {rss / 1024:.0f} MB", "")


def bench_groups(args) -> None:
    from oslomig.models import DatabasePlan
    from oslomig.planning.grouping import compute_groups

    n_dbs, n_hosts = (100_000, 20_000) if args.quick else (1_000_000, 200_000)
    print(f"groups: {n_dbs:,} databases on {n_hosts:,} hosts")
    import gc

    t0 = time.perf_counter()
    gc.disable()  # building a million objects: the collector would rescan them all, many times
    inv = synthetic_inventory(n_dbs, n_hosts)
    gc.enable()
    gc.freeze()  # what a long-lived loaded inventory looks like to the collector
    built = time.perf_counter() - t0
    plan = DatabasePlan.model_validate(
        {"kind": "database-migration", "name": "bench", "period": {"start": "2021-05-03", "end": "2022-05-02"}}
    )
    times, passes = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        result = compute_groups(plan, inv)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        gc.collect(0)  # the collector's first pass over what the call made: its caller's next allocation pays it
        passes.append(time.perf_counter() - t0)
    t = statistics.median(times)
    budget = 5.0 * (n_dbs / 1_000_000)
    row(
        "compute_groups (median of 3)",
        f"{t:.2f} s",
        f"building the estate in memory: {built:.2f} s",
        f"budget {budget:g} s: {'OK' if t <= budget else 'OVER'}; {len(result.groups):,} groups",
    )
    row("", f"then {statistics.median(passes):.2f} s", "the collector's first pass over the groups made", "")
    db_ids = list(inv.databases)
    where = dict(zip(db_ids, range(len(db_ids))))
    order = [where[d] for g in result.groups for d in g.databases]  # each database's place, in the groups' order
    floor = statistics.median(_groups_floor(inv, db_ids, order) for _ in range(3))
    row("", f"floor {floor:.2f} s", "each database read once, its id listed and hashed", f"groups: {t / floor:.1f}x it")


def _groups_floor(inv, db_ids: list[str], order: list[int]) -> float:
    """The least any grouping of this estate does with its objects, timed: every database read once (its instance
    looked up by name), and every id (`db_ids`) listed once in its group's order (`order`: places in `db_ids`) and
    hashed, as a group's members and id are. On a machine whose memory is slow these reads are most of the time (a
    million objects, each elsewhere)."""
    import gc

    import xxhash

    was = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        index = dict(zip(inv.instances, range(len(inv.instances))))
        placed = [index.get(d.instance, -1) for d in inv.databases.values()]
        members = list(map(db_ids.__getitem__, order))
        xxhash.xxh64_hexdigest("\n".join(members).encode())
        elapsed = time.perf_counter() - t0
    finally:
        if was:
            gc.enable()
    assert len(placed) == len(db_ids)
    return elapsed


def synthetic_plan(n_groups: int, seed: int = 7):
    """`n_groups` hosts with one to three databases each, a year of windows, test before prod."""
    from oslomig import models
    from oslomig.loading import Inventory
    from oslomig.validation import resolve_ownership

    rng = random.Random(seed)
    hosts, instances, dbs, systems = [], [], [], []
    for g in range(n_groups):
        prod = g % 4 != 0
        h = f"{'p' if prod else 't'}{g:05d}"
        hosts.append(models.Host.model_construct(name=h, cluster=None))
        instances.append(models.Instance.model_construct(id=f"{h}/I", engine="sqlserver", host=h, hosts=None))
        for k in range(rng.randint(1, 3)):
            dbs.append(
                models.Database.model_construct(
                    id=f"{h}/I/d{k}",
                    instance=f"{h}/I",
                    size_gb=float(rng.choice([5, 20, 80, 300, 900])),
                    environment="prod" if prod else "test",
                    availability_group=None,
                    links=[],
                )
            )
    # systems: a test database and a prod database each, so test-before-prod ties groups together
    test_dbs = [d.id for d in dbs if d.environment == "test"]
    prod_dbs = [d.id for d in dbs if d.environment == "prod"]
    for s, (t, p) in enumerate(zip(test_dbs, prod_dbs[::3])):
        systems.append(
            models.System.model_construct(
                id=f"S{s:05d}", agency=None, contacts=[], databases=[t, p], depends_on=[], name=None
            )
        )
    inv = Inventory()
    inv.hosts = {h.name: h for h in hosts}
    inv.instances = {i.id: i for i in instances}
    inv.databases = {d.id: d for d in dbs}
    inv.systems = {s.id: s for s in systems}
    resolve_ownership(inv)
    weeks = max(52, n_groups // 8)
    plan = models.DatabasePlan.model_validate(
        {
            "kind": "database-migration",
            "name": f"bench {n_groups}",
            "period": {"start": "2021-01-04", "end": (dt.date(2021, 1, 4) + dt.timedelta(weeks=weeks)).isoformat()},
            "windows": [
                {
                    "name": "weeknight",
                    "weekdays": ["tue", "thu"],
                    "start": "18:00",
                    "hours": 10,
                    "parallel": 3,
                    "max_groups": 4,
                },
                {
                    "name": "saturday",
                    "weekdays": ["sat"],
                    "start": "08:00",
                    "hours": 14,
                    "parallel": 2,
                    "max_groups": 3,
                },
            ],
            "blackouts": [
                {"name": "fellesferie", "from": "2021-07-01", "to": "2021-08-08"},
                {"name": "helligdager", "holidays": "NO"},
            ],
            "test_before_prod_days": 7,
            "notice_days": 14,
        }
    )
    return plan, inv


def bench_schedule(args) -> None:
    from oslomig.planning.grouping import compute_groups
    from oslomig.planning.scheduling import build_schedule

    print(
        "schedule: groups over a year of windows (tue/thu nights, saturdays; holidays, fellesferie, test before prod)"
    )
    sizes = [100, 400, 1000] if args.quick else [100, 400, 1000, 3000, 10000]
    for n in sizes:
        plan, inv = synthetic_plan(n)
        grouping = compute_groups(plan, inv)
        t0 = time.perf_counter()
        result = build_schedule(plan, inv, grouping, dt.date(2020, 12, 1), time_limit=5.0)
        t = time.perf_counter() - t0
        s = result.as_json()["summary"]
        gap = "proven optimal" if s["proven_optimal"] else f"gap to lower bound {s['gap_hours']} h"
        verdict = f"budget 10 s: {'OK' if t <= 10 else 'OVER'}" if n == 400 else ""
        row(
            f"{len(grouping.groups):>6,} groups",
            f"{t:.2f} s",
            f"{s['scheduled']:,} placed, finish {s['finish'][:10] if s['finish'] else '-'}, {gap} ({s['solver']})",
            verdict,
        )
        if n > 1000:
            continue
        # re-plan with --previous after one new blackout for one system: budget as above, few groups moved
        from oslomig.models import Blackout

        previous = result.as_json()["assignments"]
        system = next(a for a in previous if a["systems"] and a["start"] > "2021-03-01")["systems"][0]
        blackout = Blackout.model_validate(
            {"name": "new", "from": "2021-03-01", "to": "2021-04-30", "systems": [system]}
        )
        changed = plan.model_copy(update={"blackouts": [*plan.blackouts, blackout]})
        t0 = time.perf_counter()
        again = build_schedule(changed, inv, grouping, dt.date(2020, 12, 1), time_limit=5.0, previous=previous)
        t = time.perf_counter() - t0
        a = again.as_json()["summary"]
        row(
            f"{len(grouping.groups):>6,} re-plan",
            f"{t:.2f} s",
            f"--previous + a blackout for {system}: {a['moved']} moved, {a['scheduled']:,} placed, "
            + ("proven optimal" if a["proven_optimal"] else f"gap {a['gap_hours']} h")
            + f" ({a['solver']})",
            f"budget 10 s: {'OK' if t <= 10 else 'OVER'}" if n == 400 else "",
        )


def _write_estate(n_groups: int, base: Path) -> Path:
    """The synthetic plan of `n_groups` as YAML files (plan + inventory), a tenth of its groups migrated, announced
    or failed, as `status` meets a season in progress."""
    import yaml

    plan, inv = synthetic_plan(n_groups)
    (base / "inventories").mkdir(parents=True, exist_ok=True)
    (base / "plans").mkdir(exist_ok=True)
    estate = {
        "agencies": [{"id": f"A{i}", "name": f"Etat {i}"} for i in range(20)],
        "systems": [
            {"id": s.id, "agency": f"A{i % 20}", "databases": s.databases} for i, s in enumerate(inv.systems.values())
        ],
        "hosts": [{"name": h} for h in inv.hosts],
        "instances": [{"id": i.id, "engine": "sqlserver", "host": i.host} for i in inv.instances.values()],
        "databases": [
            {"id": d.id, "instance": d.instance, "size_gb": d.size_gb, "environment": d.environment}
            for d in inv.databases.values()
        ],
    }
    (base / "inventories" / "estate.yaml").write_text(yaml.safe_dump(estate, sort_keys=False), encoding="utf-8")
    doc = plan.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    ids = sorted(inv.databases)
    doc["migrated"] = ids[: len(ids) // 10]
    doc["outcomes"] = [{"databases": [d], "start": "2021-01-05T18:00", "status": "failed"} for d in ids[-5:]]
    (base / "plans" / "plan.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return base / "plans" / "plan.yaml"


def bench_status(args) -> None:
    """`status` (SPEC §7) on the shipped estate (both plans, the demo share when `make demo` has run) and on a
    3,000-group estate written as YAML; the reference is `schedule` of the same plans in the same run."""
    import tempfile

    runs = max(3, args.runs // 2)
    print(f"status: the weekly dashboard (median of {runs} processes)")
    oslomig = str(BIN / "oslomig")
    plans = ["--plan", "plans/sql-2021.yaml", "--plan", "plans/oracle-2021.yaml", "--today", "2021-06-08"]
    share = ["--share-plan", "plans/demo-shares.yaml", "--manifest", "demo-out/manifest"]
    if not (ROOT / "demo-out" / "manifest" / "manifest.csv").exists():
        share = []
    with tempfile.TemporaryDirectory() as tmp:
        t = median_time([oslomig, "status", *plans, *share, "--out", tmp], runs)
        ref = sum(
            median_time([oslomig, "schedule", "--plan", p, "--today", "2021-06-08", "-f", "json"], runs)
            for p in ("plans/sql-2021.yaml", "plans/oracle-2021.yaml")
        )
        row(
            "status, shipped estate" + (" + share" if share else ""),
            f"{t:.2f} s",
            f"schedule of both plans: {ref:.2f} s",
            f"budget 3 s: {'OK' if t <= 3 else 'OVER'}",
        )
        n = 1000 if args.quick else 3000
        plan = _write_estate(n, Path(tmp) / "estate")
        out = Path(tmp) / "out"
        t = median_time([oslomig, "status", "--plan", str(plan), "--today", "2021-03-01", "--out", str(out)], 3)
        ref = median_time([oslomig, "schedule", "--plan", str(plan), "--today", "2021-03-01", "-f", "json"], 3)
        data = json.loads((out / "status.json").read_text(encoding="utf-8")) if (out / "status.json").exists() else {}
        groups = data.get("plans", [{}])[0].get("groups", 0)
        row(
            f"status, {groups:,} groups from YAML",
            f"{t:.2f} s",
            f"schedule of the same plan: {ref:.2f} s",
            "written" if data else "FAILED",
        )


# ------------------------------------------------------------------ shares

BENCH_DIR = Path("/tmp/oslomig-bench")


def make_tree(n_files: int) -> Path:
    """A tree of `n_files` sparse files (no disk used), 1,000 per folder; kept between runs."""
    import os

    root = BENCH_DIR / f"tree-{n_files}"
    if (root / ".complete").exists():
        return root
    for d in range((n_files + 999) // 1000):
        folder = root / f"avd{d // 50:03d}" / f"mappe{d:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(min(1000, n_files - d * 1000)):
            fd = os.open(folder / f"dokument-{f:04d}.docx", os.O_CREAT | os.O_WRONLY, 0o644)
            size = (d * 1000 + f) * 7 + 1 if f % 50 else 4096  # mostly unique sizes; 2% collide and are hashed
            os.ftruncate(fd, size)
            os.close(fd)
    (root / ".complete").touch()
    return root


def make_small_folder_tree(n_files: int, per_folder: int = 4) -> Path:
    """A tree of `n_files` empty files, `per_folder` to a folder, 100 folders to a parent: where an SFTP walk's
    round trip per folder shows (a case file, a project, a person's folder); kept between runs."""
    root = BENCH_DIR / f"small-folders-{n_files}"
    if (root / ".complete").exists():
        return root
    for d in range((n_files + per_folder - 1) // per_folder):
        folder = root / f"avd{d // 100:03d}" / f"sak{d:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(min(per_folder, n_files - d * per_folder)):
            (folder / f"vedlegg-{f}.pdf").touch()
    (root / ".complete").touch()
    return root


def sftp_walk(server, root: Path) -> tuple[float, int]:
    """Seconds and files of a walk by SFTP: one listdir_attr round trip per folder, what a naive tool does."""
    import stat as stat_

    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(str(server.known_hosts))
    client.connect(
        "127.0.0.1",
        port=server.port,
        username=server.user,
        key_filename=str(server.key_file),
        look_for_keys=False,
        allow_agent=False,
    )
    try:
        sftp = client.open_sftp()
        t0 = time.perf_counter()
        stack, count = [str(root)], 0
        while stack:
            folder = stack.pop()
            for attr in sftp.listdir_attr(folder):
                if stat_.S_ISDIR(attr.st_mode or 0):
                    stack.append(f"{folder}/{attr.filename}")
                else:
                    count += 1
        return time.perf_counter() - t0, count
    finally:
        client.close()


def make_department_tree(n_files: int, seed: int = 2021) -> Path:
    """SPEC §6's department tree: `n_files` real files in nested folders of uneven fan-out, log-normal sizes
    (median about 1 KB, capped at 256 KB), about 5% exact copies, files of one size mostly differing in their
    first bytes. Kept between runs (`.complete`); its disk use is printed."""
    import math

    root = BENCH_DIR / f"dept-{n_files}"
    if (root / ".complete").exists():
        return root
    rng = random.Random(seed)
    folders = [root]
    made = 0
    originals: list[Path] = []
    while made < n_files:
        # uneven fan-out: most folders hold a handful of files, a few hold hundreds
        parent = folders[int(len(folders) * rng.random() ** 2)] if len(folders) > 1 else root
        folder = parent / f"mappe-{len(folders):06d}"
        folder.mkdir(parents=True, exist_ok=True)
        folders.append(folder)
        for _ in range(min(n_files - made, int(rng.paretovariate(1.2) * 8))):
            path = folder / f"dok-{made:07d}.{rng.choice(['docx', 'xlsx', 'pdf', 'txt', 'msg'])}"
            if originals and rng.random() < 0.05:
                path.write_bytes(rng.choice(originals).read_bytes())  # an exact copy
            else:
                size = min(256 * 1024, max(1, int(math.exp(rng.gauss(math.log(1024), 1.3)))))
                # the first bytes differ between files of one size (a header with a counter), the rest repeats
                head = f"{made:012d}".encode()
                path.write_bytes((head + bytes([made % 251]) * size)[:size])
                if len(originals) < 5000:
                    originals.append(path)
            made += 1
    (root / ".complete").touch()
    return root


def disk_use(root: Path) -> str:
    out = subprocess.run(["du", "-sh", str(root)], capture_output=True, text=True).stdout.split()
    return out[0] if out else "?"


def bench_share_dept(args) -> None:
    """SPEC §6: the department tree (duplicates included) against rdfind -dryrun true on the same tree."""
    sizes = [200_000] if args.quick else [200_000, 1_000_000]
    rdfind = shutil.which("rdfind")
    print(
        "share scan, local, department tree (3 rounds of find, rdfind and the scan in turn; medians, and the median"
        " of the rounds' ratios)"
    )
    for n in sizes:
        root = make_department_tree(n)
        find_cmd = ["find", str(root), "-printf", "%s %T@ %p\n"]
        subprocess.run(find_cmd, stdout=subprocess.DEVNULL)  # warm the cache
        db = BENCH_DIR / f"dept-{n}.sqlite"
        commands = {"find": (find_cmd, None)}
        if rdfind:
            commands["rdfind"] = ([rdfind, "-dryrun", "true", "-outputname", "/dev/null", str(root)], None)
        commands["ours"] = ([str(BIN / "oslomig"), "share", "scan", str(root), "--db", str(db)], removing(db))
        timed = Rounds(3, **commands)
        ours, ref_find = timed.median("ours"), timed.median("find")
        if rdfind:
            ratio = timed.ratio("ours", "rdfind")
            verdict = f"ratio {ratio:.2f}x (budget 1.0x): {'OK' if ratio <= 1 else 'OVER'}"
            reference = f"rdfind -dryrun: {timed.median('rdfind'):.2f} s; find: {ref_find:.2f} s"
        else:
            verdict, reference = "rdfind not installed (make bench installs it)", f"find: {ref_find:.2f} s"
        row(f"department tree, {n:,} files ({disk_use(root)})", f"{ours:.2f} s", reference, verdict)
        row("", f"peak {timed.peaks['ours'] / 1024:.0f} MB", "", "")
        if rdfind:
            timed.floor_row("ours", "rdfind")


def removing(db: Path):
    """A setup step for timed_rss: each timed scan starts from no scan database."""

    def fresh() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)

    return fresh


def timed_rss(cmd: list[str], runs: int, setup=None) -> tuple[float, int]:
    """Median wall time and the largest peak RSS (KB) over `runs` runs, via /usr/bin/time."""
    times, peaks, _cpu = zip(*(_timed_once(cmd, setup) for _ in range(runs)), strict=True)
    return statistics.median(times), max(peaks)


def machine_cpu() -> float:
    """CPU seconds the machine has spent busy so far, every process counted (/proc/stat: user, nice, system, irq,
    softirq; not idle, I/O wait or time stolen by a neighbour's machine), or NaN where there is no /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
    except OSError:
        return math.nan
    return sum(int(fields[k]) for k in (1, 2, 3, 6, 7)) / os.sysconf("SC_CLK_TCK")


def _timed_once(cmd: list[str], setup=None) -> tuple[float, int, float]:
    """Wall time, peak RSS (KB) and the machine's busy CPU seconds (`machine_cpu`) over one run of `cmd`: on
    loopback a server's processes (sshd, the server's find) are counted too."""
    if setup:
        setup()
    t0, cpu0 = time.perf_counter(), machine_cpu()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "RSS %M", *cmd],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall, cpu = time.perf_counter() - t0, machine_cpu() - cpu0
    return wall, int(proc.stderr.strip().rsplit("RSS ", 1)[-1]), cpu


class Rounds:
    """Commands timed in turn, one run of each a round: a neighbour's load drifts over a benchmark, so a command
    and its reference are compared within each round (the median of the rounds' ratios), not as two medians taken
    minutes apart."""

    def __init__(self, runs: int, **commands: tuple[list[str], object]):
        """`commands`: name -> (command, setup before each run or None)."""
        self.times: dict[str, list[float]] = {name: [] for name in commands}
        self.cpu: dict[str, list[float]] = {name: [] for name in commands}
        self.peaks: dict[str, int] = dict.fromkeys(commands, 0)
        for _ in range(runs):
            for name, (cmd, setup) in commands.items():
                t, peak, cpu = _timed_once(cmd, setup)
                self.times[name].append(t)
                self.cpu[name].append(cpu)
                self.peaks[name] = max(self.peaks[name], peak)

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratio(self, name: str, reference: str) -> float:
        """The median over rounds of `name`'s time over `reference`'s in the same round."""
        return statistics.median(a / b for a, b in zip(self.times[name], self.times[reference], strict=True))

    def floor_row(self, name: str, reference: str) -> None:
        """The machine's CPU seconds for `name` and `reference` (medians), and the floor that sets on `name` with
        every core busy all along (CPU / cores), as a ratio to `reference`'s time in the same round (median)."""
        cores = os.cpu_count() or 1
        floor = statistics.median(c / cores / t for c, t in zip(self.cpu[name], self.times[reference], strict=True))
        row(
            "",
            f"CPU {statistics.median(self.cpu[name]):.2f} s",
            f"{reference}: CPU {statistics.median(self.cpu[reference]):.2f} s (every process, /proc/stat)",
            f"floor on {cores} cores: {floor:.2f}x",
        )


def peak_pss(cmd: list[str]) -> int:
    """Peak of the proportional set size (KB) summed over the command and its children, sampled every 20 ms:
    the memory of a command that forks a second process, each shared page counted once (RSS would count the
    pages the child shares with its parent twice)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        pids = [proc.pid]
        try:
            pids += [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        except OSError:
            pass
        total = 0
        for pid in pids:
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            total += sum(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
        peak = max(peak, total)
        time.sleep(0.02)
    return peak


# CPU seconds of what a scan that keeps its rows in SQLite cannot do without, in a process of its own: `find`
# printing the scan's own format (`found.PRINTF`, as `find_expression` asks: the type and owner too), SQLite storing
# the listing's paths alone (the table's key, nothing parsed or cast), and SQLite storing every column as the scan
# stores them (`ScanStore.add_found`). find's listing is made and cut into chunks before SQLite's clock starts.
_FLOORS = """
import os, resource, sys, tempfile, time
from oslomig.shares import found
from oslomig.shares.store import FOUND_PATH, ScanStore
root, directory = sys.argv[1], sys.argv[2]
with tempfile.TemporaryFile(dir=directory) as out:
    import subprocess
    subprocess.run(["find", ".", "-mindepth", "1", *found.find_expression(os.stat(root).st_uid)], cwd=root,
                   stdout=out, check=True, env={**os.environ, "LC_ALL": "C"})
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("find", used.ru_utime + used.ru_stime)
    out.seek(0)
    batches = [f.batch(lambda uid: "owner") for f in found.FoundChunks(out.read)]
sql = (
    f"INSERT INTO files (scan_id, path, kind, size, mtime, owner) SELECT ?1, {FOUND_PATH}, 'file', 0, 0.0, ?3 "
    "FROM json_each(?4)"
)
for what in ("paths", "rows"):
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        store = ScanStore(os.path.join(tmp, f"{what}.sqlite"))
        scan_id = store.begin_scan("floor", root)
        cpu = time.process_time()
        for batch in batches:
            if what == "rows":
                store.add_found(scan_id, batch.data, batch.groups, batch.kind)
                continue
            with store.transaction() as db:
                for owner, spans in batch.groups:
                    db.execute(sql, (scan_id, batch.data, owner, spans))
        store.close()
        print(what, time.process_time() - cpu)
"""


def floors_cpu(root: Path) -> dict[str, float]:
    """`_FLOORS` on the tree: CPU seconds of find in the scan's format ("find"), and of SQLite storing the paths
    alone ("paths") and every column ("rows")."""
    proc = subprocess.run(
        [PY, "-c", _FLOORS, str(root), str(BENCH_DIR)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return {line.split()[0]: float(line.split()[1]) for line in proc.stdout.splitlines() if line.strip()}


def bench_share_local(args) -> None:
    sizes = [10_000, 100_000] if args.quick else [100_000, 1_000_000]
    print(
        "share scan, local, warm cache (3 rounds, each with find; medians, and the median of the rounds' ratios;"
        " peak memory should stay flat as the tree grows)"
    )
    for n in sizes:
        root = make_tree(n)
        find_cmd = ["find", str(root), "-printf", "%s %T@ %p\n"]
        subprocess.run(find_cmd, stdout=subprocess.DEVNULL)  # warm the cache
        db = BENCH_DIR / f"scan-{n}.sqlite"
        scan = [str(BIN / "oslomig"), "share", "scan", str(root), "--db", str(db)]
        timed = Rounds(3, find=(find_cmd, None), ours=(scan, removing(db)))
        ratio = timed.ratio("ours", "find")
        row(
            f"oslomig share scan, {n:,} files",
            f"{timed.median('ours'):.2f} s",
            f"find -printf: {timed.median('find'):.2f} s; peak {timed.peaks['ours'] / 1024:.0f} MB",
            f"ratio {ratio:.2f}x (budget 1.0x): {'OK' if ratio <= 1 else 'OVER'}",
        )
        timed.floor_row("ours", "find")
        if n >= 1_000_000:  # the physical floors: find's CPU and SQLite's storing, over the cores
            alone = floors_cpu(root)
            cores = os.cpu_count() or 1
            least = (statistics.median(timed.cpu["find"]) + alone["paths"]) / cores / timed.median("find")
            row(
                "",
                f"paths {alone['paths']:.2f} s",
                "SQLite storing the paths alone: CPU",
                f"find + that on {cores} cores: {least:.2f}x",
            )
            every = (alone["find"] + alone["rows"]) / cores / timed.median("find")
            row(
                "",
                f"rows {alone['rows']:.2f} s",
                f"SQLite storing every column as the scan does: CPU; find in the scan's format: {alone['find']:.2f} s",
                f"the two on {cores} cores: {every:.2f}x",
            )


def bench_manifest(args) -> None:
    n = 100_000 if args.quick else 1_000_000
    db = BENCH_DIR / f"scan-{n}.sqlite"
    if not db.exists():
        print(f"share manifest: run the share-local benchmark first (it makes {db})")
        return
    plan = BENCH_DIR / "plan.yaml"
    plan.write_text(
        f"kind: share-migration\nname: bench\nshares:\n  - id: tree-{n}\n    source: {make_tree(n)}\n"
        "    target: {site: https://tenant.sharepoint.com/sites/Bench, folder: Felles}\n"
        "    routes: [{match: 'avd000/**', action: skip}]\n"
    )
    # the ad hoc scan named the share after its folder
    print(f"share manifest of {n:,} files (median of 3)")
    cmd = [str(BIN / "oslomig"), "share", "manifest", "--plan", str(plan), "--db", str(db)]
    cmd += ["--out", str(BENCH_DIR / "manifest"), "--today", "2021-04-20"]
    t, rss = timed_rss(cmd, 3)
    # from 200,000 rows a second process reads and classifies: its memory counts too
    pss = peak_pss(cmd)
    budget = 5 * n / 1_000_000  # SPEC §6: 1,000,000 files in 5 s (scaled for --quick)
    row(
        f"oslomig share manifest, {n:,} files",
        f"{t:.2f} s",
        f"peak {pss / 1024:.0f} MB, both processes (largest alone {rss / 1024:.0f} MB; budget 300 MB)",
        f"budget {budget:g} s: {'OK' if t <= budget and pss <= 300 * 1024 else 'OVER'}",
    )


def bench_share_ssh(args) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import getpass

    from servers import running_sshd

    n = 20_000 if args.quick else 100_000
    root = make_tree(n)
    print(f"share scan over SSH on loopback, {n:,} files (3 rounds of ssh find and the scan; medians, ratio per round)")
    try:
        server_cm = running_sshd(user=getpass.getuser())
        server = server_cm.__enter__()
    except FileNotFoundError as exc:
        print(f"  skipped: {exc}")
        return
    try:
        ssh = [
            "ssh",
            "-i",
            str(server.key_file),
            "-p",
            str(server.port),
            "-o",
            f"UserKnownHostsFile={server.known_hosts}",
            "-o",
            "BatchMode=yes",
            f"{server.user}@127.0.0.1",
        ]
        small = make_small_folder_tree(n)
        for tree, what in ((root, "1,000 files a folder"), (small, "4 files a folder")):
            ref_cmd = ssh + [f"find {tree} -printf '%s %T@ %p\n'"]
            subprocess.run(ref_cmd, stdout=subprocess.DEVNULL)
            db = BENCH_DIR / "ssh.sqlite"
            cmd = [str(BIN / "oslomig"), "share", "scan", server.url(str(tree)), "--db", str(db)]
            cmd += ["--key-file", str(server.key_file), "--known-hosts", str(server.known_hosts)]
            timed = Rounds(3, ref=(ref_cmd, None), ours=(cmd, removing(db)))
            ours, ratio = timed.median("ours"), timed.ratio("ours", "ref")
            sftp_time, count = sftp_walk(server, tree)
            row(
                f"oslomig share scan ssh://, {what}",
                f"{ours:.2f} s",
                f"ssh host find -printf: {timed.median('ref'):.2f} s",
                f"ratio {ratio:.2f}x (budget 1.2x): {'OK' if ratio <= 1.2 else 'OVER'}",
            )
            timed.floor_row("ours", "ref")
            row(
                "",
                "",
                f"SFTP walk ({count:,} files): {sftp_time:.2f} s",
                f"speed-up {sftp_time / ours:.1f}x (goal >= 10x on small folders)",
            )
    finally:
        server_cm.__exit__(None, None, None)


def bench_share_smb(args) -> None:
    """SMB scan (smbprotocol) of a tree served by Samba on loopback, beside a local scan of the same tree and
    Samba's own client listing it recursively, in the same run."""
    sys.path.insert(0, str(ROOT / "tests"))
    from servers import SMB_PASSWORD, running_smbd

    n = 20_000 if args.quick else 100_000
    root = make_tree(n)
    print(f"share scan over SMB on loopback (Samba), {n:,} files in {n // 1000} folders (median of 3)")
    try:
        server_cm = running_smbd(root=root)
        server = server_cm.__enter__()
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        print(f"  skipped: {exc}")
        return
    try:
        db = BENCH_DIR / "smb.sqlite"

        fresh = removing(db)
        scan = [str(BIN / "oslomig"), "share", "scan"]
        os.environ["OSLOMIG_SMB_PASSWORD"] = SMB_PASSWORD
        ours, rss = timed_rss([*scan, server.url("dept"), "--db", str(db)], 3, fresh)
        local, _ = timed_rss([*scan, str(root), "--db", str(db)], 3, fresh)
        row(
            "oslomig share scan smb://",
            f"{ours:.2f} s",
            f"local scan of the same tree: {local:.2f} s",
            f"ratio {ours / local:.1f}x, peak {rss / 1024:.0f} MB",
        )
        smbclient = shutil.which("smbclient")
        if smbclient:
            auth = server.base / "auth"
            auth.write_text(f"username = {server.user}\npassword = {SMB_PASSWORD}\n")
            ref, _ = timed_rss(
                [smbclient, "//127.0.0.1/dept", "-p", str(server.port), "-A", str(auth), "-c", "recurse ON; ls"], 3
            )
            row("", "", f"smbclient recurse; ls (Samba's client): {ref:.2f} s", f"ratio {ours / ref:.1f}x")
        with open("/proc/filesystems", encoding="ascii") as handle:
            cifs = "cifs" in handle.read()
        row("", "", f"mount -t cifs: {'possible' if cifs else 'not here (no cifs in this kernel)'}", "")
    finally:
        os.environ.pop("OSLOMIG_SMB_PASSWORD", None)
        server_cm.__exit__(None, None, None)


def bench_inventory_scan(args) -> None:
    """Targets scanned concurrently: wall time beside the sum of per-target times (real PostgreSQL and sshd)."""
    import getpass
    import os
    import re

    sys.path.insert(0, str(ROOT / "tests"))
    from servers import running_postgres, running_sshd

    print("inventory scan: 6 targets (3 PostgreSQL through pyodbc, 3 hosts over SSH), real servers on loopback")
    try:
        with running_postgres("bench-password") as pg, running_sshd(user=getpass.getuser()) as ssh:
            for i in range(5):
                pg.psql(f"CREATE DATABASE bench{i}")
            targets = BENCH_DIR / "targets.yaml"
            BENCH_DIR.mkdir(exist_ok=True)
            lines = ["kind: scan-targets", "postgres:"]
            lines += [
                "  - "
                f"{{name: pg{i}, host: 127.0.0.1, host_id: h{i}, port: {pg.port}, username: inventory, "
                "password_env: OSLOMIG_BENCH_PW}"
                for i in range(3)
            ]
            lines += ["hosts:"]
            lines += [
                "  - "
                f"{{name: h{i}, host: 127.0.0.1, port: {ssh.port}, username: {ssh.user}, key_file: {ssh.key_file}, "
                f"known_hosts: {ssh.known_hosts}}}"
                for i in range(3)
            ]
            targets.write_text("\n".join(lines) + "\n")
            env = {**os.environ, "OSLOMIG_BENCH_PW": "bench-password"}
            walls, sums = [], []
            for workers in (1, 8):
                proc = subprocess.run(
                    [
                        str(BIN / "oslomig"),
                        "inventory",
                        "scan",
                        "--targets",
                        str(targets),
                        "--out",
                        str(BENCH_DIR / "inv"),
                        "--quiet",
                        "--workers",
                        str(workers),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                m = re.search(r"([\d.]+) s wall, ([\d.]+) s summed", proc.stderr)
                walls.append(float(m[1]))
                sums.append(float(m[2]))
            row(
                "6 targets, --workers 8",
                f"{walls[1]:.2f} s wall",
                f"sum of per-target times: {sums[1]:.2f} s",
                f"concurrency {sums[1] / walls[1]:.1f}x",
            )
            row(
                "6 targets, --workers 1 (reference)",
                f"{walls[0]:.2f} s wall",
                f"sum of per-target times: {sums[0]:.2f} s",
                "",
            )
    except FileNotFoundError as exc:
        print(f"  skipped: {exc}")


BENCHES = {
    "startup": bench_startup,
    "validate": bench_validate,
    "groups": bench_groups,
    "groups-yaml": bench_groups_yaml,
    "schedule": bench_schedule,
    "status": bench_status,
    "share-local": bench_share_local,
    "share-dept": bench_share_dept,
    "share-ssh": bench_share_ssh,
    "share-smb": bench_share_smb,
    "manifest": bench_manifest,
    "inventory-scan": bench_inventory_scan,
}


def compile_sources() -> None:
    """The project's modules compiled to bytecode before anything is timed, as pip compiles a package it installs.
    An editable install leaves that to each run, which writes nothing where PYTHONDONTWRITEBYTECODE is set (as on
    the machines this was measured on): every command then compiled its modules again, 20-30 ms of an SSH scan (nine
    interleaved pairs: 0.975 and 0.985), which no installed copy pays."""
    import compileall

    compileall.compile_dir(ROOT / "src", quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", choices=[*BENCHES, []], default=[])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--runs", type=int, default=11, help="repetitions for process timings")
    args = parser.parse_args()
    compile_sources()
    for name in args.which or list(BENCHES):
        BENCHES[name](args)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
