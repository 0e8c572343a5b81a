"""SSH connections with host-key checking, shared by share scans and host inventory scans.

Unknown host keys are refused unless the caller says `accept_new_host_key`,
in which case the key is recorded in `known_hosts` (trust on first use, the
way OpenSSH's `StrictHostKeyChecking=accept-new` does).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from oslomig.errors import ConnectError

SSH_URL = re.compile(r"^ssh://(?P<user>[^@/\s]+)@(?P<host>\[[^\]]+\]|[^/:\s]+)(?::(?P<port>\d+))?(?P<path>/.*)$")


@dataclass
class SshTarget:
    host: str
    port: int = 22
    username: str = ""
    key_file: str | None = None
    password: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    accept_new_host_key: bool = False
    timeout_s: float = 30.0


@dataclass(frozen=True)
class SshSettings:
    """How to reach an ssh:// source named on the command line: the fields of a share plan's `ssh:` (models.SshOptions,
    same defaults), without pydantic, whose import (0.25 s) an ad hoc scan would otherwise pay for three values."""

    key_file: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    accept_new_host_key: bool = False
    timeout_s: float = 30.0


def parse_ssh_url(url: str) -> tuple[str, str, int, str]:
    m = SSH_URL.match(url)
    if not m:
        raise ValueError(f"{url!r} is not ssh://user@host[:port]/path")
    return m["user"], m["host"].strip("[]"), int(m["port"] or 22), unquote(m["path"])


class _AcceptNewPolicy:
    """Record an unknown host's key in known_hosts and go on (the target asked for it)."""

    def __init__(self, known_hosts: Path):
        self.known_hosts = known_hosts

    def missing_host_key(self, client, hostname, key):
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        client.save_host_keys(str(self.known_hosts))


def _quiet_paramiko() -> None:
    """paramiko logs its transport thread's exceptions (a 20-line traceback for a server that never sends its
    banner) through logging's last-resort handler, i.e. onto stderr and into cron mail. We report every failure
    ourselves as one sentence, so its log is silenced."""
    import logging

    log = logging.getLogger("paramiko")
    if not log.handlers:
        log.addHandler(logging.NullHandler())
    log.propagate = False


def connect(target: SshTarget):
    """An open paramiko SSHClient, or ConnectError with a plain sentence (never a secret)."""
    import paramiko

    _quiet_paramiko()

    client = paramiko.SSHClient()
    known = Path(os.path.expanduser(target.known_hosts))
    if known.exists():
        client.load_host_keys(str(known))
    if target.accept_new_host_key:
        client.set_missing_host_key_policy(_AcceptNewPolicy(known))
    else:
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    where = f"{target.host}:{target.port}"
    try:
        client.connect(
            target.host,
            port=target.port,
            username=target.username,
            key_filename=os.path.expanduser(target.key_file) if target.key_file else None,
            password=target.password,
            timeout=target.timeout_s,
            banner_timeout=target.timeout_s,
            auth_timeout=target.timeout_s,
            look_for_keys=target.key_file is None and target.password is None,
            allow_agent=target.key_file is None and target.password is None,
        )
    except paramiko.BadHostKeyException:
        client.close()
        raise ConnectError(
            f"{where}: the host key does not match {known} (a changed or spoofed server); refused"
        ) from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise ConnectError(
                f"{where}: unknown host key, not in {known}; refused (set accept_new_host_key: true to record it)"
            ) from None
        if isinstance(exc, paramiko.AuthenticationException):
            raise ConnectError(f"{where}: login refused for {target.username}") from None
        if "banner" in str(exc) or "No existing session" in str(exc):
            raise ConnectError(
                f"{where}: the server accepted the connection but did not answer as an SSH server "
                f"within {target.timeout_s:g} s"
            ) from None
        raise ConnectError(f"{where}: SSH failed: {' '.join(str(exc).split())}") from None
    except (TimeoutError, EOFError):
        client.close()
        raise ConnectError(f"{where}: no answer within {target.timeout_s:g} s") from None
    except (ConnectionRefusedError, paramiko.ssh_exception.NoValidConnectionsError):
        client.close()
        raise ConnectError(f"{where}: connection refused (no SSH server listening)") from None
    except OSError as exc:
        client.close()
        raise ConnectError(f"{where}: cannot reach: {exc.strerror or exc}") from None
    return client
