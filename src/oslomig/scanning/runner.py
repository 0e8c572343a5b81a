"""Run every scan target concurrently, write one inventory file per target, never let one bad target stop the rest."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from oslomig import __version__, models
from oslomig.atomic import write_text
from oslomig.errors import ConnectError, OslomigError

LOCK_NAME = ".oslomig-scan.lock"


@dataclass
class TargetResult:
    kind: str
    name: str
    ok: bool
    seconds: float
    message: str = ""
    counts: dict = field(default_factory=dict)
    path: Path | None = None


class ScanLock:
    """An exclusive flock on OUT/.oslomig-scan.lock: two scans never write one directory at once."""

    def __init__(self, out: Path):
        self.path = out / LOCK_NAME
        self.handle = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another process"
            self.handle.close()
            raise OslomigError(
                f"another scan is writing {self.path.parent} ({holder}); not starting a second one"
            ) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"pid {os.getpid()} since {dt.datetime.now().isoformat(timespec='seconds')}\n")
        self.handle.flush()
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
        return False


def targets_of(targets: models.ScanTargets, only: list[str]) -> list[tuple[str, object]]:
    jobs = [(kind, t) for kind in ("sqlserver", "oracle", "postgres", "hosts") for t in getattr(targets, kind)]
    if only:
        names = {t.name for _, t in jobs}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise OslomigError(f"no target named {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        jobs = [(k, t) for k, t in jobs if t.name in only]
    return jobs


def _run_one(kind: str, target) -> dict:
    from oslomig.scanning.connectors import SCANNERS

    return SCANNERS[kind](target)


def run_targets(
    jobs: list[tuple[str, object]], out: Path, workers: int = 8, on_done=None, scan=_run_one
) -> list[TargetResult]:
    """Scan concurrently (daemon threads, so a hung driver never keeps the process alive past its timeout)."""
    if workers < 1:
        raise OslomigError(f"--workers must be at least 1 (got {workers})")
    results: dict[int, TargetResult] = {}
    done: queue.Queue = queue.Queue()
    pending = list(enumerate(jobs))
    started: dict[int, float] = {}
    running: dict[int, threading.Thread] = {}

    def work(i: int, kind: str, target) -> None:
        t0 = time.monotonic()
        try:
            data = scan(kind, target)
            done.put(
                (
                    i,
                    TargetResult(
                        kind, target.name, True, time.monotonic() - t0, counts={k: len(v) for k, v in data.items()}
                    ),
                    data,
                )
            )
        except ConnectError as exc:
            done.put((i, TargetResult(kind, target.name, False, time.monotonic() - t0, str(exc)), None))
        except Exception as exc:  # a driver's surprise must not stop the other targets
            done.put(
                (
                    i,
                    TargetResult(
                        kind, target.name, False, time.monotonic() - t0, f"{target.name}: {type(exc).__name__}: {exc}"
                    ),
                    None,
                )
            )

    while pending or running:
        while pending and len(running) < workers:
            i, (kind, target) = pending.pop(0)
            th = threading.Thread(target=work, args=(i, kind, target), daemon=True, name=f"scan-{target.name}")
            started[i] = time.monotonic()
            running[i] = th
            th.start()
        try:
            i, result, data = done.get(timeout=0.2)
        except queue.Empty:
            now = time.monotonic()
            for i in list(running):
                kind, target = jobs[i]
                limit = target.timeout_s + 5  # the drivers' own timeouts should fire first
                if now - started[i] > limit:
                    results[i] = TargetResult(
                        kind,
                        target.name,
                        False,
                        now - started[i],
                        f"{target.name}: no answer within {target.timeout_s:g} s (timed out)",
                    )
                    del running[i]
                    if on_done:
                        on_done(results[i])
            continue
        if i not in running:
            continue  # already reported as timed out
        del running[i]
        if result.ok:
            result.path = write_inventory(out, result.kind, result.name, data)
        results[i] = result
        if on_done:
            on_done(result)
    return [results[i] for i in sorted(results)]


def write_inventory(out: Path, kind: str, name: str, data: dict) -> Path:
    path = out / "scanned" / f"{kind}-{name}.yaml"
    body = {
        "source": {
            "scanned_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "target": f"{kind}/{name}",
            "tool_version": f"oslomig {__version__}",
        }
    }
    for key in ("hosts", "instances", "databases"):
        if data.get(key):
            body[key] = sorted(data[key], key=lambda x: x.get("id", x.get("name")))
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120)
    header = (
        "# yaml-language-server: $schema=../../schema/inventory.json\n# Written by `oslomig inventory scan`; a "
        "rescan replaces it.\n"
    )
    write_text(path, header + text)
    return path
