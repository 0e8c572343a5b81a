"""Prove the move before the old share is deleted (SPEC §5.2): SPMT's item reports against the manifest.

SPMT writes, per task, `ItemReport_R<round>.csv` (one row per file and folder it handled; columns include
`Source`, `Destination`, `Status`, `Message`), in a `TaskReport_*` folder of its report directory. A migrate row
of the manifest has arrived when a report row for its staging path says `Migrated` (any round) and, where the
report gives a destination, at the target the manifest names. Everything else is listed; a deletion waits.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from oslomig.errors import OslomigError
from oslomig.models import ShareSpec
from oslomig.shares.rules import library_url_name

ARRIVED = "Migrated"
VERIFY_COLUMNS = [
    "share",
    "source_path",
    "target_path",
    "staging_source",
    "result",
    "report_status",
    "message",
    "report",
]
RECORD = "verified.json"


def digest_update(h, row: list) -> None:
    h.update("\x1f".join(migrate_key(row)).encode("utf-8", "surrogatepass") + b"\x1e")


def migrate_key(row: list[str]) -> list[str]:
    """The fields of a manifest row that the digest covers: source_path, size, modified, site, library, target."""
    return [row[1], str(row[2]), row[3], row[6], row[7], row[8]]


def norm(path: str) -> str:
    """Windows compares paths case-insensitively, with either separator."""
    return path.replace("/", "\\").rstrip("\\").casefold()


@dataclass
class Expected:
    source_path: str
    target_path: str
    staging_source: str
    destination: str
    line: int
    seen: list[tuple[str, str, str, str]] = field(default_factory=list)  # (status, message, destination, where)


@dataclass
class ShareProof:
    share: ShareSpec
    expected: dict[str, Expected]  # norm(staging source) -> row
    folders: set[str]
    base: str  # norm(staging UNC directory)
    digest: str
    open_review: int
    unknown: list[tuple[str, str, str]] = field(default_factory=list)  # (source, status, where)

    def results(self):
        """(Expected, result, status, message, where) per migrate row, in manifest order."""
        for exp in self.expected.values():
            arrived = [s for s in exp.seen if s[0].casefold() == ARRIVED.casefold()]
            if arrived:
                status, message, dest, where = arrived[-1]
                if dest and _url_norm(dest) != _url_norm(exp.destination):
                    yield exp, "elsewhere", status, f"arrived at {dest}, expected {exp.destination}", where
                else:
                    yield exp, "arrived", status, message, where
            elif exp.seen:
                status, message, _dest, where = exp.seen[-1]
                yield exp, "failed", status, message, where
            else:
                yield exp, "missing", "", "in no SPMT item report", ""


def _url_norm(url: str) -> str:
    return unquote(url).rstrip("/").casefold()


def expected_rows(manifest_csv: Path, shares: list[ShareSpec], plan_dir: Path) -> dict[str, ShareProof]:
    """Per share: each migrate row of the manifest at the UNC path SPMT reads it from (its staging root)."""
    from oslomig.shares.manifestcsv import read_rows
    from oslomig.shares.staging import root_for, staging_roots, staging_unc, staging_unc_base

    proofs = {s.id: ShareProof(s, {}, set(), norm(staging_unc_base(s, plan_dir)), "", 0) for s in shares}
    roots = {s.id: staging_roots(s) for s in shares}
    fingerprints = {s.id: hashlib.sha256() for s in shares}
    for line, row in read_rows(manifest_csv, set(proofs)):
        proof = proofs[row[0]]
        if row[4] == "review":
            proof.open_review += 1
        if row[4] != "migrate":
            continue
        digest_update(fingerprints[row[0]], row)
        found = root_for(roots[row[0]], row[6], row[7], row[8])
        if found is None:
            raise OslomigError(f"{manifest_csv}:{line}: {row[6]} {row[7]}/{row[8]} is no target of {row[0]}")
        root, rel = found
        unc = staging_unc(proof.share, root, plan_dir) + "\\" + rel.replace("/", "\\")
        dest = f"{root.target.site.rstrip('/')}/{library_url_name(root.target)}/{row[8]}"
        key = norm(unc)
        proof.expected[key] = Expected(row[1], row[8], unc, dest, line)
        parts = key.split("\\")
        for i in range(len(parts) - 1, 2, -1):  # the folders above it, which SPMT reports too
            folder = "\\".join(parts[:i])
            if folder in proof.folders:
                break
            proof.folders.add(folder)
    for sid, proof in proofs.items():
        proof.digest = fingerprints[sid].hexdigest()
    return proofs


def _column(header: list[str], name: str) -> int | None:
    for i, col in enumerate(header):
        if col.strip().casefold() == name.casefold():
            return i
    return None


def read_reports(reports_dir: Path, proofs: dict[str, ShareProof]) -> tuple[int, list[str]]:
    """Match every row of every `ItemReport*.csv` under the directory to the expected rows. Returns the number of
    report files and warnings. A report that cannot be read whole is an error: a partial proof proves nothing."""
    files = sorted(p for p in reports_dir.rglob("*.csv") if p.name.lower().startswith("itemreport"))
    if not files:
        raise OslomigError(
            f"no SPMT item report (ItemReport*.csv) under {reports_dir}; give the folder SPMT wrote its reports to"
        )
    bases = sorted(((p.base, p) for p in proofs.values()), key=lambda bp: -len(bp[0]))
    warnings = []
    for path in files:
        rel = path.relative_to(reports_dir).as_posix()
        matched, foreign_first = _read_one(path, rel, bases)
        if not matched:
            warnings.append(
                f"{rel}: none of its rows is under the staging root of a share being verified "
                f"(the first source is {foreign_first or 'absent'}); a report of another share? ignored"
            )
    return len(files), warnings


def _read_one(path: Path, rel: str, bases) -> tuple[int, str]:
    matched, foreign_first = 0, ""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise OslomigError(f"{rel}: the report is empty (truncated?); verify needs whole reports")
            cols = {name: _column(header, name) for name in ("Source", "Destination", "Status", "Message")}
            missing = [n for n in ("Source", "Status") if cols[n] is None]
            if missing:
                raise OslomigError(
                    f"{rel}: not an SPMT item report (no {' or '.join(missing)} column; it has {', '.join(header)})"
                )
            for row in reader:
                if len(row) < len(header):
                    raise OslomigError(
                        f"{rel}:{reader.line_num}: {len(row)} of {len(header)} fields: the report is truncated; "
                        "verify needs whole reports (copy it again from SPMT's report folder)"
                    )
                source = row[cols["Source"]]  # type: ignore[index]
                key = norm(source)
                where = f"{rel}:{reader.line_num}"
                status = row[cols["Status"]]  # type: ignore[index]
                message = row[cols["Message"]] if cols["Message"] is not None else ""
                dest = row[cols["Destination"]] if cols["Destination"] is not None else ""
                for base, proof in bases:
                    if key == base or key.startswith(base + "\\"):
                        matched += 1
                        exp = proof.expected.get(key)
                        if exp is not None:
                            exp.seen.append((status, message, dest, where))
                        elif key != base and key not in proof.folders and not _is_root(key, base):
                            proof.unknown.append((source, status, where))
                        break
                else:
                    foreign_first = foreign_first or source
        except csv.Error as exc:
            raise OslomigError(f"{rel}:{reader.line_num}: {exc}: the report is truncated or not CSV") from None
        except UnicodeDecodeError:
            raise OslomigError(f"{rel}: not UTF-8 text; is this an SPMT report?") from None
    return matched, foreign_first


def _is_root(key: str, base: str) -> bool:
    """A staging root itself (one folder below the staging directory): SPMT reports the task's source folder."""
    return "\\" not in key[len(base) + 1 :]


def load_record(out: Path) -> dict:
    path = out / RECORD
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("shares", {}) if isinstance(data, dict) else {}


def deletion_gate(sid: str, open_review: int, digest: str, record: dict) -> tuple[str, bool, str]:
    """(verified_at, safe_to_delete, why not): safe only when verify passed on this very manifest and no review row
    is open."""
    entry = record.get(sid) or {}
    verified_at = entry.get("verified_at", "") if entry.get("passed") else ""
    reasons = []
    if not entry:
        reasons.append("not verified: run `oslomig share verify` with SPMT's item reports")
    elif entry.get("digest") != digest:
        reasons.append(f"the manifest changed since verify on {entry.get('verified_at', '?')}: verify again")
        verified_at = ""
    elif not entry.get("passed"):
        reasons.append(
            f"verify on {entry.get('verified_at', '?')} found {entry.get('not_arrived', '?')} file(s) not arrived"
        )
    if open_review:
        reasons.append(f"{open_review:,} review row(s) still open")
    return verified_at, not reasons, "; ".join(reasons)
