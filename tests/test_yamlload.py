from __future__ import annotations

import datetime as dt

import pytest

from oslomig.models import DatabasePlan
from oslomig.yamlload import YamlError, load_text


def test_yaml_12_scalars():
    data = load_text("a: NO\nb: 18:00\nc: yes\nd: 1.5\ne: '3'\nf: true\ng: ~\nh: 0x10\ni: 2021-05-03\n").data
    assert data == {
        "a": "NO",
        "b": "18:00",
        "c": "yes",
        "d": 1.5,
        "e": "3",
        "f": True,
        "g": None,
        "h": 16,
        "i": "2021-05-03",
    }


def test_dates_only_where_the_model_has_dates():
    plan = DatabasePlan.model_validate(
        load_text(
            "kind: database-migration\nname: 2021\nperiod: {start: 2021-05-03, end: 2021-06-01}\n"
            "blackouts: [{name: h, holidays: NO}]\n"
        ).data
    )
    assert plan.period.start == dt.date(2021, 5, 3)
    assert plan.name == "2021"
    assert plan.blackouts[0].holidays == "NO"


def test_merge_keys_and_positions():
    doc = load_text("base: &b {os: linux, site: a}\nhosts:\n  - {<<: *b, name: x, site: b}\n")
    assert doc.data["hosts"][0] == {"name": "x", "site": "b", "os": "linux"}
    assert doc.position(("hosts", 0, "name")) == (3, 20)
    assert doc.position(("hosts", 0, "os")) == (1, 15)  # found through the merge
    assert doc.position(("hosts", 5, "name")) == (3, 3)  # nearest existing node: the list


def test_recursive_alias_refused():
    with pytest.raises(YamlError) as err:
        load_text("a: &a [1, *a]\n")
    assert err.value.code in {"recursive-alias", "yaml-syntax"}


def test_unsupported_tag():
    with pytest.raises(YamlError) as err:
        load_text("x: !!python/object/apply:os.system ['true']\n")
    assert err.value.code == "unsupported-tag"


def test_multiple_documents():
    with pytest.raises(YamlError) as err:
        load_text("a: 1\n---\nb: 2\n")
    assert (err.value.code, err.value.line) == ("multiple-documents", 3)
