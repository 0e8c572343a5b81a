"""The weekly status dashboard (SPEC §7), as a person sees it: opened in a real headless Chromium, compared number by
number with status.json, and status.json compared with `schedule`, `verify` and the share manifest."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TODAY = "2021-06-08"
# as root, with no network beyond loopback: no sandbox, and none of Chromium's own calls home
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def season(tmp_path_factory) -> dict:
    """The shipped plans carried into June: two weeks announced, May's windows recorded (one failed), a share
    through manifest, decisions and verify (the demo's steps, through the real CLI); then `status`."""
    base = tmp_path_factory.mktemp("season")
    (base / "inventories").symlink_to(ROOT / "inventories")
    plans = base / "plans"
    plans.mkdir()
    for name in ("sql-2021.yaml", "oracle-2021.yaml"):
        shutil.copy(ROOT / "plans" / name, plans / name)
    sql = plans / "sql-2021.yaml"
    assert run_cli("announce", "--plan", str(sql), "--through", "2021-05-28", "--today", "2021-04-20").returncode == 0
    first = json.loads(run_cli("schedule", "--plan", str(sql), "--today", "2021-05-12", "-f", "json").stdout or "{}")
    may = sorted((a for a in first["assignments"] if a["announced"] and a["start"] < "2021-05-20"), key=str)
    failed, done = may[0], may[1:]
    proc = run_cli(
        "record", "--plan", str(sql), "--group", failed["group"], "--status", "failed",
        "--at", failed["start"][:10] + "T23:00", "--note", "rollback <b>not bold</b>",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    groups = [arg for a in done for arg in ("--group", a["group"])]
    proc = run_cli("record", "--plan", str(sql), *groups, "--status", "done", "--at", "2021-05-20T23:00")
    assert proc.returncode == 0, proc.stderr
    assert f"in {len(done)} window(s) as migrated" in proc.stderr
    assert run_cli("announce", "--plan", str(sql), "--through", "2021-06-20", "--today", "2021-05-12").returncode == 0
    out = base / "status"
    args = ["status", "--plan", str(sql), "--plan", str(plans / "oracle-2021.yaml"), "--today", TODAY]
    proc = run_cli(*args, "--share-plan", str(ROOT / "plans" / "demo-shares.yaml"), "--manifest", str(share(base)),
                   "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # not a TTY: the files are the output
    return {"base": base, "sql": sql, "oracle": plans / "oracle-2021.yaml", "out": out, "failed": failed,
            "done": done, "args": args}  # fmt: skip


def share(base: Path) -> Path:
    """A scanned demo share with its manifest (no decisions yet, so review rows are open)."""
    sys_path = str(ROOT / "scripts")
    import sys

    if sys_path not in sys.path:
        sys.path.insert(0, sys_path)
    from demo_share_tree import generate

    tree = base / "share-tree" / "Okonomi"
    generate(tree)
    plan = base / "shares.yaml"
    text = (ROOT / "plans" / "demo-shares.yaml").read_text(encoding="utf-8")
    plan.write_text(text.replace("../demo-out/share-tree", str(base / "share-tree")), encoding="utf-8")
    db, man = base / "shares.sqlite", base / "manifest"
    assert run_cli("share", "scan", "--plan", str(plan), "--db", str(db)).returncode == 0
    proc = run_cli("share", "manifest", "--plan", str(plan), "--db", str(db), "--out", str(man), "--today", TODAY)
    assert proc.returncode == 0, proc.stderr
    return man


def at(data, path: str):
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def parse_number(text: str, lang: str) -> float:
    text = text.replace("\u00a0", "").replace(" ", "")
    text = text.replace(",", ".") if lang == "nb" else text.replace(",", "")
    return float(text)


def parse_size(text: str, lang: str) -> tuple[float, float]:
    """'53,1 kB' -> (53100, 50): the value and how far rounding may have moved it."""
    value, unit = text.split()
    scale = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[unit]
    return parse_number(value, lang) * scale, (0.5 if unit == "B" else 0.05) * scale


def open_in_chromium(page_path: Path, shot: Path) -> dict:
    """Load the page from disk in headless Chromium; every request, console message and dialog is recorded."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/system-packages.sh installs it)")
    seen: dict = {"requests": [], "console": [], "errors": [], "dialogs": []}
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone first
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.on("console", lambda m: seen["console"].append((m.type, m.text)))
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
            page.goto(page_path.as_uri(), wait_until="load")
            seen["phone_overflow"] = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            page.set_viewport_size({"width": 1200, "height": 900})
            page.screenshot(path=str(shot), full_page=True)
            seen["numbers"] = page.eval_on_selector_all("[data-n]", "els => els.map(e => [e.dataset.n, e.innerText])")
            seen["bytes"] = page.eval_on_selector_all(
                "[data-bytes]", "els => els.map(e => [e.dataset.bytes, e.innerText])"
            )
            seen["text"] = page.inner_text("body")
            seen["scripts"] = page.eval_on_selector_all("script", "els => els.length")
            seen["tables"] = page.eval_on_selector_all(
                "table[id]", "els => Object.fromEntries(els.map(t => [t.id, t.tBodies[0].rows.length]))"
            )
            seen["svgs"] = page.eval_on_selector_all("figure svg", "els => els.map(e => e.getBBox().width)")
            page.emulate_media(media="print")
            seen["pdf"] = page.pdf(format="A4")
        finally:
            browser.close()
    return seen


def test_the_page_in_chromium_shows_exactly_the_numbers_of_status_json(season, tmp_path):
    out = season["out"]
    data = json.loads((out / "status.json").read_text(encoding="utf-8"))
    seen = open_in_chromium(out / "status.html", tmp_path / "shot.png")
    # self-contained: the page itself is the only request; nothing logged, nothing thrown
    assert seen["requests"] == [(out / "status.html").as_uri()]
    assert seen["console"] == [] and seen["errors"] == [] and seen["dialogs"] == []
    assert seen["scripts"] == 0
    assert (tmp_path / "shot.png").stat().st_size > 20_000 and seen["pdf"][:5] == b"%PDF-"
    assert seen["phone_overflow"] <= 0, "the page is wider than a phone (tables must scroll inside their box)"
    # every number on the page is the one in status.json
    assert len(seen["numbers"]) > 100
    for path, text in seen["numbers"]:
        assert parse_number(text, "nb") == pytest.approx(at(data, path)), path
    assert seen["bytes"]
    for path, text in seen["bytes"]:
        value, slack = parse_size(text, "nb")
        assert abs(value - at(data, path)) <= slack, (path, text)
    # every list of status.json is a table with one row per entry
    tables = seen["tables"]
    assert tables["progress"] == len(data["progress"]) + 1  # and the total row
    assert tables["next-windows"] == len(data["next_windows"]) > 0
    assert tables["to-publish"] == len(data["to_publish"]) > 0
    assert tables["failed"] == len(data["failed"]) == 1
    assert tables["unscheduled"] == len(data["unscheduled"]) == 1
    assert tables["shares"] == len(data["shares"]["shares"]) == 1
    assert all(w > 100 for w in seen["svgs"]) and len(seen["svgs"]) == 2  # the burn-up and the agency bars
    # the failure's note is shown as text, its markup too
    assert "rollback <b>not bold</b>" in seen["text"]


def test_status_json_agrees_with_schedule_verify_and_the_manifest(season, tmp_path):
    data = json.loads((season["out"] / "status.json").read_text(encoding="utf-8"))
    by_name = {p["name"]: p for p in data["plans"]}
    migrated_total = 0
    for plan in (season["sql"], season["oracle"]):
        out = tmp_path / f"{plan.stem}.json"
        proc = run_cli("schedule", "--plan", str(plan), "--today", TODAY, "-f", "json", "-o", str(out))
        assert proc.returncode in (0, 1), proc.stderr
        sched = json.loads(out.read_text(encoding="utf-8"))
        assert run_cli("verify", "--plan", str(plan), "--schedule", str(out)).returncode == 0
        mine = by_name[sched["plan"]]
        announced = sum(1 for a in sched["assignments"] if a["announced"])
        assert mine["announced"] == announced
        assert mine["scheduled"] == sched["summary"]["scheduled"] - announced
        assert mine["unscheduled"] == sched["summary"]["unscheduled"]
        assert mine["groups"] == sched["summary"]["groups"]
        dbs = Counter()
        for a in sched["assignments"]:
            dbs["announced" if a["announced"] else "scheduled"] += len(a["databases"])
        for u in sched["unscheduled"]:
            dbs["unscheduled"] += len(u["databases"])
        migrated_total += mine["migrated_databases"]
        for state in ("announced", "scheduled", "unscheduled"):
            by_name[sched["plan"]].setdefault("_dbs", Counter())[state] += dbs[state]
    total = data["total"]["databases"]
    for state in ("announced", "scheduled", "unscheduled"):
        assert total[state] == sum(p["_dbs"][state] for p in by_name.values()), state
    import yaml

    shipped = len(yaml.safe_load((ROOT / "plans" / "sql-2021.yaml").read_text(encoding="utf-8"))["migrated"])
    assert total["migrated"] == migrated_total == shipped + sum(len(a["databases"]) for a in season["done"])
    assert total["total"] == sum(total[s] for s in ("migrated", "announced", "scheduled", "unscheduled"))
    # the rows add up to the total, state by state
    for state in ("migrated", "announced", "scheduled", "unscheduled", "total"):
        assert sum(r["databases"][state] for r in data["progress"]) == total[state]
    # the failure, and the group's new window
    (failed,) = data["failed"]
    assert failed["status"] == "failed" and failed["start"] == season["failed"]["start"][:16].replace("T", " ")
    assert failed["new_start"] > failed["start"] and failed["new_group"] == season["failed"]["group"]
    # the burn-up: actual reaches what was migrated, planned and forecast reach everything that has a window
    burnup = data["burnup"]
    assert max(v for v in burnup["actual"] if v is not None) == total["migrated"]
    assert burnup["forecast"][-1] == total["total"] - total["unscheduled"]
    # shares: files by action as manifest.csv has them
    with (season["base"] / "manifest" / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    actions = Counter(r["action"] for r in rows)
    sizes = Counter()
    for r in rows:
        sizes[r["action"]] += int(r["size_bytes"] or 0)
    for action in ("migrate", "review", "skip"):
        assert data["shares"]["by_action"][action]["files"] == actions[action], action
        assert data["shares"]["by_action"][action]["bytes"] == sizes[action], action
    (row,) = data["shares"]["shares"]
    assert row["review_open"] == actions["review"] > 0 and row["safe_to_delete"] is False
    assert "review row(s) still open" in row["blocked_because"]


def test_the_same_inputs_give_the_same_bytes_and_english_on_request(season, tmp_path):
    again = tmp_path / "again"
    proc = run_cli(*season["args"], "--share-plan", str(ROOT / "plans" / "demo-shares.yaml"), "--manifest",
                   str(season["base"] / "manifest"), "--out", str(again))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for name in ("status.html", "status.png", "status.json"):
        assert (again / name).read_bytes() == (season["out"] / name).read_bytes(), name
    en = tmp_path / "en"
    assert run_cli(*season["args"], "--lang", "en", "--out", str(en)).returncode == 0
    html = (en / "status.html").read_text(encoding="utf-8")
    assert "<title>Migration status week 23 (2021-06-08)</title>" in html and 'lang="en"' in html
    assert json.loads((en / "status.json").read_text(encoding="utf-8"))["shares"] is None
    png = (en / "status.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (int.from_bytes(png[16:20]), int.from_bytes(png[20:24])) == (1200, 630)


NASTY_SYSTEM = "<script>alert('sys')</script> \"Ærlig\" & 'ødelagt' <img src=x onerror=alert(1)>"
NASTY_AGENCY = "Bydel </td><script>alert(2)</script> Søndre Å"
NASTY_CONTACT = 'Åse "<b>" O\'Brien'


def nasty_estate(base: Path) -> Path:
    inv = base / "inventories"
    inv.mkdir()
    (inv / "estate.yaml").write_text(
        f"""agencies:
  - id: BSA
    name: {json.dumps(NASTY_AGENCY)}
systems:
  - id: SYS-1
    name: {json.dumps(NASTY_SYSTEM)}
    agency: BSA
    contacts:
      - name: {json.dumps(NASTY_CONTACT)}
        email: ase@example.org
    databases: [h1/MSSQLSERVER/Kasse, h1/MSSQLSERVER/Kasse_TEST]
hosts:
  - name: h1
instances:
  - id: h1/MSSQLSERVER
    engine: sqlserver
    host: h1
databases:
  - id: h1/MSSQLSERVER/Kasse
    instance: h1/MSSQLSERVER
    size_gb: 12
    environment: prod
  - id: h1/MSSQLSERVER/Kasse_TEST
    instance: h1/MSSQLSERVER
    size_gb: 3
    environment: test
""",
        encoding="utf-8",
    )
    plans = base / "plans"
    plans.mkdir()
    plan = plans / "plan.yaml"
    plan.write_text(
        """kind: database-migration
name: "Plan <i>x</i>"
period: {start: 2021-05-03, end: 2021-06-30}
notice_days: 7
windows:
  - {name: weeknight, weekdays: [tue, thu], start: "18:00", hours: 10}
""",
        encoding="utf-8",
    )
    return plan


def test_names_with_markup_quotes_and_aeoeaa_render_as_text(tmp_path):
    plan = nasty_estate(tmp_path)
    out = tmp_path / "out"
    proc = run_cli("status", "--plan", str(plan), "--today", "2021-05-03", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    seen = open_in_chromium(out / "status.html", tmp_path / "shot.png")
    assert seen["scripts"] == 0 and seen["dialogs"] == [] and seen["errors"] == []
    text = seen["text"]
    for name in (NASTY_SYSTEM, NASTY_AGENCY, NASTY_CONTACT, "Plan <i>x</i>"):
        assert name in text, name
    data = json.loads((out / "status.json").read_text(encoding="utf-8"))
    assert data["progress"][0]["agency_name"] == NASTY_AGENCY
    assert {o["name"] for w in data["next_windows"] for o in w["owners"]} == {NASTY_SYSTEM}


def test_a_failed_run_leaves_the_previous_dashboard_as_it_was(season, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(season["out"], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = tmp_path / "manifest"
    broken.mkdir()
    (broken / "summary.csv").write_text("share,action\n", encoding="utf-8")  # no timeline.csv
    proc = run_cli(*season["args"], "--share-plan", str(ROOT / "plans" / "demo-shares.yaml"), "--manifest",
                   str(broken), "--out", str(out))  # fmt: skip
    assert proc.returncode == 2
    assert "timeline.csv is missing" in proc.stderr and "Traceback" not in proc.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


_DRAWING: dict = {}


def _dies_in_the_child(data):
    """charts.draw, but the chart process (a fork: another pid) dies at once. Module level: the pool pickles it."""
    import os

    if os.getpid() != _DRAWING["parent"]:
        os._exit(1)
    return _DRAWING["draw"](data)


@pytest.mark.parametrize("failure", ["cannot fork", "the chart process dies"])
def test_without_the_chart_process_the_dashboard_is_drawn_here_the_same(season, tmp_path, monkeypatch, failure):
    """The pictures are drawn in a second process while this one renders the page; where no process can be forked,
    or the chart process dies, they are drawn here, and the three files are the same bytes."""
    import concurrent.futures
    import os

    from oslomig.dashboard import charts

    if failure == "cannot fork":

        def refuse(*args, **kwargs):
            raise OSError("no fork here")

        monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", refuse)
    else:
        monkeypatch.setitem(_DRAWING, "parent", os.getpid())
        monkeypatch.setitem(_DRAWING, "draw", charts.draw)
        monkeypatch.setattr(charts, "draw", _dies_in_the_child)
    out = tmp_path / "out"
    from conftest import _run_in_process

    proc = _run_in_process(
        [*season["args"], "--share-plan", str(ROOT / "plans" / "demo-shares.yaml"), "--manifest",
         str(season["base"] / "manifest"), "--out", str(out)], ROOT, dict(os.environ), None,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for name in ("status.html", "status.png", "status.json"):
        assert (out / name).read_bytes() == (season["out"] / name).read_bytes(), name


def test_the_summary_is_printed_only_on_a_tty(season):
    from oslomig.commands.status import _summary
    from oslomig.console import Env

    data = json.loads((season["out"] / "status.json").read_text(encoding="utf-8"))
    tty, pipe = io.StringIO(), io.StringIO()
    _summary(data, Env(stdout=tty, stderr=io.StringIO(), stdout_isatty=True))
    _summary(data, Env(stdout=pipe, stderr=io.StringIO(), stdout_isatty=False))
    db = data["total"]["databases"]
    assert pipe.getvalue() == ""
    first = tty.getvalue().splitlines()[0]
    assert re.search(rf"\b{db['migrated']} of {db['total']} databases migrated, {db['announced']} announced", first)
    assert "1 verified" not in tty.getvalue() and "0 safe to delete" in tty.getvalue()


def test_with_only_the_scan_the_manifest_is_written_under_out_and_nothing_is_verified(season, tmp_path):
    out = tmp_path / "out"
    plan = season["base"] / "shares.yaml"
    proc = run_cli(*season["args"], "--share-plan", str(plan), "--db", str(season["base"] / "shares.sqlite"),
                   "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "manifest" / "manifest.csv").is_file() and "manifest written to" in proc.stderr
    (row,) = json.loads((out / "status.json").read_text(encoding="utf-8"))["shares"]["shares"]
    assert row["safe_to_delete"] is False and row["verified_at"] == "" and row["scanned_at"]
    assert "not verified" in row["blocked_because"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest", "status.html", "status.json", "status.png"]
    proc = run_cli(*season["args"], "--db", str(season["base"] / "shares.sqlite"), "--out", str(out))
    assert proc.returncode == 2 and "give --share-plan too" in proc.stderr


def test_a_share_not_in_the_manifest_yet_is_shown_with_its_dates_and_why_it_is_blocked(season, tmp_path):
    plan = tmp_path / "shares.yaml"
    text = (season["base"] / "shares.yaml").read_text(encoding="utf-8")
    plan.write_text(
        text.rstrip("\n")
        + """
  - id: ine-arkiv
    source: /srv/not-scanned
    department: Arkiv
    target: {site: "https://tenant.sharepoint.com/sites/INE-Arkiv", library: Documents, folder: ""}
    read_only_from: 2021-10-01
    delete_after_days: 30
""",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    proc = run_cli(*season["args"], "--share-plan", str(plan), "--manifest", str(season["base"] / "manifest"),
                   "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = {r["share"]: r for r in json.loads((out / "status.json").read_text(encoding="utf-8"))["shares"]["shares"]}
    assert set(rows) == {"ine-arkiv", "ine-okonomi-demo"}
    arkiv = rows["ine-arkiv"]
    assert (arkiv["read_only_from"], arkiv["delete_on"]) == ("2021-10-01", "2021-10-31")
    assert arkiv["migrate"]["files"] == 0 and arkiv["safe_to_delete"] is False
    assert arkiv["blocked_because"].startswith("not in the manifest")


def test_a_system_counts_as_far_as_its_least_advanced_database(season, tmp_path):
    """Systems and hosts in status.json, recomputed from `schedule` and the plans: migrated only when all their
    databases are, else announced, scheduled or unscheduled by the least advanced one."""
    import io

    from oslomig.commands.plancontext import load_plan_context
    from oslomig.console import Env

    order = ["unscheduled", "scheduled", "announced", "migrated"]
    state: dict[str, str] = {}
    owner: dict[str, str] = {}
    for plan in (season["sql"], season["oracle"]):
        ctx = load_plan_context(plan, None, Env(stderr=io.StringIO()))
        owner.update(ctx.inventory.owner)
        out = tmp_path / f"{plan.stem}.json"
        run_cli("schedule", "--plan", str(plan), "--today", TODAY, "-f", "json", "-o", str(out))
        sched = json.loads(out.read_text(encoding="utf-8"))
        for d in ctx.plan.migrated:
            state[d] = "migrated"
        for a in sched["assignments"]:
            for d in a["databases"]:
                state.setdefault(d, "announced" if a["announced"] else "scheduled")
        for u in sched["unscheduled"]:
            for d in u["databases"]:
                state.setdefault(d, "unscheduled")
    least: dict[str, int] = {}
    for d, s in state.items():
        if d in owner:
            least[owner[d]] = min(least.get(owner[d], 3), order.index(s))
    expected = {s: sum(1 for v in least.values() if order[v] == s) for s in order}
    got = json.loads((season["out"] / "status.json").read_text(encoding="utf-8"))["total"]["systems"]
    assert {s: got[s] for s in order} == expected and got["total"] == len(least)
    assert 0 < expected["migrated"] < len(least)  # some systems are done, and a partly moved one is not counted
