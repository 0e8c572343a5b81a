"""Real servers on loopback for the tests: OpenSSH (and PostgreSQL), started in a temp directory."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
TEST_USER = "oslomig-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class SshServer:
    port: int
    user: str
    key_file: Path  # the client's private key
    known_hosts: Path  # a known_hosts file holding the server's key
    host_key_line: str
    home: Path

    def url(self, path: str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"


def _login_user(base: Path) -> str:
    """Root can read anything, which would hide unreadable directories: as root, log in as an unprivileged test user."""
    if os.geteuid() != 0:
        return getpass.getuser()
    if subprocess.run(["id", TEST_USER], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", TEST_USER],
            check=True,
            capture_output=True,
        )
    # '*': no password can log in, yet the account is not locked (sshd refuses locked accounts even for keys)
    subprocess.run(["usermod", "-p", "*", TEST_USER], check=True, capture_output=True)
    return TEST_USER


@contextlib.contextmanager
def running_sshd(user: str | None = None):
    """An OpenSSH server on a free loopback port with fresh host and client keys (tests and benchmarks)."""
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        raise FileNotFoundError("OpenSSH server not installed (make test installs openssh-server)")
    base = Path(tempfile.mkdtemp(prefix="oslomig-sshd-", dir="/tmp"))
    os.chmod(base, 0o755)
    user = user or _login_user(base)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "client_key")], check=True)
    auth = base / f"authorized_keys_{user}"
    shutil.copy(base / "client_key.pub", auth)
    os.chmod(auth, 0o644)
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\nPidFile {base / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {base}/authorized_keys_%u\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        f"KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
        f"Subsystem sftp internal-sftp\nLogLevel ERROR\nMaxStartups 50\nMaxSessions 50\n"
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(base / "sshd.log", "wb"),  # noqa: SIM115 (lives as long as sshd)
    )
    try:
        wait_port(port)
        host_pub = (base / "host_key.pub").read_text().split()
        line = f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}"
        known = base / "known_hosts"
        known.write_text(line + "\n")
        yield SshServer(port, user, base / "client_key", known, line, base)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def ssh_server():
    try:
        with running_sshd() as server:
            yield server
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


# ------------------------------------------------------------------ Samba

SMBD = "/usr/sbin/smbd"
SMB_PASSWORD = "Smb-test-pw-7d1e"  # a test secret: never to appear in output (the tests check)


@dataclass
class SmbServer:
    port: int
    user: str
    root: Path  # served as the share `dept`
    archive: Path  # served as `archive`, where every file is an offline (HSM) stub (vfs_offline)
    base: Path

    def url(self, share: str, path: str = "") -> str:
        return f"smb://{self.user}@127.0.0.1:{self.port}/{share}" + (f"/{path}" if path else "")


SMB_CONF = """[global]
  server role = standalone server
  smb ports = {port}
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  server min protocol = SMB2_10
  passdb backend = tdbsam:{base}/private/passdb.tdb
  private dir = {base}/private
  lock directory = {base}/lock
  state directory = {base}/state
  cache directory = {base}/cache
  pid directory = {base}/pid
  ncalrpc dir = {base}/ncalrpc
  log file = {base}/log/%m.log
  log level = 1
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  map to guest = never
  unix charset = UTF-8
  # Windows attributes from the mode bits, as a test can set them: group-execute = system; dot files hidden
  store dos attributes = no
  map system = yes
  map hidden = no
  map archive = no
  hide dot files = yes
  follow symlinks = no
  wide links = no
[dept]
  path = {root}
  read only = yes
[archive]
  path = {archive}
  read only = yes
  vfs objects = offline
"""


@contextlib.contextmanager
def running_smbd(root: Path | None = None):
    """Samba's smbd on a free loopback port, with a private passdb holding one user (the unprivileged test user
    when run as root, so unreadable folders stay unreadable). `root`: serve this folder as `dept` (benchmarks)."""
    if not os.path.exists(SMBD) or shutil.which("smbpasswd") is None:
        raise FileNotFoundError("Samba not installed (make test installs samba and samba-vfs-modules)")
    if os.geteuid() != 0:
        raise FileNotFoundError("smbd serves other users' files only when started as root (CI runs as root)")
    base = Path(tempfile.mkdtemp(prefix="oslomig-smbd-", dir="/tmp"))
    os.chmod(base, 0o755)
    user = _login_user(base)
    for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc", "log", "root", "archive"):
        (base / sub).mkdir()
    os.chmod(base / "root", 0o755)
    os.chmod(base / "archive", 0o755)
    port = free_port()
    conf = base / "smb.conf"
    served = root or base / "root"
    conf.write_text(SMB_CONF.format(port=port, base=base, root=served, archive=base / "archive"))
    subprocess.run(
        ["smbpasswd", "-c", str(conf), "-s", "-a", user],
        input=f"{SMB_PASSWORD}\n{SMB_PASSWORD}\n",
        text=True,
        check=True,
        capture_output=True,
    )
    # a session of its own: when smbd stops, it signals its whole process group, which must not be pytest's;
    # stdin a pipe held open: smbd in the foreground exits at end of input (CI runs with no standard input)
    proc = subprocess.Popen(
        [SMBD, "--foreground", "--no-process-group", "--debug-stdout", "-s", str(conf)],
        stdin=subprocess.PIPE,
        stdout=open(base / "smbd.log", "wb"),  # noqa: SIM115 (lives as long as smbd)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_port(port)
        yield SmbServer(port, user, served, base / "archive", base)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdin.close()
        for dirpath, dirnames, _ in os.walk(base):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def smb_server():
    try:
        with running_smbd() as server:
            yield server
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


# ------------------------------------------------------------------ PostgreSQL


@dataclass
class PgServer:
    port: int
    user: str
    password: str
    socket_dir: Path
    data: Path
    bin: Path
    run_as: list[str]

    def psql(self, sql: str, db: str = "postgres") -> str:
        proc = subprocess.run(
            [
                *self.run_as,
                str(self.bin / "psql"),
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAtc",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return proc.stdout.strip()

    def stop(self) -> None:
        subprocess.run(
            [*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
            capture_output=True,
        )

    def start(self) -> None:
        subprocess.run(
            [
                *self.run_as,
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.data.parent / "pg.log"),
                "-w",
                "-o",
                f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1",
                "start",
            ],
            check=True,
            capture_output=True,
        )


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@contextlib.contextmanager
def running_postgres(password: str):
    """A throwaway PostgreSQL cluster on a free loopback port; as root it runs as the `postgres` system user."""
    pg_bin = _pg_bin()
    if pg_bin is None:
        raise FileNotFoundError("PostgreSQL server not installed (make test installs postgresql)")
    base = Path(tempfile.mkdtemp(prefix="oslomig-pg-", dir="/tmp"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        run_as = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
        shutil.chown(base, "postgres", "postgres")
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    data = base / "data"
    subprocess.run(
        [
            *run_as,
            str(pg_bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "inventory",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
        ],
        check=True,
        capture_output=True,
    )
    pwfile.unlink()
    server = PgServer(free_port(), "inventory", password, base, data, pg_bin, run_as)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
