"""Passwords from where a plan says they are, never from the plan itself: an environment variable or a file."""

from __future__ import annotations

import os
from pathlib import Path

from oslomig.errors import ConnectError


def read_secret(who: str, password_env: str | None, password_file: str | None) -> str:
    """The password in `password_env` (a variable's name) or `password_file` (one line); a sentence naming `who`
    when it is not there. Only one of the two is given (validate checks)."""
    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            raise ConnectError(f"{who}: environment variable {password_env} is not set")
        return value
    if password_file is None:
        raise ConnectError(f"{who}: no `password_env` or `password_file`")
    path = Path(os.path.expanduser(password_file))
    try:
        return path.read_text(encoding="utf-8").strip("\r\n")
    except OSError as exc:
        raise ConnectError(f"{who}: cannot read password file {path}: {exc.strerror or exc}") from None
