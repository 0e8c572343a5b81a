"""Ownership globs: the index that finds each pattern's candidates must never lose a match (a database that loses
its owner is planned as nobody's) nor add one."""

from __future__ import annotations

import fnmatch
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from oslomig.validation import _GlobIndex

SEGMENT = st.text(alphabet="abAB01-_.*?[]", min_size=1, max_size=6)
IDS = st.lists(st.lists(SEGMENT, min_size=1, max_size=4).map("/".join), min_size=1, max_size=40, unique=True)
PATTERN = st.one_of(
    st.lists(st.text(alphabet="abAB01/-_.*?", min_size=1, max_size=4), min_size=1, max_size=4).map("".join),
    st.text(alphabet="abAB01", min_size=1, max_size=5).map(lambda t: f"*/{t}*"),
    st.text(alphabet="abAB01", min_size=1, max_size=5).map(lambda t: f"*/{t}"),
    st.text(alphabet="abAB01/", min_size=1, max_size=5).map(lambda t: f"{t}*"),
    st.just("*/[ab]*"),
)


@settings(max_examples=400, deadline=None)
@given(IDS, st.lists(PATTERN, min_size=1, max_size=5))
def test_the_index_finds_exactly_what_fnmatch_finds(ids, patterns):
    index = _GlobIndex(ids)
    for pattern in patterns:
        rx = re.compile(fnmatch.translate(pattern))
        assert [d for d in index.candidates(pattern) if rx.match(d)] == sorted(d for d in ids if rx.match(d)), pattern


def test_the_shapes_the_shipped_estate_uses_are_answered_by_bisection():
    ids = [
        f"sqlp{h:02d}/MSSQLSERVER/App{n:03d}{suffix}" for h in range(20) for n in range(50) for suffix in ("", "_DW")
    ]
    index = _GlobIndex(ids)
    assert index.candidates("*/App007*") == sorted(d for d in ids if "/App007" in d)
    assert len(index.candidates("*/App007*")) == 40
    assert index.candidates("sqlp03/*") == sorted(d for d in ids if d.startswith("sqlp03/"))
