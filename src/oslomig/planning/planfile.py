"""Edit a plan file in place (SPEC §3.2): what was announced and what happened become part of the plan.

The plan stays the file people keep in git, so an edit changes only what it must: ruamel.yaml's round trip keeps
comments, key order, quoting and flow style; the indentation is read from the file; the result is written
atomically and checked to load as the same plan plus the edit.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from oslomig.atomic import write_text
from oslomig.errors import OslomigError

_KEY_THEN_DASH = re.compile(r"^( *)[^\s#-][^:\n]*:[ \t]*(?:#.*)?\n( *)- ", re.MULTILINE)
_NESTED_KEY = re.compile(r"^( *)[^\s#-][^:\n]*:[ \t]*(?:#.*)?\n( +)[^\s#-]", re.MULTILINE)


def _yaml(text: str):
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line that was one line
    mapping, offset = 2, 0
    if m := _NESTED_KEY.search(text):
        mapping = max(1, len(m.group(2)) - len(m.group(1)))
    if m := _KEY_THEN_DASH.search(text):
        offset = max(0, len(m.group(2)) - len(m.group(1)))
    yaml.indent(mapping=mapping, sequence=mapping + offset, offset=offset)
    return yaml


class PlanFile:
    """One plan file, loaded for a round trip."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise OslomigError(f"cannot read {path}: {exc.strerror}") from None
        self.yaml = _yaml(self.text)
        self.data = self.yaml.load(self.text)
        if self.dump() != self.text:
            # the round trip itself would change the file (unusual indentation): refuse rather than reformat it
            raise OslomigError(
                f"{path}: cannot edit this file without reformatting it (mixed indentation?); "
                "edit it by hand or normalise its indentation first"
            )

    def dump(self) -> str:
        out = io.StringIO()
        self.yaml.dump(self.data, out)
        return out.getvalue()

    def seq(self, key: str, after: tuple[str, ...] = ()):
        """The list under `key`, created (after the last of `after` present, else at the end) when absent."""
        from ruamel.yaml.comments import CommentedSeq

        if key not in self.data or self.data[key] is None:
            position = len(self.data)
            for name in after:  # after the first of these the plan has
                if name in self.data:
                    position = list(self.data).index(name) + 1
                    break
            self.data.insert(position, key, CommentedSeq())
        return self.data[key]

    @staticmethod
    def entry(mapping: dict, like=None, flow: bool = True):
        """A new list item in the style of the list's first item (else flow `{a: 1}` when `flow`)."""
        from ruamel.yaml.comments import CommentedMap

        node = CommentedMap(mapping)
        first = like[0] if like else None
        if isinstance(first, CommentedMap):
            flow = bool(first.fa.flow_style())
        if flow:
            node.fa.set_flow_style()
        return node

    def save(self) -> None:
        write_text(self.path, self.dump())


ORDER = ("blackouts", "announced", "migrated", "outcomes", "constraints")


def local_minutes(value) -> str:
    """A local date-time as the plan writes it: 2021-05-18T18:00."""
    return value.strftime("%Y-%m-%dT%H:%M")
