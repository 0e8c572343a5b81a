"""Read YAML the way a migration plan needs it read.

PyYAML resolves scalars by YAML 1.1 rules, where `NO` is false and `18:00`
is the number 1080, and silently keeps the last of two duplicate keys. We
compose the node graph (in C when libyaml is there) and build Python values
ourselves with YAML 1.2 core-schema rules: only true/false are booleans,
timestamps stay strings (the models turn them into dates only where the
spec has dates), and a duplicate key is an error. The node graph lets any
later error be pointed back at `file:line:col`; for plain YAML (no anchor,
alias, tag or merge key) the data is built straight from libyaml's events and
the node graph is composed only when a position is first asked for.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

try:  # libyaml composes ~10x faster; marks are kept either way
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - libyaml is in the PyYAML wheels
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


# A plain scalar with no tag resolves to this; we apply YAML 1.2 core rules to it ourselves, so an explicit
# `!!str 0755` (which keeps its tag) stays distinguishable from a plain `0755`.
_PLAIN = "tag:oslomig,2024:plain"


class _ComposeLoader(_Parser, yaml.resolver.BaseResolver):
    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return yaml.resolver.BaseResolver.resolve(self, kind, value, implicit)


# The C composer recurses once per nesting level without a guard (a segfault near 25,000 levels); no real
# plan nests past a few dozen, so deeper documents are refused before they are parsed.
MAX_DEPTH = 200

MAX_FILE_BYTES = int(os.environ.get("OSLOMIG_MAX_YAML_BYTES", 32 * 1024 * 1024))
# A legitimate file rarely expands more than a few times through aliases; a
# "billion laughs" document expands by orders of magnitude.
MAX_EXPANSION_FACTOR = 10
MIN_EXPANSION_LIMIT = 1_000_000

_STR = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_EXPLICIT_TAGS = {_STR, _INT_TAG, _FLOAT_TAG, _BOOL_TAG, _NULL_TAG}
_COLLECTION_TAGS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}
_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
_NINF = {"-.inf", "-.Inf", "-.INF"}
_NAN = {".nan", ".NaN", ".NAN"}


class YamlError(Exception):
    """A file that cannot be read as YAML; carries a position and a problem code."""

    def __init__(self, path: str, line: int, column: int, code: str, message: str):
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.path, self.line, self.column, self.code, self.message = path, line, column, code, message


@dataclass
class Document:
    """A parsed YAML file: Python data plus the node graph that knows positions (composed from `text` when a
    position is first asked for, if the fast path built the data without it)."""

    path: str
    data: Any
    composed: yaml.Node | None
    text_lines: int = 0
    text: str | None = field(default=None, repr=False)
    _memo: dict = field(default_factory=dict, repr=False)

    @property
    def root(self) -> yaml.Node | None:
        if self.composed is None and self.text is not None:
            self.composed = _compose_all(self.text)[0]
            self.text = None
        return self.composed

    def node_at(self, loc: tuple) -> tuple[yaml.Node | None, bool]:
        """The node at `loc`, or the nearest ancestor; the flag says whether `loc` was reached."""
        node = self.root
        for _i, part in enumerate(loc):
            nxt = _child(node, part)
            if nxt is None:
                return node, False
            node = nxt
        return node, True

    def key_node_at(self, loc: tuple) -> yaml.Node | None:
        """The key node of the last element of `loc` inside its mapping, if there is one."""
        if not loc:
            return None
        parent, found = self.node_at(loc[:-1])
        if not found or not isinstance(parent, yaml.MappingNode):
            return None
        for key, _ in parent.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(loc[-1]):
                return key
        return None

    def position(self, loc: tuple, *, key: bool = False) -> tuple[int, int]:
        node = self.key_node_at(loc) if key else None
        if node is None:
            node, _ = self.node_at(loc)
        return mark_of(node)


def mark_of(node: yaml.Node | None) -> tuple[int, int]:
    if node is None:
        return 1, 1
    return node.start_mark.line + 1, node.start_mark.column + 1


def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value
        # a key brought in by a `<<` merge: look inside the merged mappings
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "<<":
                for merged in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                    found = _child(merged, part)
                    if found is not None:
                        return found
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def line_col(buf: str | bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of `offset` in text or raw bytes."""
    nl = b"\n" if isinstance(buf, bytes) else "\n"
    return buf.count(nl, 0, offset) + 1, offset - (buf.rfind(nl, 0, offset) + 1) + 1  # type: ignore[arg-type]


def read_text(path: Path, display: str) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise YamlError(display, 1, 1, "unreadable", f"cannot read file: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise YamlError(
            display,
            1,
            1,
            "file-too-large",
            f"file is {size / 1048576:.1f} MiB, more than the {MAX_FILE_BYTES / 1048576:.0f} MiB oslomig reads "
            "(split it into several files of one inventory, or raise OSLOMIG_MAX_YAML_BYTES)",
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlError(display, 1, 1, "unreadable", f"cannot read file: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = line_col(raw, exc.start)
        raise YamlError(
            display,
            line,
            col,
            "not-utf8",
            f"byte 0x{raw[exc.start]:02x} is not valid UTF-8; save the file as UTF-8",
        ) from None


def load_file(path: Path | str, display: str | None = None) -> Document:
    path = Path(path)
    display = display if display is not None else str(path)
    return load_text(read_text(path, display), display)


def _compose_all(text: str) -> list:
    loader = _ComposeLoader(text)
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
        return nodes
    finally:
        loader.dispose()


def load_text(text: str, display: str = "<string>") -> Document:
    _check_depth(text, display)
    data = _fast_data(text)
    if data is not _SLOW:
        return Document(display, data, None, text.count("\n") + 1, text)
    try:
        nodes = _compose_all(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if "\t" in text:
            _check_tabs(text, display, line)
        what = " ".join((exc.problem or exc.context or "invalid YAML").split())
        if "duplicate anchor" in (exc.context or "") or "second occurrence" in (exc.problem or ""):
            first = exc.context_mark.line + 1 if exc.context_mark else line
            raise YamlError(
                display,
                line,
                col,
                "duplicate-anchor",
                f"this anchor is already defined on line {first}; YAML 1.2 allows redefining an anchor, but oslomig "
                "refuses it because an alias would silently change meaning: give the second anchor another name",
            ) from None
        raise YamlError(display, line, col, "yaml-syntax", f"YAML syntax error: {what}") from None
    except yaml.YAMLError as exc:
        raise YamlError(display, 1, 1, "yaml-syntax", f"YAML syntax error: {exc}") from None
    except RecursionError:
        raise YamlError(display, 1, 1, "too-deep", "YAML nesting is too deep") from None
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        raise YamlError(display, 1, 1, "empty-file", "file is empty (no YAML document in it)")
    if len(nodes) > 1:
        line, col = mark_of(nodes[1])
        raise YamlError(
            display, line, col, "multiple-documents", "only one YAML document per file is read; split the file"
        )
    root = nodes[0]
    if "&" in text:  # no anchor, no alias (an alias to no anchor is a syntax error above): nothing can expand
        _check_expansion(root, display)
    builder = _Builder(display)
    try:
        data = builder.build(root)
    except RecursionError:
        raise YamlError(display, 1, 1, "too-deep", "YAML nesting is too deep") from None
    return Document(display, data, root, text.count("\n") + 1)


# The fast path: most inventories are plain block YAML without anchors, aliases, tags or merge keys. For those,
# the data is built straight from libyaml's events (no node graph, no marks kept: 8.5 MB of databases in 2.5 s
# instead of 9 s), and the node graph is composed only if a position is asked for. Anything else (an anchor, an
# alias, a tag, `<<`, a duplicate or non-scalar key, a syntax error, several or no documents) goes the full way,
# which finds and places the error.
_FAST_OK = re.compile(r"[&*!]|<<")  # text without these characters must never fall back (a test holds it)
_SLOW = object()


class _Slow(Exception):
    pass


def _fast_data(text: str) -> Any:
    parser = _Parser(text)
    try:
        get = parser.get_event
        get()  # the stream's start
        if type(get()) is not DocumentStartEvent or type(get()) is not MappingStartEvent:
            return _SLOW
        data = _fast_collection(get, {})
        if type(get()) is not DocumentEndEvent or type(get()) is not StreamEndEvent:
            return _SLOW
        return data
    except (_Slow, yaml.YAMLError, RecursionError):
        return _SLOW
    finally:
        parser.dispose()


def _fast_collection(get, out: Any) -> Any:
    """A mapping (`out` a dict) or sequence (a list) from its events up to its end; _Slow for anything the fast
    path does not take."""
    plain = _Builder.plain
    is_map = type(out) is dict
    key: Any = _SLOW
    while True:
        ev = get()
        t = type(ev)
        if t is ScalarEvent:
            if ev.tag is not None or ev.anchor is not None:
                raise _Slow
            value = plain(ev.value) if ev.implicit[0] else ev.value
        elif t is MappingStartEvent or t is SequenceStartEvent:
            if ev.tag is not None or ev.anchor is not None or (is_map and key is _SLOW):
                raise _Slow  # tagged, anchored, or a list or mapping as a key
            value = _fast_collection(get, {} if t is MappingStartEvent else [])
        elif t is MappingEndEvent or t is SequenceEndEvent:
            return out
        else:
            raise _Slow  # an alias
        if not is_map:
            out.append(value)
        elif key is _SLOW:
            if value in out or value == "<<":
                raise _Slow  # a duplicate key (the full way says where), or a merge
            key = value
        else:
            out[key] = value
            key = _SLOW


def _check_tabs(text: str, display: str, error_line: int) -> None:
    """Called only when the parser failed: a tab in the indentation of the failing line (or the one before it)
    is the cause, and libyaml's message for it is cryptic. Tabs inside block scalars or quoted strings are legal
    YAML and are never reported."""
    lines = text.splitlines()
    for lineno in (error_line, error_line - 1):
        if 1 <= lineno <= len(lines):
            line = lines[lineno - 1]
            indent = len(line) - len(line.lstrip(" \t"))
            if "\t" in line[:indent] and line.strip():
                raise YamlError(
                    display,
                    lineno,
                    line.index("\t") + 1,
                    "tab-indent",
                    "a tab is used for indentation; YAML allows only spaces there",
                )


_FLOW_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\n]|\'\')*\'|(?:^|(?<=\s))#[^\n]*|[\[\]{}]', re.M)
_DEEP_INDENT = re.compile(rf"^[ \t]{{{MAX_DEPTH},}}\S", re.M)
_DEEP_DASHES = re.compile(rf"(?:-[ \t]+){{{MAX_DEPTH // 2},}}")


def _check_depth(text: str, display: str) -> None:
    """Refuse documents nested deeper than MAX_DEPTH before the recursive composer sees them.

    Nesting comes from flow brackets, from indentation and from compact sequences (`- - - x`); each is bounded
    here with C-speed scans, and brackets are counted exactly (outside quotes and comments) only when there
    are enough of them to matter."""
    for rx, what in (
        (_DEEP_INDENT, f"indented by more than {MAX_DEPTH} columns"),
        (_DEEP_DASHES, f"nested more than {MAX_DEPTH} levels deep"),
    ):
        m = rx.search(text)
        if m:
            raise YamlError(display, *line_col(text, m.start()), "too-deep", f"YAML is {what}; refused")
    if text.count("[") + text.count("{") < MAX_DEPTH:
        return
    depth = 0
    for m in _FLOW_TOKENS.finditer(text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlError(
                    display,
                    *line_col(text, m.start()),
                    "too-deep",
                    f"YAML is nested more than {MAX_DEPTH} levels deep; refused",
                )
        elif ch in "]}":
            depth = max(0, depth - 1)


def _check_expansion(root: yaml.Node, display: str) -> None:
    """Fail fast on alias bombs: count the nodes the document expands to, in time linear in its unique nodes."""
    sizes: dict[int, int] = {}
    unique = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if nid in sizes and not done:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[nid] = 1
            unique += 1
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        if not done:
            sizes[nid] = -1  # in progress: a cycle back to it counts as 1 (recursive aliases are refused below)
            stack.append((node, True))
            for child in children:
                if id(child) not in sizes:
                    stack.append((child, False))
            continue
        unique += 1
        total = 1
        for child in children:
            s = sizes.get(id(child), 1)
            if s < 0:
                line, col = mark_of(child)
                raise YamlError(display, line, col, "recursive-alias", "an alias refers to a node that contains it")
            total += s
        sizes[nid] = total
    limit = max(MIN_EXPANSION_LIMIT, MAX_EXPANSION_FACTOR * unique)
    if sizes[id(root)] > limit:
        raise YamlError(
            display,
            1,
            1,
            "alias-bomb",
            f"aliases expand this document to {sizes[id(root)]:,} nodes from {unique:,} written ones; refused",
        )


class _Builder:
    def __init__(self, display: str):
        self.display = display
        self.memo: dict[int, Any] = {}

    def fail(self, node: yaml.Node, code: str, message: str) -> None:
        line, col = mark_of(node)
        raise YamlError(self.display, line, col, code, message)

    def build(self, node: yaml.Node) -> Any:
        nid = id(node)
        if nid in self.memo:
            return self.memo[nid]
        if isinstance(node, yaml.ScalarNode):
            value = self.scalar(node)
        elif node.tag not in _COLLECTION_TAGS:
            self.fail(node, "unsupported-tag", f"YAML tag {node.tag!r} is not supported here")
        elif isinstance(node, yaml.SequenceNode):
            value = [self.build(child) for child in node.value]
        else:
            value = self.mapping(node)
        self.memo[nid] = value
        return value

    def scalar(self, node: yaml.ScalarNode) -> Any:
        text = node.value
        if node.tag == _PLAIN:
            return self.plain(text)
        if node.tag == _STR:  # quoted, block, or an explicit !!str: always a string
            return text
        if node.tag not in _EXPLICIT_TAGS:
            self.fail(
                node,
                "unsupported-tag",
                f"YAML tag {node.tag!r} is not supported here (only !!str, !!int, !!float, !!bool and !!null)",
            )
        value = self.plain(text)
        wanted = {_INT_TAG: (int,), _FLOAT_TAG: (float, int), _BOOL_TAG: (bool,), _NULL_TAG: (type(None),)}[node.tag]
        if type(value) not in wanted:
            self.fail(node, "bad-tag", f"{text!r} is not a valid {node.tag.rsplit(':', 1)[-1]}")
        return float(value) if node.tag == _FLOAT_TAG else value

    @staticmethod
    def plain(text: str) -> Any:
        """A plain scalar by YAML 1.2 core-schema rules."""
        if text in _NULL:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if _INT.fullmatch(text):
            return int(text)
        if _OCT.fullmatch(text):
            return int(text[2:], 8)
        if _HEX.fullmatch(text):
            return int(text[2:], 16)
        if _FLOAT.fullmatch(text):
            return float(text)
        if text in _INF:
            return float("inf")
        if text in _NINF:
            return float("-inf")
        if text in _NAN:
            return float("nan")
        return text

    def mapping(self, node: yaml.MappingNode) -> dict:
        result: dict = {}
        seen: dict[Any, yaml.Node] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and key_node.tag == _PLAIN:
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail(key_node, "bad-key", "a mapping key must be a plain value, not a list or mapping")
            key = self.build(key_node)
            if key in seen:
                first = seen[key].start_mark.line + 1
                self.fail(
                    key_node, "duplicate-key", f"key {key!r} appears twice in this mapping (first on line {first})"
                )
            seen[key] = key_node
            result[key] = self.build(value_node)
        for merge in merges:  # explicit keys win over merged ones, as YAML's merge key says
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    self.fail(src, "bad-merge", "`<<` must refer to a mapping")
                for k, v in self.build(src).items():
                    result.setdefault(k, v)
        return result
