"""Scan a Windows file share over SMB 2/3 with smbprotocol (SPEC §5.3).

One directory query per folder returns name, size, times and attributes of every entry (FileIdFullDirectory
Information), so listing costs a round trip per folder, never per file. Only files whose size another file shares
are opened, to hash them: a 4 KiB prefix first, the whole file only when prefixes collide too.

Windows attributes that matter to a move are kept in the scan (`files.attributes`): hidden, system, and the HSM
stubs (offline, recall on open, recall on data access). A stub is never opened: reading it would recall the file
from the archive, and hashing a whole archived share would recall all of it. Its row says `offline`, and the
manifest sends it to review. Symbolic links and junctions are not followed (as local scans do not follow symlinks).
"""

from __future__ import annotations

import datetime as dt
import errno
from collections.abc import Iterator

from oslomig.errors import ConnectError
from oslomig.shares.scan import FileBatch, ScanResult, hash_collisions
from oslomig.shares.store import ScanStore
from oslomig.smburl import SmbUrl, parse_smb_url

# MS-FSCC 2.6 file attributes
READONLY, HIDDEN, SYSTEM, DIRECTORY, ARCHIVE = 0x1, 0x2, 0x4, 0x10, 0x20
REPARSE_POINT, OFFLINE = 0x400, 0x1000
RECALL_ON_OPEN, RECALL_ON_DATA_ACCESS = 0x40000, 0x400000
STUB = OFFLINE | RECALL_ON_OPEN | RECALL_ON_DATA_ACCESS
# MS-FSCC 2.1.2.1 reparse tags that point elsewhere: a symbolic link, a junction (mount point)
LINK_TAGS = {0xA000000C, 0xA0000003}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _seconds(value) -> float:
    """A FILETIME as smbprotocol gives it (a datetime in UTC, naive or not) as POSIX seconds."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return (value - EPOCH).total_seconds()
    return 0.0


def kind_of(attributes: int, reparse_tag: int) -> str:
    """file | symlink | offline | dir, from the directory entry alone."""
    if attributes & REPARSE_POINT and reparse_tag in LINK_TAGS:
        return "symlink"
    if attributes & DIRECTORY:
        return "dir"
    if attributes & STUB:
        return "offline"
    return "file"


def _name_bytes(name: str) -> bytes:
    """Names are UTF-16 on the wire; a lone surrogate (legal in NTFS) survives as bytes that are not UTF-8, which
    the rules then send to review as NOT_UTF8."""
    return name.encode("utf-8", "surrogatepass")


class SmbShare:
    """One authenticated session to a share, its connection cache private to this scan."""

    def __init__(self, url: str, password: str, timeout_s: float = 30):
        self.url: SmbUrl = parse_smb_url(url)
        self.cache: dict = {}
        self.kwargs = {
            "port": self.url.port,
            "username": self.url.username,
            "password": password,
            "connection_cache": self.cache,
        }
        self.timeout_s = timeout_s

    def connect(self) -> None:
        import smbclient

        u = self.url
        try:
            smbclient.register_session(
                u.server,
                username=u.username,
                password=self.kwargs["password"],
                port=u.port,
                connection_timeout=int(self.timeout_s),
                connection_cache=self.cache,
            )
        except Exception as exc:
            raise ConnectError(self._sentence(exc)) from None
        try:  # the share and the folder exist and may be listed: the first entry says so (the listing is lazy)
            with self.scandir("") as it:
                next(it, None)
        except Exception as exc:
            raise ConnectError(self._sentence(exc)) from None

    def _sentence(self, exc: Exception) -> str:
        """What went wrong, in words; never the password (smbprotocol's messages do not hold it, and it is
        removed all the same)."""
        password = self.kwargs["password"]
        chain, seen = [], exc
        while seen is not None and len(chain) < 5:  # smbclient wraps the server's status (a DFS lookup, say)
            chain.append(str(seen).replace(password, "***") if password else str(seen))
            seen = seen.__cause__ or seen.__context__
        text = chain[0]
        low = " ".join(chain).lower()
        u = self.url
        if "logon_failure" in low or "logon failure" in low or "authentication" in low or "spnego" in low:
            why = f"the server refused the log-on of {u.username} (wrong user name or password?)"
        elif "bad_network_name" in low or "bad network name" in low:
            why = f"there is no share named {u.share!r} on {u.server}"
        elif "object_name_not_found" in low or "object_path_not_found" in low or "no such file" in low:
            why = f"there is no folder '{u.path.replace(chr(92), '/')}' in the share {u.share!r}"
        elif "access_denied" in low or "access is denied" in low or "permission denied" in low:
            why = f"{u.username} may not read {u.unc()}"
        elif "failed to connect" in low or "connection refused" in low or "timed out" in low:
            why = f"cannot connect to {u.server}:{u.port} ({text.split(':')[-1].strip() or text})"
        else:
            why = text
        return why

    def scandir(self, rel: str):
        import smbclient

        return smbclient.scandir(self.url.unc(rel), **self.kwargs)

    def open(self, rel: str):
        import smbclient

        # read sharing for everyone else: a scan never locks a user out of their document
        return smbclient.open_file(self.url.unc(rel), mode="rb", share_access="rwd", **self.kwargs)

    def close(self) -> None:
        import smbclient

        smbclient.reset_connection_cache(connection_cache=self.cache)


def walk_smb(share: SmbShare) -> Iterator[tuple]:
    """Yield (kind, relpath bytes, size, mtime, attributes) for files, links and stubs, and ("problem", relpath,
    kind, message); folders in name order, as `walk_local` does."""
    stack = [""]
    while stack:
        rel = stack.pop()
        rel_b = _name_bytes(rel.replace("\\", "/"))
        try:
            with share.scandir(rel) as it:
                entries = [(e.name, e.smb_info) for e in it]
        except OSError as exc:
            if getattr(exc, "errno", None) == errno.ENOENT:
                yield ("problem", rel_b, "vanished", "directory vanished during the scan")
            else:
                yield ("unreadable", rel_b, 0, 0.0, None)
                yield ("problem", rel_b, "unreadable", f"cannot list directory: {exc.strerror or exc}")
            continue
        entries.sort(key=lambda e: e[0])
        for name, info in entries:
            child = f"{rel}\\{name}" if rel else name
            child_b = _name_bytes(child.replace("\\", "/"))
            attributes = int(info.file_attributes)
            kind = kind_of(attributes, int(info.ea_size) if attributes & REPARSE_POINT else 0)
            if kind == "dir":
                stack.append(child)
                continue
            yield (kind, child_b, int(info.end_of_file), _seconds(info.last_write_time), attributes)


def scan_smb(
    store: ScanStore, share_id: str, url: str, password: str, timeout_s: float = 30, progress=None
) -> ScanResult:
    smb = SmbShare(url, password, timeout_s)
    smb.connect()
    scan_id = store.begin_scan(share_id, url)
    result = ScanResult(share_id, scan_id)
    problems: list[tuple] = []
    try:
        batch = FileBatch(store, result, progress)
        for item in walk_smb(smb):
            if item[0] == "problem":
                problems.append(item[1:])
                continue
            kind, rel, size, mtime, attributes = item
            batch.add(rel, kind, size, mtime, None, attributes)
        batch.flush()
        store.add_problems(scan_id, problems)
        # as for local shares: only where sizes collide, prefix first; offline stubs are `offline`, never among them
        hash_collisions(store, scan_id, result, lambda rel: smb.open(rel.decode("utf-8", "surrogatepass")))
        store.finish_scan(scan_id, share_id)
    except BaseException:
        store.abandon_scan(scan_id)
        raise
    finally:
        smb.close()
    result.problems += len(problems)
    return result
