"""The manifest.csv format (SPEC §5): its columns, its time format, and reading it back for stage and verify."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from oslomig.errors import OslomigError

MANIFEST_COLUMNS = [
    "share",
    "source_path",
    "size_bytes",
    "modified",
    "action",
    "reasons",
    "target_site",
    "target_library",
    "target_path",
]


def iso_time(ts: float, tz) -> str:
    """`modified` as the manifest writes it: local time of the plan's zone, to the second."""
    return dt.datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds") if ts else ""


def read_rows(path: Path, shares: set[str]) -> Iterator[tuple[int, list[str]]]:
    """(line, row) for each row of the given shares; a file that is not a whole manifest is an error."""
    if not path.is_file():
        raise OslomigError(f"no manifest at {path}; run `oslomig share manifest` first")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            if next(reader, None) != MANIFEST_COLUMNS:
                raise OslomigError(f"{path}: not a manifest written by `oslomig share manifest` (the header differs)")
            for row in reader:
                if len(row) != len(MANIFEST_COLUMNS):
                    raise OslomigError(
                        f"{path}:{reader.line_num}: {len(row)} fields, expected {len(MANIFEST_COLUMNS)} "
                        "(an edited or truncated manifest); run `oslomig share manifest` again"
                    )
                if row[0] in shares:
                    yield reader.line_num, row
        except csv.Error as exc:
            raise OslomigError(f"{path}:{reader.line_num}: {exc}; run `oslomig share manifest` again") from None
