"""Owner notices read as a person reads them (SPEC §3, §3.2): each template variant word for word, the environment
named, the system never said to be down when only its test databases move, stable ids and calendar sequences."""

from __future__ import annotations

import csv
import shutil

import pytest
from conftest import ROOT, run_cli

from oslomig.planning.notices import environment_words, impact, together

VARIANTS = [
    # (function, arguments, bokmål, English)
    (impact, ("Lønn", ["prod"]), "Lønn vil være utilgjengelig i dette tidsrommet:", "Lønn will be unavailable during:"),
    (
        impact,
        ("Lønn", ["prod", "test"]),
        "Lønn vil være utilgjengelig i dette tidsrommet:",
        "Lønn will be unavailable during:",
    ),
    (
        impact,
        ("Lønn", ["test"]),
        "Denne gangen gjelder det bare testmiljøet; produksjon berøres ikke. "
        "Testmiljøet vil være utilgjengelig i dette tidsrommet:",
        "This time only the test environment moves; production is not affected. It will be unavailable during:",
    ),
    (
        impact,
        ("Lønn", ["staging", "test"]),
        "Denne gangen gjelder det bare miljøene staging og test; produksjon berøres ikke. "
        "De vil være utilgjengelige i dette tidsrommet:",
        "This time only the staging and test environments move; production is not affected. "
        "They will be unavailable during:",
    ),
    (together, (["host", "instance"], 3), "Databasene flyttes samlet fordi de ligger på samme server. ",
     "The databases move together because they share a server. "),
    (together, (["cluster", "links"], 2),
     "Databasene flyttes samlet fordi de ligger i samme klynge og er koblet sammen med databaselenker. ",
     "The databases move together because they share a cluster and are connected by database links. "),
    (together, (["host"], 1), "", ""),  # one database: nothing to explain
    (together, ([], 4), "", ""),  # nothing binds them: no made-up reason
    (environment_words, (["dev", "prod", "qa"],), "utvikling, produksjon og kvalitetssikring",
     "development, production and QA"),
]  # fmt: skip


@pytest.mark.parametrize("func,args,nb,en", VARIANTS)
def test_each_template_variant_reads_back(func, args, nb, en):
    assert func(*args, "nb") == nb
    assert func(*args, "en") == en


@pytest.fixture(scope="module")
def shipped_notices(tmp_path_factory):
    out = tmp_path_factory.mktemp("notices")
    proc = run_cli("notices", "--plan", "plans/sql-2021.yaml", "--today", "2021-04-20", "--out", str(out))
    assert proc.returncode in (0, 1), proc.stderr
    with open(out / "notices.csv", encoding="utf-8", newline="") as handle:
        return out, list(csv.DictReader(handle))


def test_the_shipped_notices_name_the_environment_and_never_claim_a_test_move_takes_the_system_down(
    shipped_notices,
):
    out, rows = shipped_notices
    test_only = [r for r in rows if "prod" not in r["environment"].split(",")]
    prod = [r for r in rows if "prod" in r["environment"].split(",")]
    assert test_only and prod
    for r in rows:
        text = (out / r["file"]).read_text(encoding="utf-8")
        assert "deler ingen andre" not in text and "migrering@example.org" in text
        assert f"Berørte databaser ({environment_words(r['environment'].split(','), 'nb')}):" in text
        assert text.startswith(f"Emne: {r['subject']}\n") and r["body"] in text
        claim = f"{r['system_name']} vil være utilgjengelig"
        assert (claim in text) == (r in prod), r["notice_id"]
    one = (out / test_only[0]["file"]).read_text(encoding="utf-8")
    assert "produksjon berøres ikke" in one


def test_notice_ids_survive_a_replan_and_calendar_events_that_move_get_a_new_sequence(tmp_path):
    (tmp_path / "inventories").symlink_to(ROOT / "inventories")
    (tmp_path / "plans").mkdir()
    for name in ("sql-2021.yaml", "oracle-2021.yaml"):
        shutil.copy(ROOT / "plans" / name, tmp_path / "plans" / name)
    plan, out = tmp_path / "plans" / "sql-2021.yaml", tmp_path / "out"
    run_cli("notices", "--plan", str(plan), "--today", "2021-04-20", "--out", str(out))
    with open(out / "notices.csv", encoding="utf-8", newline="") as handle:
        first = {r["notice_id"]: r for r in csv.DictReader(handle)}
    assert all("2021" not in nid.split("-SYS-")[0] for nid in first)  # no date in the id
    # a week later, nothing announced: the groups of the first weeks move (notice), the ids stay
    run_cli("notices", "--plan", str(plan), "--today", "2021-04-27", "--out", str(out))
    with open(out / "notices.csv", encoding="utf-8", newline="") as handle:
        second = {r["notice_id"]: r for r in csv.DictReader(handle)}
    assert set(first) == set(second)
    moved = {r["group"] for nid, r in second.items() if r["start"] != first[nid]["start"]}
    kept = {r["group"] for nid, r in second.items() if r["start"] == first[nid]["start"]}
    assert moved and kept
    assert {second[n]["sequence"] for n in second if second[n]["group"] in moved} == {"1"}
    assert {second[n]["sequence"] for n in second if second[n]["group"] in kept} == {"0"}
    ics = (out / "notices.ics").read_text(encoding="utf-8")
    assert "SEQUENCE:1" in ics and "SEQUENCE:0" in ics
