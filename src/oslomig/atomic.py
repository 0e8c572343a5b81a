"""Atomic writes (SPEC §8): a temp file in the same directory, fsync, rename.

- Ctrl-C (or a crash) before the rename leaves the previous file as it was.
- Only a regular file (or nothing) is ever replaced: a device, a directory or a
  symlink at the target is refused with a plain sentence, never clobbered.
- A new file gets the umask's mode (0666 & ~umask); an overwritten file keeps
  its mode, so a group-readable output shared with cron stays group-readable.
- Failures to create or replace the file (a read-only directory, a parent that
  is a regular file) are user errors (exit 2), not tracebacks.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from oslomig.errors import OslomigError


def current_umask() -> int:
    """The process umask, read fresh each time (it can only be read by setting it)."""
    old = os.umask(0o022)
    os.umask(old)
    return old


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_target(path: Path) -> int | None:
    """The mode to give the new file: the existing file's, or None for a new one. Refuses what is not a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise OslomigError(f"cannot write {path}: a folder on its path is a regular file") from None
    except OSError as exc:
        raise OslomigError(f"cannot write {path}: {_why(exc)}") from None
    if stat.S_ISLNK(st.st_mode):
        raise OslomigError(f"refusing to write {path}: it is a symbolic link (oslomig replaces only regular files)")
    if stat.S_ISDIR(st.st_mode):
        raise OslomigError(f"cannot write {path}: it is a directory; give a file name")
    if not stat.S_ISREG(st.st_mode):
        raise OslomigError(f"refusing to write {path}: it is not a regular file (a device, pipe or socket)")
    return stat.S_IMODE(st.st_mode)


def ensure_dir(path: Path) -> None:
    """mkdir -p with a plain sentence when it cannot be made."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OslomigError(f"cannot use {path} as a directory: it exists and is not a directory") from None
    except NotADirectoryError:
        raise OslomigError(f"cannot create {path}: a folder on its path is a regular file") from None
    except OSError as exc:
        raise OslomigError(f"cannot create directory {path}: {_why(exc)}") from None
    if not path.is_dir():
        raise OslomigError(f"cannot use {path} as a directory: it exists and is not a directory")


def _temp_beside(path: Path, prefix: str) -> tuple[int, str]:
    """An open temp file in the target's directory, with the mode the target will have: the existing file's, or the
    umask's for a new one. Refuses a target that is not a regular file."""
    ensure_dir(path.parent)
    keep_mode = check_target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OslomigError(f"cannot write {path}: {_why(exc)}") from None
    os.fchmod(fd, keep_mode if keep_mode is not None else 0o666 & ~current_umask())
    return fd, tmp


def _replace(tmp: str, path: Path) -> None:
    try:
        os.replace(tmp, path)
    except OSError as exc:
        raise OslomigError(f"cannot replace {path}: {_why(exc)}") from None


@contextlib.contextmanager
def atomic_open(
    path: Path | str, mode: str = "w", newline: str | None = None, encoding: str = "utf-8"
) -> Iterator[IO[Any]]:
    path = Path(path)
    fd, tmp = _temp_beside(path, f".{path.name[:200]}.")
    try:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        check_target(path)  # it may have become something else while we wrote
        _replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class SyncBehind:
    """A big file's data put on disk behind its writer: once `every` bytes more are written, they are flushed and
    `fdatasync`ed in a thread (which lets go of the GIL) while the writer goes on, so the fsync before the rename
    finds only the tail left (190 MB of manifest here: that fsync took 0.27-0.30 s, 0.03 s with this). Use it
    inside `atomic_open`'s block and tell it what was written: leaving it waits for the thread, so the file is
    never closed under a sync, and raises the sync's error (after an error of the block's own, that one goes on)."""

    EVERY = 32 << 20

    def __init__(self, handle: IO[Any], every: int = EVERY):
        self.handle, self.every = handle, every
        self.since = 0
        self.pool: Any = None
        self.pending: Any = None

    def wrote(self, n: int) -> None:
        """`n` more bytes (or characters) written to the handle."""
        self.since += n
        if self.since < self.every or (self.pending is not None and not self.pending.done()):
            return  # below the mark, or the last sync still running: the next write tries again
        self._wait()
        self.handle.flush()
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oslomig-sync")
        self.pending = self.pool.submit(os.fdatasync, self.handle.fileno())
        self.since = 0

    def _wait(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> SyncBehind:
        return self

    def __exit__(self, kind, *_exc) -> None:
        try:
            if kind is None:
                self._wait()
            else:
                with contextlib.suppress(OSError):
                    self._wait()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)
                self.pool = None


def write_text(path: Path | str, text: str) -> None:
    with atomic_open(path, "w", newline="") as handle:
        handle.write(text)


def write_bytes(path: Path | str, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def write_many(files: dict[Path, str | bytes]) -> None:
    """Write a set of files all-or-nothing: every temp file first, then the renames.

    If any file cannot be written, no file of the set is replaced. (The renames
    themselves are not one transaction, but once every temp file exists each
    rename is a metadata operation in the same directory that cannot run out of
    space or hit a name limit.)
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            fd, tmp = _temp_beside(path, ".oslomig.")
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
                handle.flush()
                os.fsync(handle.fileno())
        for tmp, path in staged:
            _replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
