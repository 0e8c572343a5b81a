"""Scan a share over SSH: one `find -printf` lists it on the server, `sha256sum` hashes there.

Fields are NUL-separated, so any byte in a name survives; nothing is
downloaded. GNU find and coreutils are needed on the server (any Linux file
server has them).
"""

from __future__ import annotations

import re
import shlex

from oslomig.shares.scan import FieldChunks, FileBatch, ScanResult, listed_rows
from oslomig.shares.store import ScanStore
from oslomig.sshconn import SshTarget, connect, parse_ssh_url

LIST = "cd -- {path} && LC_ALL=C find . -mindepth 1 -printf '%y\\0%s\\0%T@\\0%u\\0%P\\0'"
HASH = "cd -- {path} && LC_ALL=C xargs -0 -r sha256sum -z --"
FIND_ERROR = re.compile(rb"^find: [`']\./(.*)': (.*)$")
SHA_ERROR = re.compile(rb"^sha256sum: (.*): (.*)$")


def _listed_rows(fields: list[bytes], n: int, owners: dict[bytes, str]) -> list[tuple]:
    """(path, kind, size, mtime, owner, None) of the files and symlinks among find's first `n` fields: the server's
    time as find printed it, its user names (%u) decoded once each; no Windows attributes."""
    names = [owners[o] if o in owners else owners.setdefault(o, o.decode("utf-8", "replace")) for o in fields[3:n:5]]
    return listed_rows(fields, n, map(float, fields[2:n:5]), names, [None] * (n // 5))


def scan_ssh(store: ScanStore, share: str, url: str, target: SshTarget | None = None, progress=None) -> ScanResult:
    user, host, port, path = parse_ssh_url(url)
    target = target or SshTarget(host=host, port=port, username=user)
    client = connect(target)
    scan_id = store.begin_scan(share, url)
    result = ScanResult(share, scan_id)
    try:
        transport = client.get_transport()
        channel = transport.open_session()
        channel.exec_command(LIST.format(path=shlex.quote(path)))
        batch = FileBatch(store, result, progress)
        owners: dict[bytes, str] = {}
        for fields, n in FieldChunks(channel.recv, 5):
            batch.extend(_listed_rows(fields, n, owners))
        batch.flush()
        errors = channel.makefile_stderr("rb").read()
        status = channel.recv_exit_status()
        problems = []
        for line in errors.splitlines():
            m = FIND_ERROR.match(line)
            if not m:
                continue
            rel, why = m[1], m[2].decode("utf-8", "replace")
            if "No such file" in why:
                problems.append((rel, "vanished", "vanished during the scan"))
            else:
                problems.append((rel, "unreadable", f"cannot read: {why}"))
                store.add_files(scan_id, [(rel, "unreadable", 0, 0.0, None, None)])
        if status not in (0, 1) or (status == 1 and not problems and result.files == 0):
            raise ConnectionError(f"{host}: listing {path} failed: {errors.decode('utf-8', 'replace').strip()[:300]}")
        store.add_problems(scan_id, problems)
        result.problems = len(problems)
        _hash_remote(client, store, scan_id, path, result)
        store.finish_scan(scan_id, share)
    except BaseException:
        store.abandon_scan(scan_id)
        raise
    finally:
        client.close()
    return result


def _hash_remote(client, store: ScanStore, scan_id: int, path: str, result: ScanResult) -> None:
    """Full SHA-256 on the server, only for files whose sizes collide."""
    candidates = [rel for rel, _size in store.size_collisions(scan_id)]
    if not candidates:
        return
    channel = client.get_transport().open_session()
    channel.exec_command(HASH.format(path=shlex.quote(path)))
    channel.sendall(b"".join(c + b"\0" for c in candidates))
    channel.shutdown_write()
    hashes = []
    for fields, n in FieldChunks(channel.recv, 1):
        for line in fields[:n]:
            digest, _, rel = line.partition(b"  ")
            hashes.append((rel, digest.decode("ascii")))
    errors = channel.makefile_stderr("rb").read()
    channel.recv_exit_status()
    store.set_hashes(scan_id, "full_hash", hashes)
    result.hashed += len(hashes)
    failed = [
        (m[1], "hash_failed", m[2].decode("utf-8", "replace")) for m in map(SHA_ERROR.match, errors.splitlines()) if m
    ]
    store.add_problems(scan_id, failed)
    result.problems += len(failed)
