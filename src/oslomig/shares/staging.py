"""Carry the manifest out (SPEC §5.2): a staging tree of hard links, one root per target, that SPMT copies whole.

SPMT tasks are folder-level: they cannot skip or rename single files. So the files that move (action `migrate`,
including a contact's decided migrate) are hard-linked at their `target_path` under one staging root per target
(site, library, folder), on the share's own volume; no data is copied. The SPMT task of each root then copies
exactly the manifest.

Layout: `<staging>/.oslomig-staging` (a marker naming the share) and `<staging>/<root>/...` per target. Everything
below `<staging>` belongs to oslomig and is rebuilt to match the manifest; nothing outside it is touched, and a
non-empty directory without the marker is refused.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from oslomig.errors import OslomigError
from oslomig.models import SharePlan, ShareSpec, Target
from oslomig.safenames import safe_component
from oslomig.shares.rules import library_url_name, show_path, site_path

MARKER = ".oslomig-staging"


@dataclass(frozen=True)
class StagingRoot:
    name: str  # the directory under the share's staging path
    target: Target

    @property
    def folder(self) -> str:
        return self.target.folder.strip("/")


@dataclass
class ShareLinks:
    """What one share's staging tree holds: (source path relative to the share root, path under the staging dir)."""

    share: ShareSpec
    source_root: str  # as scanned: an absolute local path, or the path on the SSH server
    staging: str  # the staging directory in the same path space
    roots: list[StagingRoot]
    links: list[tuple[bytes, str]] = field(default_factory=list)
    not_utf8: list[str] = field(default_factory=list)  # shown names that a Windows server cannot have


def staging_roots(share: ShareSpec) -> list[StagingRoot]:
    """One root per distinct target (site, library, folder) of the share and its routes, in plan order."""
    roots: list[StagingRoot] = []
    seen: set[tuple[str, str, str]] = set()
    names: set[str] = set()
    for target in [share.target, *[r.target for r in share.routes if r.target is not None]]:
        key = (target.site.rstrip("/").lower(), library_url_name(target).lower(), target.folder.strip("/").lower())
        if key in seen:
            continue
        seen.add(key)
        site_name = site_path(target).rsplit("/", 1)[-1] or "root"
        label = "_".join(p for p in (site_name, target.library, target.folder.strip("/").replace("/", "_")) if p)
        name = safe_component(label, 80)
        while name.lower() in names:  # two sites with the same last segment
            name = safe_component(f"{label}_{len(names) + 1}", 80)
        names.add(name.lower())
        roots.append(StagingRoot(name, target))
    return roots


def root_for(roots: list[StagingRoot], site: str, library: str, target_path: str) -> tuple[StagingRoot, str] | None:
    """The root a manifest row belongs to (the longest folder of a target of this library that holds the path) and
    the row's path under that root."""
    best: tuple[StagingRoot, str] | None = None
    for root in roots:
        if root.target.site != site or root.target.library != library:
            continue
        folder = root.folder
        if not folder:
            rel = target_path
        elif target_path.lower().startswith(folder.lower() + "/"):
            rel = target_path[len(folder) + 1 :]
        else:
            continue
        if best is None or len(folder) > len(best[0].folder):
            best = (root, rel)
    return best


def is_unc(path: str) -> bool:
    return path.startswith("\\\\")


def staging_path(share: ShareSpec, plan_dir: Path) -> str:
    """The share's staging directory: absolute for local sources (relative paths are relative to the plan file),
    as written for SSH sources (a path on the server) and UNC paths."""
    if not share.staging:
        raise OslomigError(
            f"{share.id}: no `staging:` in the share plan; give a directory on the share's volume for the "
            f"hard-link staging tree (SPEC §5.2), e.g. staging: /srv/shares/.staging/{share.id}"
        )
    if "\n" in share.staging or "\0" in share.staging:
        raise OslomigError(f"{share.id}: the staging path holds a line break or NUL")
    if share.source.startswith(("ssh://", "smb://")) or is_unc(share.staging):
        return share.staging
    return os.path.abspath(plan_dir / share.staging)


def staging_unc_base(share: ShareSpec, plan_dir: Path) -> str:
    """What SPMT (and stage.ps1) read for the staging directory: `staging_unc` if given; the staging path itself
    when it is UNC; else derived from `spmt_source`: the UNC share `\\\\server\\share` is the source folder minus
    the sub-path that `spmt_source` names below the share, and the staging path must lie in that same folder."""
    if share.staging_unc:
        return share.staging_unc.rstrip("\\")
    staging = staging_path(share, plan_dir)
    return staging.rstrip("\\") if is_unc(staging) else _derive_unc(share, staging, plan_dir)


def staging_unc(share: ShareSpec, root: StagingRoot, plan_dir: Path) -> str:
    """The UNC path of one staging root: the SourcePath of its SPMT task."""
    return f"{staging_unc_base(share, plan_dir)}\\{root.name}"


def _derive_unc(share: ShareSpec, staging: str, plan_dir: Path) -> str:
    why = (
        f"{share.id}: cannot tell the UNC path SPMT reads for the staging root {staging}; give `staging_unc:` "
        f"(e.g. \\\\filsrv01\\INE\\.staging\\{share.id})"
    )
    if not share.spmt_source or not is_unc(share.spmt_source):
        raise OslomigError(why + " or a UNC `spmt_source:`")
    unc = PureWindowsPath(share.spmt_source)
    server_share = unc.anchor.rstrip("\\")  # \\server\share
    below = [p for p in unc.parts[1:]]  # the folders under the UNC share
    source = share.source
    if source.startswith("ssh://"):
        from oslomig.sshconn import parse_ssh_url

        source = parse_ssh_url(source)[3]
    else:
        source = os.path.abspath(plan_dir / source)
    src_parts = PurePosixPath(source).parts
    if len(below) > len(src_parts) - 1 or [p.lower() for p in src_parts[len(src_parts) - len(below) :]] != [
        p.lower() for p in below
    ]:
        raise OslomigError(why + f" (the source {share.source} does not end in {'/'.join(below)})")
    share_root = PurePosixPath(*src_parts[: len(src_parts) - len(below)])
    try:
        rel = PurePosixPath(staging).relative_to(share_root)
    except ValueError:
        raise OslomigError(why + f" (it is not inside {share_root}, the folder {server_share} serves)") from None
    return "\\".join([server_share, *rel.parts])


def _inside(inner: str, outer: str) -> bool:
    inner, outer = posixpath.normpath(inner), posixpath.normpath(outer)
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def check_paths(share: ShareSpec, source_root: str, staging: str) -> None:
    """Refuse a staging directory inside the share (the next scan would list it) or holding the share."""
    if is_unc(staging):
        return
    if _inside(staging, source_root):
        raise OslomigError(
            f"{share.id}: the staging root {staging} is inside the share {source_root}; put it beside the share "
            "on the same volume (the next scan would list the staging tree as files of the share)"
        )
    if _inside(source_root, staging):
        raise OslomigError(
            f"{share.id}: the staging root {staging} holds the share {source_root}; staging rebuilds everything "
            "under its root, so it must be a directory of its own"
        )


def _safe_rel(share_id: str, rel: str, what: str) -> str:
    parts = rel.split("/")
    if not rel or any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise OslomigError(f"{share_id}: {what} {rel!r} is not a plain relative path; refusing to stage it")
    return rel


def collect_links(plan: SharePlan, store, manifest_csv: Path, shares: list[ShareSpec], plan_dir: Path):
    """The links of each share: migrate rows of manifest.csv, joined to the latest scan by source path (the scan
    gives the raw bytes of the name). A manifest that does not match the scan is refused."""
    from zoneinfo import ZoneInfo

    from oslomig.shares.manifestcsv import iso_time, read_rows

    tz = ZoneInfo(plan.timezone)
    rows_of: dict[str, int] = {s.id: 0 for s in shares}
    migrate: dict[str, dict[str, tuple[str, str, str, str, str, int]]] = {s.id: {} for s in shares}
    for line, row in read_rows(manifest_csv, set(rows_of)):
        sid = row[0]
        rows_of[sid] += 1
        if row[4] == "migrate":
            migrate[sid][row[1]] = (row[2], row[3], row[6], row[7], row[8], line)
    result = []
    for share in shares:
        scan = store.latest_scan(share.id)
        if scan is None:
            raise OslomigError(f"{share.id}: not scanned; run `oslomig share scan` and `share manifest` first")
        scan_id, source_root, _, files, _ = scan
        if source_root.startswith("ssh://"):
            from oslomig.sshconn import parse_ssh_url

            source_root = parse_ssh_url(source_root)[3]
        elif source_root.startswith("smb://"):
            from oslomig.smburl import parse_smb_url

            source_root = parse_smb_url(source_root).unc()
        stale = (
            f"{share.id}: {manifest_csv} does not match the latest scan of the share; "
            f"run `oslomig share manifest` again before staging"
        )
        if rows_of[share.id] != files:
            raise OslomigError(f"{stale} (the manifest has {rows_of[share.id]:,} rows, the scan {files:,} files)")
        staging = staging_path(share, plan_dir)
        check_paths(share, source_root, staging)
        roots = staging_roots(share)
        links = ShareLinks(share, source_root, staging, roots)
        pending = migrate[share.id]
        for path, kind, size, mtime, _owner, _hash, _attributes in store.iter_files(scan_id):
            shown = show_path(path)
            row = pending.pop(shown, None)
            if row is None:
                continue
            size_s, modified, site, library, target_path, line = row
            if size_s != str(size) or modified != iso_time(mtime, tz) or kind != "file":
                raise OslomigError(f"{stale} ({shown} differs at line {line})")
            found = root_for(roots, site, library, target_path)
            if found is None:
                raise OslomigError(
                    f"{manifest_csv}:{line}: {site} {library}/{target_path} is no target of {share.id} in the plan"
                )
            root, rel = found
            _safe_rel(share.id, rel, "target path")
            _safe_rel(share.id, path.decode("utf-8", "surrogateescape"), "source path")
            links.links.append((path, f"{root.name}/{rel}"))
            if shown != path.decode("utf-8", "replace"):
                links.not_utf8.append(shown)
        if pending:
            first = next(iter(pending))
            raise OslomigError(f"{stale} ({first} is not in the scan)")
        _check_unique(share.id, links.links)
        result.append(links)
    return result


def _check_unique(share_id: str, links: list[tuple[bytes, str]]) -> None:
    seen: dict[str, str] = {}
    for _src, dst in links:
        key = dst.lower()  # SharePoint compares names case-insensitively, and so may the staging volume
        if key in seen:
            raise OslomigError(f"{share_id}: two rows of the manifest land on {dst!r}; run `share manifest` again")
        seen[key] = dst


# --- applying it on a local volume -------------------------------------------------------------------------------


@dataclass
class Applied:
    linked: int = 0
    kept: int = 0
    removed: int = 0


def check_local(links: ShareLinks) -> None:
    """Before linking: the source is a directory, the staging directory's parent exists on the same device, and the
    staging directory is ours (marker) or empty or absent; never a symlink."""
    sid, source, staging = links.share.id, links.source_root, links.staging
    if not os.path.isdir(source):
        raise OslomigError(f"{sid}: the share {source} is not a directory here; run stage where the share is")
    parent = os.path.dirname(staging.rstrip("/")) or "/"
    if not os.path.isdir(parent):
        raise OslomigError(f"{sid}: the staging root's parent {parent} does not exist; create it on the share's volume")
    if os.stat(parent).st_dev != os.stat(source).st_dev:
        raise OslomigError(
            f"{sid}: the staging root {staging} is on another volume than the share {source}; hard links need "
            "the same volume (no data is copied), so put the staging root beside the share"
        )
    try:
        st = os.lstat(staging)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise OslomigError(f"{sid}: the staging root {staging} exists and is not a directory; refusing to touch it")
    if st.st_dev != os.stat(source).st_dev:
        raise OslomigError(f"{sid}: the staging root {staging} is a mount of another volume; hard links need the same")
    marker = os.path.join(staging, MARKER)
    if os.path.isfile(marker):
        owner = Path(marker).read_text(encoding="utf-8", errors="replace").strip()
        if owner != sid:
            raise OslomigError(f"{sid}: the staging root {staging} belongs to share {owner!r}; give each its own")
        return
    if os.listdir(staging):
        raise OslomigError(
            f"{sid}: the staging root {staging} holds files and is not an oslomig staging root (no {MARKER}); "
            "refusing to touch it"
        )


def apply_local(links: ShareLinks, progress=None) -> Applied:
    """Make `links.staging` hold exactly the links: link what is missing, relink what points elsewhere, remove what
    the manifest no longer lists. Idempotent; touches nothing outside the staging directory."""
    check_local(links)
    staging = os.fsencode(links.staging)
    source = os.fsencode(links.source_root)
    done = Applied()
    os.makedirs(staging, exist_ok=True)
    with open(os.path.join(staging, MARKER.encode()), "w", encoding="utf-8") as handle:
        handle.write(links.share.id + "\n")
    want: dict[bytes, bytes] = {os.fsencode(dst): src for src, dst in links.links}
    done.removed = _prune(staging, want)
    made: set[bytes] = set()
    for dst, src in want.items():
        src_path = source + b"/" + src
        dst_path = staging + b"/" + dst
        parent = os.path.dirname(dst_path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        try:
            st = os.lstat(dst_path)
        except FileNotFoundError:
            st = None
        src_st = os.lstat(src_path)
        if st is not None:
            if (st.st_dev, st.st_ino) == (src_st.st_dev, src_st.st_ino):
                done.kept += 1
                continue
            os.unlink(dst_path)
        try:
            os.link(src_path, dst_path, follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise OslomigError(
                    f"{links.share.id}: {os.fsdecode(src_path)} is on another volume than the staging root"
                ) from None
            raise
        done.linked += 1
        if progress:
            progress.advance()
    return done


def _prune(staging: bytes, want: dict[bytes, bytes]) -> int:
    """Remove what the staging directory holds beyond the wanted links (bottom-up; symlinks are removed, never
    followed). Returns the number of files removed."""
    dirs_wanted = {b""}
    for dst in want:
        parts = dst.split(b"/")
        for i in range(1, len(parts)):
            dirs_wanted.add(b"/".join(parts[:i]))
    removed = 0
    for top, dirnames, filenames in os.walk(staging, topdown=False):
        rel_top = os.path.relpath(top, staging)
        rel_top = b"" if rel_top == b"." else rel_top
        for name in filenames:
            rel = rel_top + b"/" + name if rel_top else name
            if rel == MARKER.encode():
                continue
            full = os.path.join(top, name)
            if rel not in want or not os.path.isfile(full) or os.path.islink(full):
                os.unlink(full)
                removed += 1
        for name in dirnames:
            rel = rel_top + b"/" + name if rel_top else name
            full = os.path.join(top, name)
            if os.path.islink(full):
                os.unlink(full)
                removed += 1
            elif rel not in dirs_wanted:
                os.rmdir(full)  # already emptied bottom-up
    return removed
