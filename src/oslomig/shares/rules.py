"""Classify one scanned file for SharePoint Online (SPEC §5): reasons, action, target path.

Pure functions over one row, so each rule is testable as data and the
manifest stays a streaming loop.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
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
