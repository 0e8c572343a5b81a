"""What several command cores share: reading one YAML file into a model, problems to stderr."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from oslomig.console import Env
from oslomig.errors import OslomigError
from oslomig.loading import parse_model, read_document
from oslomig.problems import Problems, render_text
from oslomig.yamlload import Document

M = TypeVar("M", bound=BaseModel)


def load_model(
    path: Path,
    cls: type[M],
    what: str,
    env: Env,
    problems: Problems,
    check: Callable[[M, Document, Problems], None] | None = None,
) -> tuple[M, Document] | None:
    """Parse `path` as `cls` and run `check`; on errors print them and return None (the caller exits 1)."""
    if not path.is_file():
        raise OslomigError(f"no such {what}: {path}")
    doc = read_document(path, problems)
    model = parse_model(doc, cls, problems) if doc else None
    if model is not None and check is not None:
        check(model, doc, problems)
    if model is None or problems.errors:
        env.stderr.write(render_text(problems.errors, colour=env.colour_err))
        return None
    return model, doc
