"""The terminal, injected: commands get an `Env` and never touch sys.* directly,
so tests can fake a TTY or its absence (httpie's habit)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import IO, Any


@dataclass
class Env:
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    no_color: bool = False
    debug: bool = False
    quiet: bool = False
    width: int | None = None  # the terminal's columns; None: ask the terminal (tests set it)

    @classmethod
    def from_os(cls, debug: bool = False) -> Env:
        def tty(stream: Any) -> bool:
            try:
                return stream.isatty()
            except (AttributeError, ValueError):
                return False

        return cls(
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdout_isatty=tty(sys.stdout),
            stderr_isatty=tty(sys.stderr),
            no_color="NO_COLOR" in os.environ,
            debug=debug or os.environ.get("OSLOMIG_DEBUG") == "1",
        )

    @property
    def colour_out(self) -> bool:
        return self.stdout_isatty and not self.no_color

    @property
    def colour_err(self) -> bool:
        return self.stderr_isatty and not self.no_color

    def out(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def info(self, message: str) -> None:
        if not self.quiet:
            self.stderr.write(message.rstrip("\n") + "\n")
            self.stderr.flush()

    def warn(self, message: str) -> None:
        self._labelled("warning", "33", message)

    def error(self, message: str) -> None:
        self._labelled("error", "31", message)

    def _labelled(self, label: str, colour: str, message: str) -> None:
        """One line on stderr: the label (coloured on a TTY), the message with control characters escaped."""
        from oslomig.problems import one_line

        prefix = f"\x1b[{colour}m{label}:\x1b[0m " if self.colour_err else f"{label}: "
        self.stderr.write(prefix + one_line(message.rstrip("\n")) + "\n")
        self.stderr.flush()

    def table_console(self):
        """A rich Console for tables on stdout: colour only on a TTY, never cropped to 80 columns off a TTY."""
        from rich.console import Console

        return Console(
            file=self.stdout,
            force_terminal=self.stdout_isatty,
            no_color=self.no_color or not self.stdout_isatty,
            width=(self.width if self.stdout_isatty else 10_000),
            soft_wrap=not self.stdout_isatty,
            highlight=False,
        )

    def progress(self, description: str, total: int | None = None):
        """A transient progress bar on stderr, only on a TTY (a no-op object otherwise)."""
        if not self.stderr_isatty or self.quiet:
            return _NoProgress()
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=self.stderr, no_color=self.no_color),
            transient=True,
        )
        return _RichProgress(progress, description, total)


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def advance(self, n: int = 1) -> None:
        pass

    def update(self, **kwargs) -> None:
        pass


class _RichProgress(_NoProgress):
    def __init__(self, progress, description, total):
        self.progress, self.description, self.total = progress, description, total

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task(self.description, total=self.total)
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def update(self, **kwargs) -> None:
        self.progress.update(self.task, **kwargs)


@dataclass
class Column:
    """A table column. `keep`: never cut or wrapped (ids, dates); the others wrap, and the lowest `priority` go
    first when the terminal is too narrow for all of them."""

    name: str
    justify: str = "left"
    keep: bool = False
    priority: int = 0


def fitted_table(title: str, columns: list[Column], rows: list[list[str]], width: int):
    """A rich Table that fits `width`: ids and dates whole, other columns wrapped or dropped by priority (the
    caption names what was dropped)."""
    from rich.table import Table

    widths = [max([len(c.name), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

    def need(active: list[int]) -> int:
        return sum(widths[i] if columns[i].keep else min(widths[i], 8) for i in active) + 3 * len(active) + 1

    active = list(range(len(columns)))
    for i in sorted((i for i in active if not columns[i].keep), key=lambda i: (columns[i].priority, -i)):
        if need(active) <= width:
            break
        active.remove(i)
    dropped = [columns[i].name for i in range(len(columns)) if i not in active]
    caption = f"not shown at {width} columns: {', '.join(dropped)}" if dropped else None
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for i in active:
        c = columns[i]
        if c.keep:
            table.add_column(c.name, justify=c.justify, no_wrap=True, min_width=widths[i])  # type: ignore[arg-type]
        else:
            table.add_column(c.name, justify=c.justify, overflow="fold")  # type: ignore[arg-type]
    for r in rows:
        table.add_row(*(r[i] for i in active))
    return table
