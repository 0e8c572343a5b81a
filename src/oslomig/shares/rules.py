"""Classify one scanned file for SharePoint Online (SPEC §5): reasons, action, target path.

Pure functions over one row, so each rule is testable as data and the
manifest stays a streaming loop.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from oslomig.models import Route, SharePolicy, ShareSpec, Target

STRENGTH = {"migrate": 0, "review": 1, "skip": 2}
INVALID = re.compile(r'["*:<>?\\|\x00-\x1f\x7f]')
RESERVED = re.compile(r"^(\.lock|con|prn|aux|nul|com[0-9]|lpt[0-9]|desktop\.ini)$", re.IGNORECASE)
# the same rules over a whole '/'-joined path, so the common clean path costs one search each
# `~$` at the start of a file or folder name, a folder starting with `~`, and `forms` only as a folder directly
# under the library root (Microsoft: "Restrictions and limitations in OneDrive and SharePoint")
RESERVED_IN_PATH = re.compile(
    r"(?:^|/)(?:\.lock|con|prn|aux|nul|com[0-9]|lpt[0-9]|desktop\.ini)(?:/|$)|_vti_|^forms/|(?:^|/)~\$|(?:^|/)~[^/]*/",
    re.IGNORECASE,
)
SPACE_EDGE = re.compile(r"(?:^|/) | (?:/|$)")
# Filters over a batch of raw paths joined by NUL (which no path holds), NUL first: each finds at least every path
# whose target path the one-path pattern finds (the characters involved are ASCII, which no UTF-8 sequence holds),
# so a batch without a hit needs no look at its paths one by one
INVALID_BYTES = b'"*:<>?\\|' + bytes(range(1, 32)) + b"\x7f"
# over a batch whose NULs are slashes: opening with a literal, the pattern is tried at slashes only (twice as fast)
RESERVED_IN_BATCH = re.compile(rb"/(?:(?:\.lock|con|prn|aux|nul|com[0-9]|lpt[0-9]|desktop\.ini)(?=/|$)|~)")
INVALID_IN_BATCH = re.compile(b"[" + re.escape(INVALID_BYTES) + b"]")
SPACE_EDGE_IN_BATCH = re.compile(rb"(?<=[/\0]) | (?=[/\0])| \Z")  # only the space is taken: no hit hides another
# the non-ASCII letters that re.IGNORECASE matches to ASCII ones (İ ı ſ K, as UTF-8): a batch with one is looked at
# path by path
FOLDS_TO_ASCII = (b"\xc4\xb0", b"\xc4\xb1", b"\xc5\xbf", b"\xe2\x84\xaa")
MAX_PATH = 400
# Microsoft writes "250 GB"; read conservatively as 250 x 10^9 bytes: a review is cheap, a failed upload is not
MAX_FILE = 250 * 10**9


def show_path(raw: bytes) -> str:
    """Relative path as text: `\\xNN` for bytes that are not UTF-8 (SPEC §5)."""
    return raw.decode("utf-8", errors="backslashreplace")


def glob_regex(pattern: str) -> re.Pattern:
    """Globs relative to the share root: `**` crosses folders, `*` and `?` do not."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def literal_prefix(pattern: str) -> str:
    """The folder part of a route glob before any wildcard: `Prosjekter/**` -> `Prosjekter`."""
    head = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    return head.rsplit("/", 1)[0] if "/" in head else ""


def library_url_name(target: Target) -> str:
    if target.library_url:
        return target.library_url
    return "Shared Documents" if target.library == "Documents" else target.library


def site_path(target: Target) -> str:
    return unquote(urlparse(target.site).path).lstrip("/")


def junk_literals(globs: list[str]) -> list[bytes] | None:
    """For each junk glob the longest run of plain characters, lower-case ASCII bytes: a name the glob matches
    (case-insensitively, in a batch without the four non-ASCII letters that fold to ASCII) holds it. None when a
    glob has no such run (`*`, a `[...]` set, a non-ASCII name): every name is then matched one by one."""
    out = []
    for glob in globs:
        if "[" in glob or not glob.isascii():
            return None
        runs = [r for r in re.split(r"[*?]", glob) if r]
        if not runs:
            return None
        out.append(max(runs, key=len).lower().encode())
    return out


SYSTEM_ATTRIBUTE = 0x4  # FILE_ATTRIBUTE_SYSTEM (MS-FSCC 2.6): not a document a person saved; review


@dataclass
class Classified:
    action: str
    reasons: list[str]
    target: Target
    target_path: str


class ShareRules:
    def __init__(self, share: ShareSpec, policy: SharePolicy, today: dt.date):
        self.share = share
        self.policy = policy
        self.junk = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in policy.junk) or r"(?!)", re.IGNORECASE)
        self.routes: list[tuple[re.Pattern, Route, str]] = [
            (glob_regex(r.match), r, literal_prefix(r.match)) for r in share.routes
        ]
        cutoff = dt.datetime.combine(today, dt.time()) - dt.timedelta(days=365.25 * policy.stale_after_years)
        self.stale_before = cutoff.timestamp()
        self._url_prefix: dict[int, int] = {}
        # each route glob's text before its first wildcard, as it opens a row of a batch's NUL-joined paths
        self._route_heads = [
            b"\0" + head.encode() if (head := re.split(r"[*?]", r.match, maxsplit=1)[0]) else b"" for r in share.routes
        ]
        self.junk_literals = junk_literals(policy.junk)
        folder = share.target.folder.strip("/") + "/"
        self._folder_has_reason = bool(
            INVALID.search(folder) or SPACE_EDGE.search(folder) or RESERVED_IN_PATH.search(folder)
        )

    def url_prefix_len(self, target: Target) -> int:
        """len(site path + "/" + library URL name + "/"), once per target."""
        key = id(target)
        if key not in self._url_prefix:
            self._url_prefix[key] = len(site_path(target)) + 1 + len(library_url_name(target)) + 1
        return self._url_prefix[key]

    def route(self, rel: str) -> tuple[Route | None, str]:
        for rx, route, prefix in self.routes:
            if rx.match(rel):
                return route, prefix
        return None, ""

    def classify(
        self,
        raw_path: bytes,
        kind: str,
        size: int,
        mtime: float,
        duplicate: bool,
        unreadable: bool,
        attributes: int | None = None,
    ) -> Classified:
        """`kind` is file, symlink, unreadable or offline (an HSM stub on a Windows share); `attributes` the
        Windows file attributes of an SMB scan (None elsewhere)."""
        reasons: list[tuple[str, str]] = []  # (code, action)
        stub = kind == "offline"
        if stub:
            kind = "file"  # a file all the same: the rules below apply, and a person decides
            reasons.append(("OFFLINE", "review"))
        if attributes is not None and attributes & SYSTEM_ATTRIBUTE:
            reasons.append(("SYSTEM_FILE", "review"))
        try:
            rel = raw_path.decode("utf-8")
            inner = rel
            not_utf8 = False
        except UnicodeDecodeError:
            rel = raw_path.decode("utf-8", errors="backslashreplace")
            not_utf8 = True
            # names from old Windows shares are mostly cp1252: that is the best guess for the target name
            inner = raw_path.decode("cp1252", errors="replace")
        name = rel[rel.rfind("/") + 1 :]
        if kind == "file" and self.junk.match(name):
            reasons.append(("JUNK", "skip"))
        if kind == "symlink":
            reasons.append(("SYMLINK", "skip"))
        target = self.share.target
        if self.routes:
            route, prefix = self.route(rel)
            if route is not None:
                if route.action == "skip":
                    reasons.append(("ROUTED_SKIP", "skip"))
                if route.target is not None:
                    target = route.target
                    inner = inner[len(prefix) + 1 :] if prefix and inner.startswith(prefix + "/") else inner
        if kind == "file" and mtime and mtime < self.stale_before:
            reasons.append(("STALE", self.policy.stale_action))
        if duplicate:
            reasons.append(("DUPLICATE", self.policy.duplicates))
        folder = target.folder.strip("/")
        target_path = f"{folder}/{inner}" if folder else inner
        if INVALID.search(target_path) or SPACE_EDGE.search(target_path):
            target_path = self._fix(target_path, reasons)
        if RESERVED_IN_PATH.search(target_path):
            reasons.append(("RESERVED_NAME", "review"))
        if self.url_prefix_len(target) + len(target_path) > MAX_PATH:
            reasons.append(("PATH_TOO_LONG", "review"))
        if size > MAX_FILE:
            reasons.append(("FILE_TOO_LARGE", "review"))
        if kind == "file" and size == 0:
            reasons.append(("EMPTY_FILE", "migrate"))
        if not_utf8:
            reasons.append(("NOT_UTF8", "review"))
        if unreadable or kind == "unreadable":
            reasons.append(("UNREADABLE", "review"))
        if not reasons:
            return Classified("migrate", [], target, target_path)
        action = max((a for _, a in reasons), key=STRENGTH.__getitem__)
        codes = list(dict.fromkeys(code for code, _ in reasons))
        return Classified(action, codes, target, target_path)

    def classify_many(
        self,
        raw_paths: list[bytes],
        kinds: list[str],
        sizes: list[int],
        mtimes: list[float],
        duplicates: set[int],
        unreadable: set[bytes],
        attributes: list[int | None],
    ) -> tuple[list[str], list[str], dict[int, Classified]]:
        """`classify` for a batch of rows in path order, with the per-row work done over whole columns.

        Returns the shown paths, the target paths, and a `Classified` for each row that is not plain. A plain row
        (most rows of a real share: a readable, recent, non-empty UTF-8 file with a name SharePoint takes, outside
        every route) migrates to the share's target with no reason. Every test below finds at least every row
        `classify` gives a reason; those rows, and only those, are classified one by one by `classify` itself."""
        import numpy as np

        raw = b"\0" + b"\0".join(raw_paths)
        try:
            rels = raw[1:].decode("utf-8").split("\0") if raw_paths else []
        except UnicodeDecodeError:
            rels = [show_path(p) for p in raw_paths]
            special = {i for i, r in enumerate(rels) if "\\x" in r and not raw_paths[i].isascii()}  # not UTF-8
        else:
            special = set()
        n = len(raw_paths)
        if kinds.count("file") != n:
            special.update(i for i, k in enumerate(kinds) if k != "file")
        if attributes.count(None) != n:
            special.update(i for i, a in enumerate(attributes) if a is not None and a & SYSTEM_ATTRIBUTE)
        if unreadable:
            special.update(i for i, p in enumerate(raw_paths) if p in unreadable)
        low = raw.lower()
        folds = any(f in raw for f in FOLDS_TO_ASCII)
        if self.junk_literals is None or folds or any(lit in low for lit in self.junk_literals):
            junk = self.junk.match
            special.update(i for i, r in enumerate(rels) if junk(r[r.rfind("/") + 1 :]))
        starts = None
        routed: dict[int, int] = {}  # row -> the first route its path matches
        for k, ((rx, _route, _prefix), head) in enumerate(zip(self.routes, self._route_heads)):
            # a match starts with the glob's literal head, so only rows whose raw path starts with it are candidates
            # (rows that are not UTF-8 are classified one by one already)
            hits = raw.count(head) if head else n
            if not hits:
                continue
            if not head or (hits > 64 and hits > n // 8):  # a glob opening with a wildcard, or most rows' head
                for i in [i for i, r in enumerate(rels) if rx.match(r)]:
                    routed.setdefault(i, k)
                continue
            if starts is None:
                starts = _row_starts(raw, np)
            for i in [i for i in np.searchsorted(starts, _find_all(raw, head)).tolist() if rx.match(rels[i])]:
                routed.setdefault(i, k)
        size = np.asarray(sizes, dtype=np.float64)  # float: a size past 2**63 is still compared, not overflowed
        mtime = np.asarray(mtimes, dtype=np.float64)
        flagged = (size == 0) | (size > MAX_FILE) | ((mtime != 0) & (mtime < self.stale_before))
        special.update(np.flatnonzero(flagged).tolist())
        folder = self.share.target.folder.strip("/")
        targets = [f"{folder}/{r}" for r in rels] if folder else rels
        # every row when the share's folder itself has a reason or a letter folds to ASCII, else the rows where a
        # filter over the batch hits
        rows: Iterable[int] = range(n) if self._folder_has_reason or folds else _rows_hit(raw, low, not folder, np)
        special.update(
            i for i in rows if INVALID.search(t := targets[i]) or SPACE_EDGE.search(t) or RESERVED_IN_PATH.search(t)
        )
        room = MAX_PATH - self.url_prefix_len(self.share.target)
        if raw_paths and max(map(len, targets)) > room:
            special.update(i for i, t in enumerate(targets) if len(t) > room)
        return rels, targets, self._classify_rows(special, routed, duplicates, rels, targets, raw_paths, kinds, sizes,
                                                  mtimes, unreadable, attributes)  # fmt: skip

    def _classify_rows(self, special, routed, duplicates, rels, targets, raw_paths, kinds, sizes, mtimes, unreadable,
                       attributes) -> dict[int, Classified]:  # fmt: skip
        """The `Classified` of every row with a reason. A row whose only reason is a skip route without a target
        (a folder left behind) or, outside every route, being a duplicate, is written down at once: no other filter
        found it, so `classify` would give it that one reason. The others are classified one by one."""
        target = self.share.target
        quick = {}
        for i, k in routed.items():
            route = self.routes[k][1]
            if route.action == "skip" and route.target is None and i not in special and i not in duplicates:
                quick[i] = Classified("skip", ["ROUTED_SKIP"], target, targets[i])
        for i in duplicates:
            if i not in special and i not in routed:
                quick[i] = Classified(self.policy.duplicates, ["DUPLICATE"], target, targets[i])
        rows = sorted(special.union(routed, duplicates))
        return {
            i: quick.get(i)
            or self.classify(
                raw_paths[i], kinds[i], sizes[i], mtimes[i], i in duplicates, raw_paths[i] in unreadable, attributes[i]
            )
            for i in rows
        }

    def _fix(self, target_path: str, reasons: list) -> str:
        """Per segment: replace characters SharePoint refuses, trim edge spaces."""
        fixed = []
        invalid = trimmed = False
        for seg in target_path.split("/"):
            if INVALID.search(seg):
                invalid = True
                if self.policy.invalid_chars == "replace":
                    seg = INVALID.sub(self.policy.replacement, seg)
            if seg != seg.strip(" "):
                trimmed = True
                seg = seg.strip(" ") or self.policy.replacement
            fixed.append(seg)
        if invalid:
            reasons.append(("INVALID_CHARS", "migrate" if self.policy.invalid_chars == "replace" else "review"))
        if trimmed:
            reasons.append(("LEADING_TRAILING_SPACE", "migrate"))
        return "/".join(fixed)


def _find_all(text: bytes, literal: bytes) -> list[int]:
    """Every offset where `literal` starts in `text` (overlapping ones too)."""
    found, at = [], text.find(literal)
    while at >= 0:
        found.append(at)
        at = text.find(literal, at + 1)
    return found


def _row_starts(raw: bytes, np):
    """Where each row of a NUL-joined batch (NUL first) starts: the offsets of its NULs."""
    return np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 0)


def _rows_hit(raw: bytes, low: bytes, at_root: bool, np) -> list[int]:
    """The rows of a NUL-joined batch (`raw`, NUL first; `low` its ASCII lower case) where a filter over the batch
    finds an invalid character, a space at the edge of a name, a reserved name, `_vti_` or (`at_root`) `forms/` as
    the first folder: the only rows the one-path patterns can find. Each filter looks for its rows only when a test
    over the whole batch (C string methods, fast) says it has one."""
    hits = [m.start() for m in RESERVED_IN_BATCH.finditer(low.replace(b"\0", b"/"))]
    if len(raw.translate(None, INVALID_BYTES)) != len(raw):
        hits += [m.start() for m in INVALID_IN_BATCH.finditer(raw)]
    if raw.count(b" ") and (b" /" in raw or b"/ " in raw or b" \0" in raw or b"\0 " in raw or raw[-1:] == b" "):
        hits += [m.start() for m in SPACE_EDGE_IN_BATCH.finditer(raw)]
    for literal in (b"_vti_", b"\0forms/") if at_root else (b"_vti_",):
        hits += _find_all(low, literal)
    if not hits:
        return []
    return np.unique(np.searchsorted(_row_starts(raw, np), hits, side="right") - 1).tolist()
