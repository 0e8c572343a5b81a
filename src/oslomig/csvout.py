"""CSV as RFC 4180 writes it, for every CSV oslomig writes.

Rows end in CRLF. That is not only what Excel and the customer portal expect:
Python's csv module quotes a field holding a bare CR only when CR is part of
the line terminator, and ids and file names may hold CR, LF, quotes and
commas. With CRLF every field reads back as one field of one row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import IO, Any


def writer(handle: IO[str]) -> Any:
    return csv.writer(handle, lineterminator="\r\n")


def to_text(rows: Iterable[list], header: list[str] | None = None) -> str:
    buf = io.StringIO()
    w = writer(buf)
    if header:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()
