"""Host-key checking against a real OpenSSH server on loopback."""

from __future__ import annotations

import pytest

from oslomig.errors import ConnectError
from oslomig.sshconn import SshTarget, connect


def target(server, known_hosts, accept=False) -> SshTarget:
    return SshTarget(
        host="127.0.0.1",
        port=server.port,
        username=server.user,
        key_file=str(server.key_file),
        known_hosts=str(known_hosts),
        accept_new_host_key=accept,
        timeout_s=10,
    )


def test_unknown_host_key_is_refused(ssh_server, tmp_path):
    empty = tmp_path / "known_hosts"
    with pytest.raises(ConnectError) as err:
        connect(target(ssh_server, empty))
    assert "unknown host key" in str(err.value) and "refused" in str(err.value)
    assert not empty.exists()


def test_accept_new_host_key_records_it(ssh_server, tmp_path):
    known = tmp_path / "known_hosts"
    client = connect(target(ssh_server, known, accept=True))
    client.close()
    recorded = known.read_text()
    assert ssh_server.host_key_line.split()[2] in recorded
    # now it is known: a strict connection works
    connect(target(ssh_server, known)).close()


def test_changed_host_key_is_refused(ssh_server, tmp_path):
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{ssh_server.port} {other[0]} {other[1]}\n")
    with pytest.raises(ConnectError) as err:
        connect(target(ssh_server, known, accept=True))
    assert "does not match" in str(err.value)


def test_known_host_logs_in(ssh_server):
    client = connect(target(ssh_server, ssh_server.known_hosts))
    _, stdout, _ = client.exec_command("id -un")
    assert stdout.read().decode().strip() == ssh_server.user
    client.close()


def test_command_line_ssh_options_need_no_pydantic_and_match_the_share_plans_defaults():
    """An ad hoc ssh:// scan takes its options from the command line as SshSettings (no pydantic import: 0.25 s of
    start-up); with nothing given they are a share plan's `ssh:` defaults."""
    import dataclasses
    import subprocess
    import sys

    code = (
        "import sys; from oslomig.commands.shares import ssh_target; from oslomig.sshconn import SshSettings; "
        "t = ssh_target('ssh://ann@files.example:2222/share', SshSettings(key_file='k')); "
        "print(t.username, t.host, t.port, t.key_file, t.known_hosts, t.timeout_s, 'pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["ann", "files.example", "2222", "k", "~/.ssh/known_hosts", "30.0", "False"]
    from oslomig.models import SshOptions
    from oslomig.sshconn import SshSettings

    assert dataclasses.asdict(SshSettings()) == SshOptions().model_dump()
