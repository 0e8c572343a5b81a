"""Connect to each kind of target and collect its inventory part. Errors become plain sentences.

Heavy drivers are imported inside the functions, so the CLI stays quick to start.
"""

from __future__ import annotations

import re

from oslomig import models
from oslomig.errors import ConnectError
from oslomig.scanning.mapping import oracle_inventory, postgres_inventory, short_host, sqlserver_inventory


def read_secret(target) -> str:
    from oslomig.secrets import read_secret as read

    return read(target.name, getattr(target, "password_env", None), getattr(target, "password_file", None))


def _odbc_value(value: str) -> str:
    # Only values that need it are braced (with } doubled): psqlODBC takes braces literally in UID
    if re.search(r"[;{}=]|^\s|\s$", value):
        return "{" + value.replace("}", "}}") + "}"
    return value


def _plain_odbc_error(exc, where: str, user: str, secret: str) -> ConnectError:
    text = " ".join(str(a) for a in exc.args) if exc.args else str(exc)
    state = exc.args[0] if exc.args else ""
    low = text.lower()
    if (
        state == "28000"
        or "login failed" in low
        or "password authentication failed" in low
        or "authentication failed" in low
    ):
        msg = f"{where}: login refused for {user}"
    elif (
        state in ("08001", "HYT00", "08S01")
        or "timeout" in low
        or "could not connect" in low
        or "unable to connect" in low
        or "connection refused" in low
    ):
        msg = f"{where}: cannot reach the server (no answer, or nothing listening)"
    elif "can't open lib" in low or "data source name not found" in low or state == "IM002":
        driver = re.search(r"Can't open lib '([^']+)'", text)
        msg = (
            f"{where}: ODBC driver {driver[1] if driver else ''!r} is not installed or not registered "
            "(see `odbcinst -q -d`; for SQL Server install msodbcsql18, or set driver: FreeTDS)"
        )
    else:
        msg = f"{where}: {text[:300]}"
    return ConnectError(msg.replace(secret, "***") if secret else msg)


def scan_sqlserver(t: models.SqlServerTarget) -> dict:
    secret = read_secret(t)
    server, _, _instance = t.server.partition("\\")
    freetds = "freetds" in t.driver.lower()
    parts = {"DRIVER": _odbc_value(t.driver), "UID": _odbc_value(t.username), "PWD": _odbc_value(secret)}
    if freetds:  # FreeTDS wants host and port apart; TDS 7.4 speaks to SQL Server 2012 and later
        parts.update(SERVER=server, PORT=str(t.port or 1433), TDS_Version="7.4")
    else:
        parts["SERVER"] = f"{t.server},{t.port}" if t.port and "\\" not in t.server else t.server
        parts["Encrypt"] = "yes" if t.encrypt in (None, True) else "no"
        parts["TrustServerCertificate"] = "yes" if t.trust_server_certificate else "no"
        parts["LoginTimeout"] = str(int(t.timeout_s))
    return _odbc_collect(
        parts,
        f"{t.name} ({t.server})",
        t,
        secret,
        lambda cursor: sqlserver_inventory(cursor, t.host_id or short_host(t.server), t.port),
        query_timeout=True,
    )


def _odbc_collect(parts: dict, where: str, t, secret: str, collect, query_timeout: bool = False) -> dict:
    """Connect through pyodbc, run `collect(cursor)`, close; driver errors become plain sentences without the secret."""
    import pyodbc

    try:
        conn = pyodbc.connect(";".join(f"{k}={v}" for k, v in parts.items()), timeout=int(t.timeout_s), autocommit=True)
    except pyodbc.Error as exc:
        raise _plain_odbc_error(exc, where, t.username, secret) from None
    try:
        if query_timeout:  # SQL_ATTR_CONNECTION_TIMEOUT: SQL Server drivers take it, psqlODBC refuses it
            conn.timeout = int(t.timeout_s)
        return collect(conn.cursor())
    except pyodbc.Error as exc:
        raise _plain_odbc_error(exc, where, t.username, secret) from None
    finally:
        conn.close()


def scan_postgres(t: models.PostgresTarget) -> dict:
    secret = read_secret(t)
    parts = {
        "DRIVER": _odbc_value(t.driver),
        "SERVER": t.host,
        "PORT": str(t.port),
        "DATABASE": _odbc_value(t.database),
        "UID": _odbc_value(t.username),
        "PWD": _odbc_value(secret),
        "ConnSettings": _odbc_value(f"SET statement_timeout = {int(t.timeout_s * 1000)}"),
    }
    if t.sslmode:
        parts["SSLmode"] = t.sslmode
    return _odbc_collect(
        parts,
        f"{t.name} ({t.host}:{t.port})",
        t,
        secret,
        lambda cursor: postgres_inventory(cursor, t.host_id or short_host(t.host), t.port),
    )


def scan_oracle(t: models.OracleTarget) -> dict:
    import oracledb

    secret = read_secret(t)
    if t.thick_mode:
        try:
            oracledb.init_oracle_client()
        except oracledb.Error as exc:
            raise ConnectError(f"{t.name}: thick mode needs Oracle Client libraries: {exc}") from None
    host = re.split(r"[:/]", t.dsn.lstrip("/"), maxsplit=1)[0]
    port_match = re.search(r":(\d+)", t.dsn)
    where = f"{t.name} ({host}:{port_match[1] if port_match else 1521})"
    try:
        conn = oracledb.connect(user=t.username, password=secret, dsn=t.dsn, tcp_connect_timeout=t.timeout_s)
    except oracledb.Error as exc:
        (err,) = exc.args
        code = getattr(err, "full_code", "") or ""
        if code in ("ORA-01017", "ORA-28000"):
            raise ConnectError(f"{where}: login refused for {t.username}") from None
        if code in ("DPY-6005", "DPY-4011", "ORA-12541", "ORA-12170", "DPY-6000"):
            raise ConnectError(f"{where}: no listener (cannot reach the database)") from None
        raise ConnectError(f"{where}: {str(err.message).replace(secret, '***')[:300]}") from None
    try:
        conn.call_timeout = int(t.timeout_s * 1000)
        return oracle_inventory(
            conn.cursor(), t.host_id or short_host(host), int(port_match[1]) if port_match else 1521
        )
    except oracledb.Error as exc:
        raise ConnectError(f"{where}: query failed: {str(exc).replace(secret, '***')[:300]}") from None
    finally:
        conn.close()


HOST_SCRIPT = r"""
echo '@@uname'; uname -s -r -m
echo '@@os'; (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
echo '@@cpu'; (nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
echo '@@mem'; awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null
echo '@@df'; df -P -k -x tmpfs -x devtmpfs -x overlay -x squashfs 2>/dev/null | tail -n +2
echo '@@mounts'; cat /proc/mounts 2>/dev/null
echo '@@listen'; (ss -ltnH 2>/dev/null || netstat -ltn 2>/dev/null | tail -n +3)
"""
DB_PORTS = {1433, 1434, 1521, 1522, 1526, 5432, 5433, 3306, 50000, 27017, 6379}


def scan_host(t: models.HostTarget) -> dict:
    from oslomig.sshconn import SshTarget, connect

    password = read_secret(t) if t.password_env else None
    try:
        client = connect(SshTarget.reaching(t.host, t.port, t.username, t, password))
    except ConnectError as exc:
        raise ConnectError(f"{t.name}: {exc}") from None
    try:
        system = t.os or _which_os(client, t.timeout_s)
        if system == "windows":
            return {"hosts": [_windows_host(client, t)]}
        # keep stdin: paramiko shuts the channel's write side when that file object is collected
        stdin, stdout, _ = client.exec_command("sh -s", timeout=t.timeout_s)
        stdin.write(HOST_SCRIPT)
        stdin.channel.shutdown_write()
        text = stdout.read().decode("utf-8", "replace")
    except ConnectError:
        raise
    except Exception as exc:  # paramiko raises socket.timeout and SSHException here
        raise ConnectError(f"{t.name} ({t.host}:{t.port}): host commands failed: {exc}") from None
    finally:
        client.close()
    return {"hosts": [host_facts(t.name, t.host, text)]}


def _which_os(client, timeout: float) -> str:
    """posix when `uname -s` answers; windows when it is not a command there (cmd.exe and PowerShell both say so),
    or when it is Git for Windows', MSYS2's or Cygwin's uname on a Windows server."""
    _stdin, stdout, _stderr = client.exec_command("uname -s", timeout=timeout)
    answer = stdout.read().decode("utf-8", "replace").strip()
    status = stdout.channel.recv_exit_status()
    if status != 0 or not answer or answer.upper().startswith(("MINGW", "MSYS", "CYGWIN", "WINDOWS")):
        return "windows"
    return "posix"


def _windows_host(client, t: models.HostTarget) -> dict:
    from oslomig.scanning.windows import command, windows_facts

    _stdin, stdout, stderr = client.exec_command(command(), timeout=t.timeout_s)
    text = stdout.read().decode("utf-8", "replace")
    errors = stderr.read().decode("utf-8", "replace").strip()
    status = stdout.channel.recv_exit_status()
    where = f"{t.name} ({t.host}:{t.port})"
    if status != 0 and not text.strip():
        first = errors.splitlines()[0] if errors else f"exit status {status}"
        if status == 127 or "not found" in errors or "not recognized" in errors:
            raise ConnectError(f"{where}: powershell.exe is not there; is it a Windows server? (give os: posix if not)")
        raise ConnectError(f"{where}: the PowerShell inventory command failed: {first[:300]}")
    try:
        return windows_facts(t.name, t.host, text, DB_PORTS)
    except ValueError as exc:
        raise ConnectError(f"{where}: {exc}") from None


def host_facts(name: str, address: str, text: str) -> dict:
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
            sections[current] = []
        elif current:
            sections[current].append(line)
    uname = (sections.get("uname") or [""])[0].split()
    kernel = uname[0].lower() if uname else ""
    os_name = {"linux": "linux", "aix": "aix", "sunos": "solaris"}.get(kernel, "other")
    fstypes = {}
    for line in sections.get("mounts", []):
        parts = line.split()
        if len(parts) >= 3:
            fstypes[parts[1]] = parts[2]
    disks = []
    for line in sections.get("df", []):
        parts = line.split()
        if len(parts) >= 6 and parts[1].isdigit():
            mount = " ".join(parts[5:])
            disks.append(
                {
                    "mount": mount,
                    "size_gb": round(int(parts[1]) / 1024**2, 2),
                    "free_gb": round(int(parts[3]) / 1024**2, 2),
                    **({"fstype": fstypes[mount]} if mount in fstypes else {}),
                }
            )
    ports = set()
    for line in sections.get("listen", []):
        for field in line.split():
            m = re.match(r"^(?:\S*[:.])?(\d+)$", field)
            if m and ":" in field and int(m[1]) in DB_PORTS:
                ports.add(int(m[1]))
    mem = (sections.get("mem") or [""])[0].strip()
    cpu = (sections.get("cpu") or [""])[0].strip()
    host = {
        "name": name,
        "os": os_name,
        "os_version": ((sections.get("os") or [""])[0].strip() or " ".join(uname[:2])) or None,
        "cpu_count": int(cpu) if cpu.isdigit() else None,
        "memory_gb": round(int(mem) / 1024**2, 2) if mem.isdigit() else None,
        "disks": sorted(disks, key=lambda d: d["mount"]),
        "listening_ports": sorted(ports),
    }
    if not re.match(r"^\d+\.\d+\.\d+\.\d+$|^\[?[0-9a-f:]+\]?$", address):
        host["fqdn"] = address
    return {k: v for k, v in host.items() if v is not None}


SCANNERS = {"sqlserver": scan_sqlserver, "oracle": scan_oracle, "postgres": scan_postgres, "hosts": scan_host}
