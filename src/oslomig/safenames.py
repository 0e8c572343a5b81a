"""File names built from ids (SPEC §8): readable, unique, and never a path.

An id is data: `../../x`, `a/b`, a newline or 300 characters must not turn
into a folder, an escape from `--out` or a name the file system refuses.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# letters and digits of any script, and . _ - ; everything else becomes "-"
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)
MAX_COMPONENT = 120  # bytes a name part may take, well under NAME_MAX (255) with room for suffixes


def safe_component(text: str, max_bytes: int = MAX_COMPONENT) -> str:
    """`text` as one safe file-name part. Unchanged when already safe; otherwise cleaned and given
    a short hash of the original, so two different ids never share a name."""
    cleaned = _UNSAFE.sub("-", unicodedata.normalize("NFC", text)).strip("-.")
    cleaned = "".join(ch for ch in cleaned if unicodedata.category(ch)[0] != "C")
    if cleaned == text and 0 < len(text.encode("utf-8")) <= max_bytes:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    budget = max_bytes - len(digest) - 1
    cut = cleaned.encode("utf-8")[:budget].decode("utf-8", "ignore").strip("-.")
    return f"{cut}-{digest}" if cut else digest


def is_safe_component(name: str) -> bool:
    return (
        bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name and safe_component(name) == name
    )
