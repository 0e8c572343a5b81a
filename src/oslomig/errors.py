"""Exceptions that carry an exit code (SPEC §1): the CLI maps them, the core raises them."""


class OslomigError(Exception):
    """A user error that stops the command: bad arguments, a missing file (exit 2)."""

    exit_code = 2


class NothingInScope(OslomigError):
    """The plan selects nothing to move: a finding about the plan (exit 1), not a usage error."""

    exit_code = 1


class ConnectError(Exception):
    """A target could not be reached or refused us; the message is a plain sentence without secrets."""
