"""SSH connections with host-key checking, shared by share scans and host inventory scans.

Unknown host keys are refused unless the caller says `accept_new_host_key`,
in which case the key is recorded in `known_hosts` (trust on first use, the
way OpenSSH's `StrictHostKeyChecking=accept-new` does).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from oslomig.errors import ConnectError

SSH_URL = re.compile(r"^ssh://(?P<user>[^@/\s]+)@(?P<host>\[[^\]]+\]|[^/:\s]+)(?::(?P<port>\d+))?(?P<path>/.*)$")


# The defaults of every way to name an SSH connection: a share plan's `ssh:` and an inventory's host targets
# (models), the command line's options (SshSettings).
KNOWN_HOSTS = "~/.ssh/known_hosts"
TIMEOUT_S = 30  # seconds (an int, as the schemas have always printed the default)

# OpenSSH's client defaults (ssh_config(5), Ciphers), with aes128-gcm moved first
CIPHERS = (
    "aes128-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)


@dataclass(frozen=True)
class SshSettings:
    """How to reach an ssh:// source named on the command line: the fields of a share plan's `ssh:` (models.SshOptions,
    same defaults), without pydantic, whose import (0.25 s) an ad hoc scan would otherwise pay for three values."""

    key_file: str | None = None
    known_hosts: str = KNOWN_HOSTS
    accept_new_host_key: bool = False
    timeout_s: float = TIMEOUT_S


@dataclass(frozen=True, kw_only=True)
class SshTarget(SshSettings):
    """One SSH connection: where, as whom, and the settings."""

    host: str
    port: int = 22
    username: str = ""
    password: str | None = field(default=None, repr=False)  # never in a log or a traceback

    @classmethod
    def reaching(cls, host: str, port: int, username: str, how: Any, password: str | None = None) -> SshTarget:
        """The target with the settings of `how`: SshSettings, a share plan's `ssh:` or an inventory's host target
        (anything with SshSettings' fields)."""
        settings = {f.name: getattr(how, f.name) for f in fields(SshSettings)}
        return cls(host=host, port=port, username=username, password=password, **settings)


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


def _paramiko():
    """paramiko, imported without `invoke`: `paramiko.config` imports it (0.08-0.15 s of paramiko's 0.2-0.3 s here)
    only for ssh_config's `Match exec`, which oslomig never reads, and takes an ImportError as "not installed".
    `invoke` is hidden during that one import only: a later `import invoke` gets the real one."""
    import sys

    if "paramiko" in sys.modules or "invoke" in sys.modules:
        import paramiko

        return paramiko
    sys.modules["invoke"] = None  # type: ignore[assignment]  # `import invoke` raises ImportError
    try:
        import paramiko
    finally:
        if "invoke" in sys.modules and sys.modules["invoke"] is None:
            del sys.modules["invoke"]
    return paramiko


def _failed(target: SshTarget, what: str, detail: str = "") -> ConnectError:
    """The one sentence for a failed connection, the same whichever client met it (`connect`, `openssh_failure`)."""
    known = Path(os.path.expanduser(target.known_hosts))
    sentence = {
        "changed key": f"the host key does not match {known} (a changed or spoofed server); refused",
        "unknown key": f"unknown host key, not in {known}; refused (set accept_new_host_key: true to record it)",
        "login": f"login refused for {target.username}",
        "not ssh": "the server accepted the connection but did not answer as an SSH server "
        f"within {target.timeout_s:g} s",
        "no answer": f"no answer within {target.timeout_s:g} s",
        "refused": "connection refused (no SSH server listening)",
        "stopped": "the server stopped answering during the scan",
        "unreachable": f"cannot reach: {detail}",
        "other": f"SSH failed: {detail}",
    }[what]
    return ConnectError(f"{target.host}:{target.port}: {sentence}")


def connect(target: SshTarget):
    """An open paramiko SSHClient, or ConnectError with a plain sentence (never a secret)."""
    paramiko = _paramiko()

    _quiet_paramiko()

    client = paramiko.SSHClient()
    known = Path(os.path.expanduser(target.known_hosts))
    if known.exists():
        client.load_host_keys(str(known))
    if target.accept_new_host_key:
        client.set_missing_host_key_policy(_AcceptNewPolicy(known))
    else:
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
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
        raise _failed(target, "changed key") from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise _failed(target, "unknown key") from None
        if isinstance(exc, paramiko.AuthenticationException):
            raise _failed(target, "login") from None
        if "banner" in str(exc) or "No existing session" in str(exc):
            raise _failed(target, "not ssh") from None
        raise _failed(target, "other", " ".join(str(exc).split())) from None
    except (TimeoutError, EOFError):
        client.close()
        raise _failed(target, "no answer") from None
    except (ConnectionRefusedError, paramiko.ssh_exception.NoValidConnectionsError):
        client.close()
        raise _failed(target, "refused") from None
    except OSError as exc:
        client.close()
        raise _failed(target, "unreachable", str(exc.strerror or exc)) from None
    return client


CLIENT_ENV = "OSLOMIG_SSH_CLIENT"  # "paramiko": never the OpenSSH client (share scans; see README)


def openssh_command(target: SshTarget, command: str) -> list[str] | None:
    """The OpenSSH client's command line running `command` on the target with the checks `connect` makes: the
    host key must be in `known_hosts` (recorded there first when `accept_new_host_key`, OpenSSH's `accept-new`; a
    changed key is refused either way), no other known-hosts file and no ssh_config are read, nothing prompts.
    None where `connect` (paramiko) must do it: no `ssh` on PATH, a password (the client would prompt for it), a
    key file the client would refuse or not find (paramiko reports it as before), or OSLOMIG_SSH_CLIENT=paramiko."""
    import shutil

    ssh = shutil.which("ssh")
    if ssh is None or target.password is not None or os.environ.get(CLIENT_ENV, "").lower() == "paramiko":
        return None
    known = Path(os.path.expanduser(target.known_hosts))
    seconds = str(max(1, math.ceil(target.timeout_s)))  # whole seconds, never shorter than asked
    argv = [ssh, "-F", "none", "-T", "-x", "-a", "-p", str(target.port), "-l", target.username]
    options = {
        "BatchMode": "yes",
        "StrictHostKeyChecking": "accept-new" if target.accept_new_host_key else "yes",
        "UserKnownHostsFile": str(known),
        "GlobalKnownHostsFile": "/dev/null",
        "HashKnownHosts": "no",
        "UpdateHostKeys": "no",
        "LogLevel": "INFO",  # not ERROR: "Timeout, server … not responding" is logged at INFO
        "ConnectTimeout": seconds,
        # a server gone quiet mid-scan (a dead link, not a slow `find`: sshd answers these itself) ends the scan
        # after three unanswered probes instead of leaving a nightly run hanging
        "ServerAliveInterval": seconds,
        "ServerAliveCountMax": "3",
        # AES-GCM first (the processor's AES instructions, on both ends), then OpenSSH's own defaults, so any server
        # that speaks one of those still connects: the client's and sshd's CPU per megabyte of listing is less than
        # with ChaCha20-Poly1305, OpenSSH's first choice (SSH scans on loopback, fifteen pairs: 0.98 and 0.976)
        "Ciphers": ",".join(CIPHERS),
    }
    if target.key_file:
        key = os.path.expanduser(target.key_file)
        try:
            st = os.stat(key)
        except OSError:
            return None
        if st.st_uid != os.geteuid() or st.st_mode & 0o077:  # OpenSSH refuses a private key others can read
            return None
        argv += ["-i", key]
        options["IdentitiesOnly"] = "yes"
    if target.accept_new_host_key:
        known.parent.mkdir(parents=True, exist_ok=True)
    for name, value in options.items():
        argv += ["-o", f"{name}={value}"]
    return [*argv, "--", target.host, command]


REMOTE_NOISE = ("@", "find: ", "b2sum: ", "sha256sum: ", "xargs: ", "sh: ", "head: ", "cat: ", "getent: ")


def openssh_failure(target: SshTarget, stderr: str) -> ConnectError:
    """The OpenSSH client's complaint (exit 255) as the sentence `connect` gives for the same failure."""
    # the client's own lines: not the remote commands' (a file named "Permission denied" is not a refused login)
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith(REMOTE_NOISE)]
    text = " ".join(lines)
    if "not responding" in text:
        return _failed(target, "stopped")
    if "IDENTIFICATION HAS CHANGED" in stderr or "has changed and you have requested strict checking" in text:
        return _failed(target, "changed key")
    if "host key is known for" in text or "Host key verification failed" in text:
        return _failed(target, "unknown key")
    if "Permission denied" in text:
        return _failed(target, "login")
    if "Connection refused" in text:
        return _failed(target, "refused")
    if "banner exchange" in text or "kex_exchange_identification" in text:
        return _failed(target, "not ssh")
    if "timed out" in text:
        return _failed(target, "no answer")
    if "Could not resolve hostname" in text:
        return _failed(target, "unreachable", text.rsplit(": ", 1)[-1])
    return _failed(target, "other", lines[-1] if lines else "the ssh client exited with 255")
