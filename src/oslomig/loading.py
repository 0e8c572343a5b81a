"""Turn YAML files into models, with every problem pointed at `file:line:col`."""

from __future__ import annotations

import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from oslomig import models
from oslomig.problems import Problems
from oslomig.yamlload import Document, YamlError, load_file

M = TypeVar("M", bound=BaseModel)
YAML_SUFFIXES = (".yaml", ".yml")


def display_path(path: Path, cwd: Path | None = None) -> str:
    """Paths relative to the working directory when inside it, so messages are short and clickable."""
    cwd = cwd or Path.cwd()
    try:
        return str(path.resolve().relative_to(cwd.resolve()))
    except ValueError:
        return str(path)


def yaml_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
    return [path]


def read_document(path: Path, problems: Problems, cwd: Path | None = None) -> Document | None:
    try:
        return load_file(path, display_path(path, cwd))
    except YamlError as exc:
        problems.error(exc.path, exc.line, exc.column, exc.code, exc.message)
        return None


def document_kind(doc: Document) -> str | None:
    if isinstance(doc.data, dict):
        kind = doc.data.get("kind")
        return str(kind) if kind is not None else None
    return None


def parse_model(doc: Document, cls: type[M], problems: Problems) -> M | None:
    """Validate `doc` against `cls`; every schema error becomes a positioned problem."""
    if not isinstance(doc.data, dict):
        line, col = doc.position(())
        problems.error(
            doc.path, line, col, "wrong-type", f"the top level must be a mapping of keys, not {_type_name(doc.data)}"
        )
        return None
    try:
        return cls.model_validate(doc.data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            _report(doc, cls, err, problems)
        return None


def _report(doc: Document, cls: type[BaseModel], err: Any, problems: Problems) -> None:
    loc = tuple(err["loc"])
    kind = err["type"]
    where = _dotted(loc)
    if kind == "missing":
        line, col = doc.position(loc[:-1])
        owner = f" in {_dotted(loc[:-1])}" if loc[:-1] else ""
        problems.error(doc.path, line, col, "missing", f"missing required key '{loc[-1]}'{owner}")
        return
    if kind == "extra_forbidden":
        line, col = doc.position(loc, key=True)
        allowed = allowed_keys(cls, loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        msg = f"unknown key '{loc[-1]}'" + (f" in {_dotted(loc[:-1])}" if loc[:-1] else "")
        msg += f" (did you mean '{hint[0]}'?)" if hint else (f"; allowed: {', '.join(allowed)}" if allowed else "")
        problems.error(doc.path, line, col, "unknown-key", msg)
        return
    line, col = doc.position(loc)
    text = err["msg"].removeprefix("Value error, ")
    got = err.get("input")
    shown = f" (got {got!r})" if isinstance(got, (str, int, float, bool)) and kind != "value_error" else ""
    code = "wrong-type" if kind.endswith(("_type", "_parsing")) else "bad-value"
    prefix = f"{where}: " if where else ""
    problems.error(doc.path, line, col, code, f"{prefix}{text}{shown}")


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _type_name(value: Any) -> str:
    return {
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
            if len(args) != 1:
                return tp
        else:
            return tp


def allowed_keys(cls: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the model allows at `loc`, for "did you mean" hints."""
    tp: Any = cls
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int):
            args = typing.get_args(tp)
            tp = args[0] if args else None
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            field_ = next((f for n, f in tp.model_fields.items() if (f.alias or n) == part), None)
            tp = field_.annotation if field_ else None
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


# ------------------------------------------------------------------ inventory

INVENTORY_KINDS = ("agencies", "systems", "hosts", "instances", "databases", "shares")


def item_id(kind: str, item: Any) -> str:
    return item.name if kind == "hosts" else item.id


@dataclass
class Origin:
    doc: Document | None
    loc: tuple

    def at(self, *more: Any, key: bool = False) -> tuple[str, int, int]:
        if self.doc is None:
            return "<generated>", 1, 1
        line, col = self.doc.position(self.loc + more, key=key)
        return self.doc.path, line, col


@dataclass
class Inventory:
    """Every inventory file of one directory, merged; ids are unique per list."""

    agencies: dict[str, models.Agency] = field(default_factory=dict)
    systems: dict[str, models.System] = field(default_factory=dict)
    hosts: dict[str, models.Host] = field(default_factory=dict)
    instances: dict[str, models.Instance] = field(default_factory=dict)
    databases: dict[str, models.Database] = field(default_factory=dict)
    shares: dict[str, models.Share] = field(default_factory=dict)
    origins: dict[tuple[str, str], Origin] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # database id -> owning system id, filled by validation.resolve_ownership
    owner: dict[str, str] = field(default_factory=dict)

    def origin(self, kind: str, ident: str) -> Origin:
        return self.origins.get((kind, ident), Origin(None, ()))

    def add_file(self, doc: Document, content: models.InventoryFile, problems: Problems) -> None:
        self.files.append(doc.path)
        for kind in INVENTORY_KINDS:
            table = getattr(self, kind)
            for i, item in enumerate(getattr(content, kind)):
                ident = item_id(kind, item)
                here = Origin(doc, (kind, i))
                if ident in table:
                    first = self.origins[(kind, ident)].at("name" if kind == "hosts" else "id")
                    f, line, col = here.at("name" if kind == "hosts" else "id")
                    problems.error(
                        f,
                        line,
                        col,
                        "duplicate-id",
                        f"{kind[:-1] if kind != 'agencies' else 'agency'} id '{ident}' is defined twice: here and at "
                        f"{first[0]}:{first[1]}:{first[2]}",
                    )
                    continue
                table[ident] = item
                self.origins[(kind, ident)] = here

    @classmethod
    def build(cls, **lists: list) -> Inventory:
        """An inventory from model lists, without files (tests, benchmarks, generated data)."""
        inv = cls()
        for kind, items in lists.items():
            table = getattr(inv, kind)
            for item in items:
                table[item_id(kind, item)] = item
        return inv


def read_inventory(paths: list[Path], problems: Problems, cwd: Path | None = None) -> Inventory:
    """Merge every inventory file under `paths` (files with a top-level `kind:` are not inventory parts)."""
    inventory = Inventory()
    files: list[Path] = []
    for path in paths:
        files.extend(yaml_files(path))
    for path in sorted(set(files)):
        doc = read_document(path, problems, cwd)
        if doc is None or document_kind(doc) is not None:
            continue
        content = parse_model(doc, models.InventoryFile, problems)
        if content is not None:
            inventory.add_file(doc, content, problems)
    return inventory


def plan_inventory_dir(plan_path: Path, plan_inventory: str | None, override: Path | None = None) -> Path:
    """SPEC §1: --inventory, else the plan's `inventory:` (relative to the plan), else inventories/ beside
    the plan's folder."""
    if override is not None:
        return override
    if plan_inventory:
        return (plan_path.parent / os.path.expanduser(plan_inventory)).resolve()
    return (plan_path.parent.parent / "inventories").resolve()
