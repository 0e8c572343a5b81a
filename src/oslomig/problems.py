"""One problem record and its renderers (text, json, github).

Every check in oslomig reports through `Problem`, so positions, codes and
severities look the same whether they come from YAML parsing, schema
validation or semantic checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    column: int
    severity: Severity
    code: str
    message: str

    def as_text(self) -> str:
        return (
            f"{one_line(self.file)}:{self.line}:{self.column}: {self.severity} [{self.code}] {one_line(self.message)}"
        )


_CONTROL = {i: f"\\x{i:02x}" for i in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t", 127: "\\x7f"}


def one_line(text: str) -> str:
    """One problem, one line: control characters in data (a key holding a newline) are shown escaped."""
    return text.translate(_CONTROL) if not text.isprintable() else text


class Problems(list):
    """A list of problems with helpers for adding them and asking about them."""

    def error(self, file: str, line: int, column: int, code: str, message: str) -> None:
        self.append(Problem(str(file), line, column, "error", code, message))

    def warning(self, file: str, line: int, column: int, code: str, message: str) -> None:
        self.append(Problem(str(file), line, column, "warning", code, message))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self if p.severity == "warning"]


def render_json(problems: Iterable[Problem]) -> str:
    items = sorted(set(problems))
    status = "fail" if any(p.severity == "error" for p in items) else "ok"
    return json.dumps({"status": status, "problems": [asdict(p) for p in items]}, ensure_ascii=False, indent=2) + "\n"


def _gh_escape(value: str, prop: bool = False) -> str:
    # GitHub workflow-command escaping: data escapes %, CR, LF; properties also : and ,
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def render_github(problems: Iterable[Problem]) -> str:
    lines = []
    for p in sorted(set(problems)):
        lines.append(
            f"::{p.severity} file={_gh_escape(p.file, True)},line={p.line},col={p.column}::"
            f"{_gh_escape(f'[{p.code}] {p.message}')}"
        )
    return "".join(line + "\n" for line in lines)


def render_text(problems: Iterable[Problem], colour: bool = False) -> str:
    """Problems grouped by file (a blank line between files), one `file:line:col: …` line each."""
    items = sorted(set(problems))
    out: list[str] = []
    current = None
    for p in items:
        if current is not None and p.file != current:
            out.append("")
        current = p.file
        if colour:
            sev_colour = "\x1b[31m" if p.severity == "error" else "\x1b[33m"
            out.append(
                f"\x1b[1m{one_line(p.file)}:{p.line}:{p.column}:\x1b[0m {sev_colour}{p.severity}\x1b[0m "
                f"\x1b[2m[{p.code}]\x1b[0m {one_line(p.message)}"
            )
        else:
            out.append(p.as_text())
    return "".join(line + "\n" for line in out)


def summary_line(problems: Iterable[Problem], files: int) -> str:
    items = set(problems)
    errors = sum(1 for p in items if p.severity == "error")
    warnings = len(items) - errors

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(files, 'file')}"
