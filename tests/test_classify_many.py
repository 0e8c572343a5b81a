"""The manifest classifies a batch of rows over whole columns (`ShareRules.classify_many`) and only the rows it
finds a reason for one by one. It must give every row exactly what `ShareRules.classify` gives it: a row it wrongly
calls plain would be moved without the review or skip a rule asks for."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from oslomig.models import SharePolicy, ShareSpec
from oslomig.shares.manifestcsv import IsoTimes, iso_time
from oslomig.shares.rules import MAX_FILE, ShareRules

# pieces that trip each rule, mixed with plain ones; the four non-ASCII letters re.IGNORECASE folds to ASCII
PIECES = [
    "Dokumenter",
    "rapport.docx",
    "a",
    "Budsjett 2021.xlsx",
    "møte.txt",
    "CON",
    "con.txt",
    "nul",
    "LPT1",
    "com9",
    "desktop.ini",
    "Desktop.INI",
    "Thumbs.db",
    ".DS_Store",
    "~$rapport.docx",
    "~lås",
    "arkiv.TMP",
    "_vti_cnf",
    "forms",
    "Forms",
    " kant",
    "kant ",
    "a:b",
    'si"tat',
    "x|y",
    "tab\there",
    "ny\nlinje",
    "a,b",
    "ſ",
    "K",
    "ı",
    "İ",
    "deſktop.ini",
    "thumbs.db",
    ".lock",
    "x" * 120,
    "æøå",
    "q?",
    "stjerne*",
]
CLEAN_PARTS = st.lists(
    st.sampled_from(["Dokumenter", "rapport.docx", "a", "Budsjett 2021.xlsx", "møte.txt", "æøå"]),
    min_size=1,
    max_size=3,
)
CLEAN = CLEAN_PARTS.map(lambda parts: ("/".join(parts).encode(), "file", 1024, 1.6e9, None, False, False))


def _one_change(field: int, values):
    """A plain row with one field changed: the row whose reason only one filter can see."""
    return st.tuples(CLEAN, st.sampled_from(values)).map(lambda cv: cv[0][:field] + (cv[1],) + cv[0][field + 1 :])


TRICKY = st.one_of(
    st.tuples(CLEAN_PARTS, st.sampled_from(PIECES), st.integers(0, 3)).map(
        lambda t: ("/".join([*t[0][: t[2]], t[1], *t[0][t[2] :]]).encode(), "file", 1024, 1.6e9, None, False, False)
    ),
    _one_change(0, [b"gammel/\xe6rlig.doc", b"\xff\xfe.txt"]),
    _one_change(
        0,
        [
            n.encode()
            for n in (
                "deſktop.ini",
                "Thumbſ.db",
                "deſktop.ini/x",
                "CON/y",
                "a/~$x",
                "x.Tmp",
                "Thumbs.db",
                "a/.DS_Store",
            )
        ],
    ),
    _one_change(1, ["symlink", "unreadable", "offline"]),
    _one_change(2, [0, MAX_FILE, MAX_FILE + 1]),
    _one_change(3, [0.0, 1.0, 1.3e9, 9e8]),
    _one_change(4, [0x2, 0x4, 0x20, 0x1004]),
    _one_change(5, [True]),
    _one_change(6, [True]),
)
SHARE = st.builds(
    lambda folder, routes, junk: (
        ShareSpec.model_validate(
            {
                "id": "s",
                "source": "/srv/s",
                "target": {"site": "https://t.sharepoint.com/sites/S", "folder": folder},
                "routes": routes,
            }
        ),
        SharePolicy.model_validate({"junk": junk} if junk is not None else {}),
    ),
    st.sampled_from(["", "Felles", "Forms", "con", "a b "]),
    st.sampled_from(
        [
            [],
            [{"match": "Dokumenter/**", "action": "skip"}],
            [{"match": "*/a", "target": {"site": "https://t.sharepoint.com/sites/A", "folder": "Ny"}}],
            # overlapping routes: the first that matches decides
            [
                {"match": "*/a", "target": {"site": "https://t.sharepoint.com/sites/A", "folder": "Ny"}},
                {"match": "Dokumenter/**", "action": "skip"},
            ],
            [
                {"match": "Dokumenter/**", "action": "skip", "target": {"site": "https://t.sharepoint.com/sites/A"}},
                {"match": "*/a", "action": "skip"},
            ],
        ]
    ),
    st.sampled_from([None, ["*.bak", "Thumbs.db"], ["[Tt]emp*"], ["*"], ["~*"]]),
)


def _plain_share(folder: str = "Felles"):
    share = ShareSpec.model_validate(
        {"id": "s", "source": "/srv/s", "target": {"site": "https://t.sharepoint.com/sites/S", "folder": folder}}
    )
    return share, SharePolicy()


def _routed_share(route: dict):
    share = ShareSpec.model_validate(
        {"id": "s", "source": "/srv/s", "target": {"site": "https://t.sharepoint.com/sites/S"}, "routes": [route]}
    )
    return share, SharePolicy()


SKIP_ROUTE = {"match": "Dokumenter/**", "action": "skip"}
TARGET_ROUTE = {"match": "*/a", "target": {"site": "https://t.sharepoint.com/sites/A", "folder": "Ny"}}


def _alone(name: bytes, kind="file", size=1024, mtime=1.6e9, attributes=None, duplicate=False):
    return [(b"a/rapport.docx", "file", 1024, 1.6e9, None, False, False)], [
        (name, kind, size, mtime, attributes, duplicate, False)
    ]


@settings(max_examples=500, deadline=None)
@given(SHARE, st.lists(CLEAN, max_size=12), st.lists(TRICKY, min_size=1, max_size=2))
@example(_plain_share(), *_alone(b"a/Thumbs.db"))
@example(_plain_share(), *_alone("a/deſktop.ini".encode()))
@example(_plain_share(), *_alone(b"a/CON/x.docx"))
@example(_plain_share(), *_alone(b"a/~$x.docx"))
@example(_plain_share(), *_alone(b"a/x", size=MAX_FILE + 1))
@example(_plain_share(), *_alone(b"a/x", kind="symlink"))
@example(_plain_share(), *_alone(b"a/x", attributes=0x4))
# where a filter over the batch hits: at a row's first byte (its NUL), inside it, at the batch's end, and a space
# ending one row right before a space opening the next
@example(_plain_share(), *_alone(b"CON/y"))
@example(_plain_share(), *_alone(b"b/CON"))
@example(_plain_share(), *_alone(b" kant/x"))
@example(_plain_share(), *_alone(b"b/kant "))
@example(_plain_share(), *_alone(b"b/x /y"))
@example(_plain_share(), *_alone(b"b/_vti_cnf"))
@example(_plain_share(), *_alone(b"b/a:b"))
@example(_plain_share(), *_alone(b'"b'))
@example(_plain_share(""), *_alone(b"Forms/x"))
@example(_plain_share(""), *_alone(b"forms/x"))
@example(
    _plain_share(),
    [(b" a ", "file", 1024, 1.6e9, None, False, False)],
    [(b" b", "file", 1024, 1.6e9, None, False, False)],
)
# a duplicate left behind by a route, or routed elsewhere: more than the one reason a row is written down with
@example(_routed_share(SKIP_ROUTE), *_alone(b"Dokumenter/x.doc", duplicate=True))
@example(_routed_share(TARGET_ROUTE), *_alone(b"b/a", duplicate=True))
def test_a_batch_is_classified_as_row_by_row(share_policy, clean, tricky):
    """Plain batches with one or two rows that may trip a rule: a filter that misses the one row of its
    batch is caught (in a batch full of odd rows another filter would send every row one by one)."""
    share, policy = share_policy
    rows = list({r[0]: r for r in clean + tricky}.values())
    rules = ShareRules(share, policy, dt.date(2021, 4, 20))
    rows = sorted(rows)
    paths = [r[0] for r in rows]
    duplicates = {i for i, r in enumerate(rows) if r[5]}
    unreadable = {r[0] for r in rows if r[6]}
    rels, targets, special = rules.classify_many(
        paths,
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        duplicates,
        unreadable,
        [r[4] for r in rows],
    )
    for i, (raw, kind, size, mtime, attributes, dup, unread) in enumerate(rows):
        one = rules.classify(raw, kind, size, mtime, dup, unread, attributes)
        got = special.get(i)
        if got is None:  # called plain: it must be plain
            assert (one.action, one.reasons, one.target, one.target_path) == ("migrate", [], share.target, targets[i])
        else:
            assert got == one
        assert rels[i] == raw.decode("utf-8", errors="backslashreplace")


def test_modified_times_of_a_column_are_written_as_one_by_one():
    rng = random.Random(7)
    stamps = [rng.uniform(-2e9, 4e9) for _ in range(3000)]
    stamps += [1616893200 + rng.uniform(-7200, 7200) for _ in range(2000)]  # around a change to summer time
    stamps += [0.0, 1e-7, 0.9999996, 1616893199.9999995, -0.5, 1e11, float(int(stamps[0]))]
    # leap days (2000 is one, 2100 is not), the ends of years and of 9999
    stamps += [951_782_400.0, 951_868_799.0, 4_107_542_399.0, 4_107_542_400.0, 946_684_799.0, 253_402_214_399.0]
    for zone in ("Europe/Oslo", "America/St_Johns", "Australia/Lord_Howe", "UTC"):
        tz = ZoneInfo(zone)
        assert IsoTimes(tz)(stamps) == [iso_time(t, tz) for t in stamps], zone
