from __future__ import annotations

import datetime as dt

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_shares import world_readable_tmp  # noqa: F401 (a fixture)

from oslomig import yamlload
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


def test_explicit_tags_are_honoured():
    data = load_text(
        "a: !!str 0755\nb: !!str true\nc: 0755\nd: !!int '12'\ne: !!float 3\nf: !!null ''\ng: !!bool false\n"
    ).data
    assert data == {"a": "0755", "b": "true", "c": 755, "d": 12, "e": 3.0, "f": None, "g": False}
    for bad, code in (
        ("a: !!int x\n", "bad-tag"),
        ("a: !!binary aGk=\n", "unsupported-tag"),
        ("a: !!set {x}\n", "unsupported-tag"),
    ):
        with pytest.raises(YamlError) as err:
            load_text(bad)
        assert err.value.code == code and (err.value.line, err.value.column) == (1, 4)


def test_tabs_inside_block_scalars_and_quoted_strings_are_content():
    data = load_text("a: |\n  one\n  \ttwo\nb: \"x\\ty\"\nc: 'p\tq'\nd: x\t# a tab before a comment\n").data
    assert data == {"a": "one\n\ttwo\n", "b": "x\ty", "c": "p\tq", "d": "x"}
    with pytest.raises(YamlError) as err:
        load_text("a:\n\tb: 1\n")
    assert (err.value.code, err.value.line, err.value.column) == ("tab-indent", 2, 1)


def test_deep_nesting_is_refused_before_the_parser_sees_it():
    for text in ("a: " + "[" * 30000 + "]" * 30000, "- " * 30000 + "x", "a: " + "{a: " * 30000 + "1" + "}" * 30000):
        with pytest.raises(YamlError) as err:
            load_text(text)
        assert err.value.code == "too-deep"
    # brackets inside quoted strings and comments are not nesting
    assert load_text("a: '" + "[" * 500 + "'  # " + "{" * 500 + "\n").data == {"a": "[" * 500}
    assert load_text("a: " + "[" * 150 + "]" * 150 + "\n").data["a"] is not None  # deep, but legitimate


def test_an_unreadable_file_is_a_problem_not_a_crash(world_readable_tmp):  # noqa: F811 (the fixture)
    import os
    import subprocess
    import sys

    from test_shares import _as_unprivileged

    """A directory is validated; one file in it cannot be read (a file named on the command line that cannot be read
    is refused by the argument parser, exit 2)."""
    tmp_path = world_readable_tmp
    secret = tmp_path / "secret.yaml"
    secret.write_text("hosts: [{name: h1}]\n")
    secret.chmod(0o000)
    tmp_path.chmod(0o755)
    try:
        proc = subprocess.run(
            _as_unprivileged([sys.executable, "-m", "oslomig", "validate", str(tmp_path)]),
            capture_output=True,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
    finally:
        secret.chmod(0o644)
    assert proc.returncode == 1, proc.stderr
    assert ":1:1: error [unreadable] cannot read file: Permission denied" in proc.stdout


# The fast path (data straight from libyaml's events, positions composed only when asked for) must read every
# document it takes exactly as the full way does, and hand everything else to it.
_scalars = st.one_of(
    st.text(alphabet="aNoYes01.:-+e_ x#'\"\\é\t\n~*&!<", max_size=8),
    st.sampled_from(["NO", "yes", "18:00", "0o17", "0x1F", "1e3", ".inf", "-.Inf", ".nan", "~", "null", "", "007"]),
    st.sampled_from(["*/db0001*", "a & b", "<<", "!important", "h*"]),  # glob-like and YAML-sign text, quoted or not
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
_documents = st.dictionaries(
    st.one_of(st.text(alphabet="abNO01 :-", min_size=1, max_size=6), st.integers(0, 99)),
    st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                                          max_size=4), max_leaves=12),
    max_size=6,
)  # fmt: skip


def _full_way(text: str):
    nodes = yamlload._compose_all(text)
    return yamlload._Builder("<t>").build(nodes[0])


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@settings(max_examples=300, deadline=None)
@given(_documents, st.booleans())
@example({"a": "NO", "b": "18:00", 1: [None, True, "0o17"], "c": {"d": ".inf"}}, False)
def test_fast_path_reads_as_the_full_way(data, flow):
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    fast = yamlload._fast_data(text)
    if yamlload._FAST_OK.search(text) is None:
        assert fast is not yamlload._SLOW, text  # plain block or flow YAML must not fall back
    assert fast is yamlload._SLOW or _same(fast, _full_way(text)), text
    doc = load_text(text)
    assert _same(doc.data, _full_way(text))


@pytest.mark.parametrize(
    "text, code, line",
    [
        ("a: 1\nb:\n  c: 2\n  c: 3\n", "duplicate-key", 4),
        ("a: 1\n1: x\n1.0: y\n", "duplicate-key", 3),
        ("a: [1, 2\nb: 3\n", "yaml-syntax", 2),
        ("a: 1\n---\nb: 2\n", "multiple-documents", 3),
        ("? [a]\n: 1\n", "bad-key", 1),
    ],
)
def test_what_the_fast_path_refuses_is_placed_by_the_full_way(text, code, line):
    with pytest.raises(YamlError) as err:
        load_text(text)
    assert (err.value.code, err.value.line) == (code, line)


def test_positions_of_a_fast_read_document():
    doc = load_text("hosts:\n  - name: a\n    os: linux\n  - name: b\n")
    assert doc.composed is None  # read the fast way: no node graph yet
    assert doc.position(("hosts", 1, "name")) == (4, 11)
    assert doc.position(("hosts", 0, "os"), key=True) == (3, 5)


@pytest.mark.parametrize("text", ["a: !!str 1\n", "a: &x 1\nb: *x\n", "a: !!float 1\n", "<<: {a: 1}\n", "- 1\n"])
def test_tags_anchors_aliases_and_merges_go_the_full_way(text):
    assert yamlload._fast_data(text) is yamlload._SLOW
