"""Host-key checking against a real OpenSSH server on loopback."""

from __future__ import annotations

import dataclasses

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
    import subprocess
    import sys

    code = (
        "import sys; from oslomig.commands.shares import ssh_target; from oslomig.sshconn import SshSettings; "
        "t = ssh_target('ssh://ann@files.example:2222/share', SshSettings(key_file='k')); "
        "print(t.username, t.host, t.port, t.key_file, t.known_hosts, t.timeout_s, 'pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["ann", "files.example", "2222", "k", "~/.ssh/known_hosts", "30", "False"]
    from oslomig.models import SshOptions
    from oslomig.sshconn import SshSettings

    assert dataclasses.asdict(SshSettings()) == SshOptions().model_dump()


def test_the_openssh_client_prefers_aes_gcm_and_keeps_every_cipher_it_would_offer(ssh_server, tmp_path):
    """The client's command offers AES-GCM first and every cipher the installed client offers by default, so a
    server limited to any of those still connects; against the real sshd the session uses AES-GCM."""
    import shutil
    import subprocess

    from oslomig.sshconn import CIPHERS, openssh_command

    if shutil.which("ssh") is None:
        pytest.skip("no OpenSSH client")
    config = subprocess.run(["ssh", "-F", "none", "-G", "example"], capture_output=True, text=True, check=True)
    defaults = next(line.split()[1] for line in config.stdout.splitlines() if line.startswith("ciphers "))
    assert set(CIPHERS) == set(defaults.split(",")) and CIPHERS[0] == "aes128-gcm@openssh.com"
    argv = openssh_command(target(ssh_server, ssh_server.known_hosts), "true")
    assert argv is not None and f"Ciphers={','.join(CIPHERS)}" in argv
    verbose = subprocess.run([*argv[:1], "-v", *argv[1:]], capture_output=True, text=True, timeout=60)
    assert verbose.returncode == 0, verbose.stderr
    assert "cipher: aes128-gcm@openssh.com" in verbose.stderr


# ---------------------------------------------------------------- share scans: the OpenSSH client and paramiko

OWNED = {"a.txt": b"abc", "b.txt": b"abc", "c.txt": b"xyz", "solo.bin": b"12345", "sub/nobody.txt": b"n"}


@pytest.fixture
def tree():
    """A tree sshd's user can read: three files of one size (two the same), one alone (changed before 1970), one
    owned by `nobody` and one by a number no user has (when run as root)."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    base = Path(tempfile.mkdtemp(prefix="oslomig-sshtree-", dir="/tmp"))
    os.chmod(base, 0o755)
    for rel, data in OWNED.items():
        (base / rel).parent.mkdir(exist_ok=True)
        (base / rel).write_bytes(data)
    (base / "sub" / "no-name.txt").write_bytes(b"qq")
    os.utime(base / "solo.bin", ns=(-1_250_000_000, -1_250_000_000))  # before 1970: find prints -2.7500000000
    if os.geteuid() == 0:
        os.chown(base / "sub" / "nobody.txt", 65534, 65534)
        os.chown(base / "sub" / "no-name.txt", 54321, 54321)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _scan(server, root, tmp_path, known=None, accept=False, key=None):
    from oslomig.shares.ssh import scan_ssh
    from oslomig.shares.store import ScanStore

    store = ScanStore(tmp_path / "scan.sqlite")
    try:
        url = server.url(str(root))
        t = target(server, known or server.known_hosts, accept)
        if key is not None:
            t = dataclasses.replace(t, key_file=str(key))
        result = scan_ssh(store, "s", url, t)
        rows = store.db.execute("SELECT path, kind, size, mtime, owner, full_hash FROM files ORDER BY path").fetchall()
        return result, rows
    finally:
        store.close()
        (tmp_path / "scan.sqlite").unlink(missing_ok=True)


@pytest.mark.parametrize("names_bytes", [1 << 20, 0])
def test_the_openssh_client_and_paramiko_list_and_hash_alike(ssh_server, tree, tmp_path, monkeypatch, names_bytes):
    """Row for row the same with either client. With no names sent up front (`names_bytes` 0) every row waits for
    its owner's name, which the server looks up once the listing is done."""
    import os

    from oslomig.shares import ssh
    from oslomig.sshconn import openssh_command

    monkeypatch.setattr(ssh, "NAMES_BYTES", names_bytes)
    monkeypatch.delenv("OSLOMIG_SSH_CLIENT", raising=False)
    assert openssh_command(target(ssh_server, ssh_server.known_hosts), "true") is not None  # not paramiko
    result, rows = _scan(ssh_server, tree, tmp_path)
    monkeypatch.setenv("OSLOMIG_SSH_CLIENT", "paramiko")
    assert openssh_command(target(ssh_server, ssh_server.known_hosts), "true") is None
    assert _scan(ssh_server, tree, tmp_path) == (result, rows)

    by_path = {r[0]: r for r in rows}
    assert set(by_path) == {p.encode() for p in OWNED} | {b"sub/no-name.txt"}
    assert by_path[b"a.txt"][5] == by_path[b"b.txt"][5] != by_path[b"c.txt"][5] is not None  # sizes collide
    assert by_path[b"solo.bin"][5] is None and by_path[b"sub/nobody.txt"][5] is None  # sizes alone: not hashed
    assert result.hashed == 3 and result.files == 6 and result.problems == 0
    for rel, row in by_path.items():  # the times os.stat gives, to the last bit
        assert row[3] == os.lstat(tree / os.fsdecode(rel)).st_mtime, rel
    assert by_path[b"solo.bin"][3] == -1.25
    if os.geteuid() == 0:
        assert by_path[b"a.txt"][4] == "root"
        assert by_path[b"sub/nobody.txt"][4] == "nobody"
        assert by_path[b"sub/no-name.txt"][4] == "54321"  # no user has it: the number, as a local scan gives it


@pytest.mark.parametrize("client", ["openssh", "paramiko"])
def test_a_listing_written_by_the_writers_thread_ends_and_hashes_alike(ssh_server, tree, tmp_path, monkeypatch, client):
    """The listing's rows written from the writer's thread (started here at the first chunk, as a big share's is at
    the second): the same rows and hashes as written by this thread, and the scan ends."""
    import threading

    from oslomig.shares import scan

    if client == "paramiko":
        monkeypatch.setenv("OSLOMIG_SSH_CLIENT", "paramiko")
    else:
        monkeypatch.delenv("OSLOMIG_SSH_CLIENT", raising=False)
    expected = _scan(ssh_server, tree, tmp_path)
    started: list[int] = []
    real_start = scan.Writer._start

    def start(self) -> None:
        real_start(self)
        started.append(self.pool is not None)

    monkeypatch.setattr(scan.Writer, "_start", start)
    real_init = scan.Writer.__init__

    def init(self, *args) -> None:
        real_init(self, *args)
        self.batches = 1  # the first batch already counted: the thread starts at once

    monkeypatch.setattr(scan.Writer, "__init__", init)
    got: list = []
    scanning = threading.Thread(target=lambda: got.append(_scan(ssh_server, tree, tmp_path)), daemon=True)
    scanning.start()
    scanning.join(60)
    assert not scanning.is_alive(), "the scan never ended"
    assert started == [True]
    assert got == [expected]


def test_the_paths_to_hash_held_or_found_by_sqlite_alike(ssh_server, tree, tmp_path, monkeypatch):
    """The paths whose sizes collide go to the server from the listing's held chunks, SQLite untouched; past
    HELD_BYTES of chunks SQLite finds them: the same rows and hashes either way."""
    from oslomig.shares import ssh
    from oslomig.shares.store import ScanStore

    searched: list[set[int]] = []
    real = ScanStore.batches_of_sizes

    def batches_of_sizes(self, scan_id, sizes, batch):
        searched.append(set(sizes))
        return real(self, scan_id, sizes, batch)

    monkeypatch.setattr(ScanStore, "batches_of_sizes", batches_of_sizes)
    held = _scan(ssh_server, tree, tmp_path)
    assert searched == []
    monkeypatch.setattr(ssh._HeldPaths, "HELD_BYTES", 0)
    assert _scan(ssh_server, tree, tmp_path) == held
    assert len(searched) == 1 and searched[0]  # the colliding sizes, searched by SQLite
    assert held[0].hashed == 3


@pytest.mark.parametrize("client", ["openssh", "paramiko"])
def test_paths_that_fail_to_be_made_end_the_input_and_fail_the_scan(ssh_server, tree, tmp_path, monkeypatch, client):
    """The paths to hash are made by the sending thread: when making them fails, the script's input is closed all
    the same (the scan never waits on a server waiting for more) and the scan fails with that error, not with some
    files silently left without a hash."""
    import threading

    from oslomig.shares import ssh

    if client == "paramiko":
        monkeypatch.setenv("OSLOMIG_SSH_CLIENT", "paramiko")
    else:
        monkeypatch.delenv("OSLOMIG_SSH_CLIENT", raising=False)

    def failing(chunks, sizes):
        raise MemoryError("no room for the paths")
        yield b""  # a generator, as the real one

    monkeypatch.setattr(ssh, "_held_pieces", failing)
    outcome: list = []

    def scan() -> None:
        try:
            _scan(ssh_server, tree, tmp_path)
        except BaseException as exc:
            outcome.append(exc)

    scanning = threading.Thread(target=scan, daemon=True)
    scanning.start()
    scanning.join(60)
    assert not scanning.is_alive(), "the scan waited for input that never came"
    assert len(outcome) == 1 and isinstance(outcome[0], MemoryError)


def test_a_listing_not_in_gnu_finds_format_is_one_sentence(tmp_path, monkeypatch):
    """A server whose find prints something else for the format asked (another find, a changed %T@): the scan ends
    in one sentence naming the host and the folder, and leaves no rows behind."""
    from oslomig.shares import ssh
    from oslomig.shares.store import ScanStore

    class Session(ssh._Session):
        def __init__(self):
            pieces = iter([b"root:x:0:0::/root:/bin/sh\n\0", b"f 12 1700000000.5 0\0a.txt\0", b""])
            self.read = lambda _n: next(pieces)
            self.closed = False

        def close(self) -> None:
            self.closed = True

    session = Session()
    monkeypatch.setattr(ssh, "_open", lambda target, command: session)
    store = ScanStore(tmp_path / "s.sqlite")
    with pytest.raises(ConnectionError) as err:
        ssh.scan_ssh(store, "s", "ssh://u@filsrv01/srv/del", SshTarget(host="filsrv01", username="u"))
    assert str(err.value) == "filsrv01: find on the server did not list /srv/del as GNU find does"
    assert session.closed
    assert store.db.execute("SELECT count(*) FROM files").fetchone() == (0,)
    assert store.db.execute("SELECT count(*) FROM scans").fetchone() == (0,)
    store.close()


def test_the_openssh_client_keeps_the_host_key_rules(ssh_server, tree, tmp_path, monkeypatch):
    import subprocess

    monkeypatch.delenv("OSLOMIG_SSH_CLIENT", raising=False)

    from oslomig.errors import ConnectError

    empty = tmp_path / "kh" / "known_hosts"
    with pytest.raises(ConnectError) as err:
        _scan(ssh_server, tree, tmp_path, known=empty)
    assert "unknown host key" in str(err.value) and "refused" in str(err.value)
    assert not empty.exists()

    _result, rows = _scan(ssh_server, tree, tmp_path, known=empty, accept=True)  # trust on first use
    assert len(rows) == 6 and ssh_server.host_key_line.split()[2] in empty.read_text()
    assert len(_scan(ssh_server, tree, tmp_path, known=empty)[1]) == 6  # now known: a strict scan works

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()
    changed = tmp_path / "changed"
    changed.write_text(f"[127.0.0.1]:{ssh_server.port} {other[0]} {other[1]}\n")
    with pytest.raises(ConnectError) as err:
        _scan(ssh_server, tree, tmp_path, known=changed, accept=True)
    assert "does not match" in str(err.value)

    with pytest.raises(ConnectError) as err:  # a key the server does not know
        _scan(ssh_server, tree, tmp_path, key=tmp_path / "other")
    assert f"login refused for {ssh_server.user}" in str(err.value)


def test_the_openssh_client_is_used_only_where_it_can_do_what_paramiko_does(ssh_server, tmp_path, monkeypatch):
    import os

    from oslomig.sshconn import SshTarget, openssh_command

    monkeypatch.delenv("OSLOMIG_SSH_CLIENT", raising=False)
    argv = openssh_command(target(ssh_server, tmp_path / "kh"), "echo hi")
    assert argv is not None and argv[-3:] == ["--", "127.0.0.1", "echo hi"]
    assert "StrictHostKeyChecking=yes" in argv and f"UserKnownHostsFile={tmp_path / 'kh'}" in argv
    assert "BatchMode=yes" in argv and "GlobalKnownHostsFile=/dev/null" in argv and argv[1:3] == ["-F", "none"]
    assert "StrictHostKeyChecking=accept-new" in openssh_command(target(ssh_server, tmp_path / "kh", True), "x")
    assert openssh_command(SshTarget(host="h", username="u", password="pw"), "x") is None  # it would prompt
    loose = tmp_path / "loose_key"
    loose.write_bytes(ssh_server.key_file.read_bytes())
    os.chmod(loose, 0o644)  # the client refuses a private key others can read; paramiko reads it as before
    assert openssh_command(SshTarget(host="h", username="u", key_file=str(loose)), "x") is None
    assert openssh_command(SshTarget(host="h", username="u", key_file=str(tmp_path / "none")), "x") is None
    monkeypatch.setenv("PATH", str(tmp_path))  # no ssh on PATH
    assert openssh_command(target(ssh_server, tmp_path / "kh"), "x") is None


def test_a_silent_server_or_a_missing_folder_is_one_sentence_with_either_client(ssh_server, tmp_path, monkeypatch):
    import socket

    from oslomig.errors import ConnectError
    from oslomig.shares.ssh import scan_ssh
    from oslomig.shares.store import ScanStore

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # accepts (the kernel does), never speaks
    store = ScanStore(tmp_path / "s.sqlite")
    try:
        for client in ("openssh", "paramiko"):
            monkeypatch.setenv("OSLOMIG_SSH_CLIENT", client)
            quiet = target(ssh_server, ssh_server.known_hosts)
            quiet = dataclasses.replace(quiet, port=silent.getsockname()[1], timeout_s=1.5)
            with pytest.raises(ConnectError) as err:
                scan_ssh(store, "s", f"ssh://u@127.0.0.1:{quiet.port}/x", quiet)
            assert "did not answer as an SSH server within 1.5 s" in str(err.value), client
            with pytest.raises(ConnectionError) as lost:
                scan_ssh(store, "s", ssh_server.url("/no/such/folder"), target(ssh_server, ssh_server.known_hosts))
            assert "listing /no/such/folder failed" in str(lost.value) and "/no/such/folder" in str(lost.value)
        assert store.db.execute("SELECT count(*) FROM scans").fetchone()[0] == 0  # each attempt abandoned
    finally:
        store.close()
        silent.close()


def test_a_server_that_goes_quiet_mid_scan_ends_the_scan_with_a_sentence(ssh_server, tmp_path, monkeypatch):
    """The link dies after the handshake and part of the listing (a proxy stops passing bytes either way, and keeps
    both sockets open): the OpenSSH client's keep-alive probes go unanswered and the scan ends in one sentence,
    instead of a nightly run that never returns."""
    import os
    import shutil
    import socket
    import tempfile
    import threading
    from pathlib import Path

    from oslomig.errors import ConnectError
    from oslomig.shares.ssh import scan_ssh
    from oslomig.shares.store import ScanStore

    monkeypatch.delenv("OSLOMIG_SSH_CLIENT", raising=False)  # the OpenSSH client's keep-alive is what is tested
    root = Path(tempfile.mkdtemp(prefix="oslomig-quiet-", dir="/tmp"))
    os.chmod(root, 0o755)
    for i in range(3000):  # a listing of ~150 KB: the link dies part of the way through
        (root / f"dokument-{i:05d}.txt").touch()
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    passed = {"from_server": 0}

    def pump(src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(4096):
                if passed["from_server"] > 40_000:
                    return  # the link is dead: nothing more passes, nothing is closed
                dst.sendall(data)
                if count:
                    passed["from_server"] += len(data)
        except OSError:
            pass

    def proxy() -> None:
        client, _ = listener.accept()
        server = socket.create_connection(("127.0.0.1", ssh_server.port))
        held.extend([client, server])
        threading.Thread(target=pump, args=(client, server, False), daemon=True).start()
        pump(server, client, True)

    threading.Thread(target=proxy, daemon=True).start()
    quiet = target(ssh_server, tmp_path / "kh", accept=True)  # the proxy's port is a new host to known_hosts
    quiet = dataclasses.replace(quiet, port=listener.getsockname()[1], timeout_s=1)
    outcome: list[BaseException] = []

    def scan() -> None:
        store = ScanStore(tmp_path / "s.sqlite")  # SQLite connections stay in the thread that made them
        try:
            scan_ssh(store, "s", f"ssh://{ssh_server.user}@127.0.0.1:{quiet.port}{root}", quiet)
        except BaseException as exc:
            outcome.append(exc)
        finally:
            store.close()

    scanning = threading.Thread(target=scan, daemon=True)  # a scan that hangs fails the test, not the run
    try:
        scanning.start()
        scanning.join(30)
        assert not scanning.is_alive(), "the scan still waits for a server that went quiet 30 s ago"
        assert passed["from_server"] > 40_000  # it did die mid-listing, after the handshake
        assert len(outcome) == 1 and isinstance(outcome[0], ConnectError), outcome
        assert "the server stopped answering during the scan" in str(outcome[0])
    finally:
        listener.close()
        for sock in held:
            sock.close()
        scanning.join(30)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize(
    ("stderr", "said"),
    [
        (
            "find: './Permission denied': Permission denied\nTimeout, server 10.0.0.5 not responding.\n",
            "stopped answering",
        ),
        (
            "find: './a': Permission denied\nclient_loop: send disconnect: Broken pipe\n",
            "SSH failed: client_loop: send",
        ),
        ("ssh: connect to host 10.0.0.5 port 22: Connection timed out\n", "no answer within 30 s"),
        ("ssh: Could not resolve hostname filsrv9: Name or service not known\n", "cannot reach: Name or service"),
        ("root@10.0.0.5: Permission denied (publickey).\n", "login refused for ann"),
        ("", "SSH failed: the ssh client exited with 255"),
    ],
)
def test_the_openssh_clients_complaints_read_as_connects_sentences(stderr, said):
    """Recorded stderr of a client that exited 255: the remote commands' lines that came before (find's, naming
    files) never decide the sentence."""
    from oslomig.sshconn import SshTarget, openssh_failure

    message = str(openssh_failure(SshTarget(host="10.0.0.5", username="ann"), stderr))
    assert message.startswith("10.0.0.5:22: ") and said in message, message


def test_paramiko_is_imported_without_invoke_and_invoke_still_imports_after():
    """`paramiko.config` imports `invoke` (0.1 s) only for ssh_config's `Match exec`, which oslomig never reads:
    the connection code imports paramiko without it, and a later `import invoke` still gets the real module."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import importlib.util, sys
        from oslomig.sshconn import _paramiko
        p = _paramiko()
        print("invoke" in sys.modules, p.config.invoke is None, p.SSHClient.__name__)
        if importlib.util.find_spec("invoke") is not None:  # paramiko's dependency, where installed
            import invoke
            print(invoke.__name__, hasattr(invoke, "Context"))
        else:
            print("invoke", True)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "SSHClient", "invoke", "True"]


# ---------------------------------------------------------------- the first share's session, started early


class _Started:
    """A session `ssh.start` gave: closed or not."""

    def __init__(self, url: str):
        self.url, self.closed = url, False

    def close(self) -> None:
        self.closed = True


def _two_ssh_shares(tmp_path):
    """A share plan of two ssh:// shares."""
    plan = tmp_path / "plan.yaml"
    shares = "".join(
        f"""  - id: {sid}
    source: "ssh://u@filsrv0{n}/srv/{sid}"
    department: Test
    target: {{site: "https://t.sharepoint.com/sites/A", library: Documents, folder: ""}}
    read_only_from: 2021-09-01
    delete_after_days: 90
"""
        for n, sid in ((1, "first"), (2, "second"))
    )
    plan.write_text(f"kind: share-migration\nname: Two\nshares:\n{shares}", encoding="utf-8")
    return plan


def _record_scans(monkeypatch, events: list, start=None):
    """`ssh.start`, the scan file's opening and `scan_ssh` recorded in `events`, in the order they happen."""
    from oslomig.shares import ssh, store
    from oslomig.shares.scan import ScanResult

    def started(url, target):
        events.append(("start", url))
        session = (start or _Started)(url)
        events[-1] += (session,)
        return session

    def scan(store_, share, url, target, progress=None, session=None):
        events.append(("scan", share, session))
        return ScanResult(share, 0)

    real_init = store.ScanStore.__init__

    def opened(self, *args, **kwargs):
        events.append(("store",))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(ssh, "start", started)
    monkeypatch.setattr(ssh, "scan_ssh", scan)
    monkeypatch.setattr(store.ScanStore, "__init__", opened)


def test_the_first_ssh_share_connects_before_the_scan_file_is_opened(tmp_path, monkeypatch, fake_env):
    """The first share's session starts before the scan file is opened and goes to that share's scan; the second
    share's scan starts its own."""
    from oslomig.commands.shares import run_scan

    events: list = []
    _record_scans(monkeypatch, events)
    assert run_scan(_two_ssh_shares(tmp_path), None, [], tmp_path / "s.sqlite", fake_env()) == 0
    assert [e[0] for e in events] == ["start", "store", "scan", "scan"]
    assert events[0][1] == "ssh://u@filsrv01/srv/first"
    assert events[2][1] == "first" and events[2][2] is events[0][2] and not events[0][2].closed
    assert events[3][1:] == ("second", None)


def test_an_early_session_that_failed_fails_its_share_only(tmp_path, monkeypatch, fake_env):
    """A first session that could not start is that share's error, in its turn, as one sentence; the next share
    is still scanned."""
    from oslomig.commands.shares import run_scan
    from oslomig.errors import ConnectError

    def refuse(url):
        raise ConnectError("filsrv01:22: connection refused (no SSH server listening)")

    events: list = []
    _record_scans(monkeypatch, events, refuse)
    env = fake_env()
    assert run_scan(_two_ssh_shares(tmp_path), None, [], tmp_path / "s.sqlite", env) == 1
    assert [e[0] for e in events] == ["start", "store", "scan"] and events[2][1:] == ("second", None)
    assert "first: ssh://u@filsrv01/srv/first: filsrv01:22: connection refused" in env.stderr.getvalue()


def test_an_early_session_is_closed_when_the_scan_file_cannot_be_opened(tmp_path, monkeypatch, fake_env):
    from oslomig.commands.shares import run_scan
    from oslomig.errors import OslomigError

    events: list = []
    _record_scans(monkeypatch, events)
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(OslomigError, match="it is a directory"):
        run_scan(_two_ssh_shares(tmp_path), None, [], tmp_path / "dir.sqlite", fake_env())
    assert [e[0] for e in events] == ["start", "store"]
    assert events[0][1] == "ssh://u@filsrv01/srv/first" and events[0][2].closed


def test_the_server_hashes_odd_names_each_under_its_own(ssh_server, tmp_path):
    """Files whose sizes collide (206 of them), named with a newline, a backslash, a carriage return and a long
    name, hashed by the server's b2sum: each file's hash is BLAKE2b-256 of its content, under its own name."""
    import hashlib
    import shutil
    import tempfile
    from pathlib import Path

    base = Path(tempfile.mkdtemp(prefix="oslomig-sshodd-", dir="/tmp"))
    try:
        base.chmod(0o755)
        names = ["new\nline.txt", "back\\slash.txt", "carriage\rreturn.txt", "plain.txt", "x" * 200 + ".txt"]
        contents = {name: f"{k:05d}".encode() for k, name in enumerate(names)}  # one size, each its own content
        contents["plain-copy.txt"] = contents["plain.txt"]
        contents.update({f"many/{k:03d}.txt": f"m{k:04d}".encode() for k in range(200)})
        (base / "many").mkdir()
        for name, data in contents.items():
            (base / name).write_bytes(data)
        result, rows = _scan(ssh_server, base, tmp_path)
        hashes = {row[0]: row[5] for row in rows}
        assert result.hashed == len(contents) and result.problems == 0
        assert hashes == {
            name.encode(): hashlib.blake2b(data, digest_size=32).hexdigest() for name, data in contents.items()
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_server_without_b2sum_hashes_by_sha256(ssh_server, tree, tmp_path, monkeypatch):
    """A coreutils older than 8.26 has sha256sum but no b2sum: the script's commands are found only in a folder that
    holds every tool it runs but b2sum, and the files whose sizes collide get SHA-256 of their content."""
    import hashlib
    import shutil
    import tempfile
    from pathlib import Path

    from oslomig.shares import ssh

    tools = Path(tempfile.mkdtemp(prefix="oslomig-sshbin-", dir="/tmp"))
    try:
        tools.chmod(0o755)
        for tool in ("getent", "cat", "head", "find", "xargs", "sha256sum"):
            (tools / tool).symlink_to(shutil.which(tool))
        monkeypatch.setattr(ssh, "SCRIPT", f"PATH={tools}; " + ssh.SCRIPT)
        result, rows = _scan(ssh_server, tree, tmp_path)
        hashes = {row[0]: row[5] for row in rows if row[5] is not None}
        assert result.problems == 0
        assert hashes == {rel.encode(): hashlib.sha256(OWNED[rel]).hexdigest() for rel in ("a.txt", "b.txt", "c.txt")}
    finally:
        shutil.rmtree(tools, ignore_errors=True)


def test_a_file_the_server_cannot_read_for_its_hash_is_a_problem(ssh_server, tmp_path):
    """Two files of one size, one of them unreadable by the server's user: the readable one is hashed, the other is
    listed with no hash and recorded as hash_failed, in the words of the server's b2sum."""
    import hashlib
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from oslomig.shares.store import ScanStore

    if os.geteuid() == 0 and ssh_server.user == "root":
        pytest.skip("root reads any file")
    base = Path(tempfile.mkdtemp(prefix="oslomig-sshdeny-", dir="/tmp"))
    try:
        base.chmod(0o755)
        (base / "open.txt").write_bytes(b"same size")
        (base / "shut.txt").write_bytes(b"size same")
        (base / "shut.txt").chmod(0)
        store = ScanStore(tmp_path / "deny.sqlite")
        try:
            from oslomig.shares.ssh import scan_ssh

            result = scan_ssh(store, "s", ssh_server.url(str(base)), target(ssh_server, ssh_server.known_hosts))
            rows = dict(store.db.execute("SELECT path, full_hash FROM files").fetchall())
            problems = store.db.execute("SELECT path, kind, message FROM problems").fetchall()
        finally:
            store.close()
        assert rows == {b"open.txt": hashlib.blake2b(b"same size", digest_size=32).hexdigest(), b"shut.txt": None}
        assert problems == [(b"shut.txt", "hash_failed", "Permission denied")] and result.problems == 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_hashes_are_written_as_they_come_and_committed_a_batch_at_a_time(ssh_server, tmp_path, monkeypatch):
    """The server's hashes read a few bytes at a time: each goes to its row as its line comes, while the rest are
    still coming, committed two at a time (a reader sees them so), and the scan ends with each file's own hash."""
    import hashlib
    import shutil
    import sqlite3
    import tempfile
    from pathlib import Path

    from oslomig.shares import ssh, store

    base = Path(tempfile.mkdtemp(prefix="oslomig-sshbatch-", dir="/tmp"))
    try:
        base.chmod(0o755)
        contents = {f"f{k}.txt": f"{k:04d}".encode() for k in range(7)}
        for name, data in contents.items():
            (base / name).write_bytes(data)
        monkeypatch.setattr(ssh.FieldChunks, "CHUNK", 40)  # less than a line: each read brings a piece of one
        through_nul = ssh._through_nul  # and so does the read that brings the owners' names: the paths went out
        monkeypatch.setattr(ssh, "_through_nul", lambda read: through_nul(lambda n: read(min(n, 40))))  # before it
        monkeypatch.setattr(store, "BATCH", 2)
        monkeypatch.setattr(ssh, "HASHES_AT_ONCE", 1)
        batches: list[int] = []
        committed: list[int] = []
        set_hashes = store.ScanStore.set_hashes

        def recorded(self, scan_id, column, rows):
            batches.append(len(rows))
            reader = sqlite3.connect(self.path)
            committed.append(reader.execute("SELECT count(full_hash) FROM files").fetchone()[0])
            reader.close()
            return set_hashes(self, scan_id, column, rows)

        monkeypatch.setattr(store.ScanStore, "set_hashes", recorded)
        result, rows = _scan(ssh_server, base, tmp_path)
        assert batches == [1] * 7 and result.hashed == 7
        assert committed == [0, 0, 2, 2, 4, 4, 6]
        assert {row[0]: row[5] for row in rows} == {
            name.encode(): hashlib.blake2b(data, digest_size=32).hexdigest() for name, data in contents.items()
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_an_ssh_targets_repr_never_shows_its_password():
    from oslomig.sshconn import SshTarget

    target = SshTarget(host="filsrv01", username="ann", password="Pw-7d1e-secret")
    assert "Pw-7d1e-secret" not in repr(target) and "host='filsrv01'" in repr(target)
    assert target.password == "Pw-7d1e-secret"
