"""`stage.sh` and `stage.ps1`: the staging tree (SPEC §5.2) as scripts to run where the share lives.

Both do what `share stage --apply` does: check the staging directory (same volume, ours or empty), empty it but for
the marker, and hard-link every migrate row at its target path. Every name is quoted so that no byte of it is ever
read as shell or PowerShell syntax: quotes, `$`, backticks, newlines, `[`/`]` and (in the POSIX script) bytes that
are not UTF-8 all arrive as written.
"""

from __future__ import annotations

import re

from oslomig.shares.staging import MARKER, ShareLinks

SH_HEAD = rb"""#!/bin/sh
# Staging tree for the SharePoint Migration Tool, written by `oslomig share stage` (SPEC 5.2).
# Run it where the shares live (as a user who may hard-link their files): sh stage.sh
# Each share's staging directory is emptied (but for its marker) and rebuilt with a hard link for every file the
# manifest moves, at its target path. Nothing outside the staging directories is written or removed. Running it
# again builds the same tree.
set -eu
fail() { printf 'stage.sh: %s\n' "$*" >&2; exit 1; }
dev_of() { stat -c %d -- "$1" 2>/dev/null || stat -f %d -- "$1"; }
begin() {
  S=$2 T=$3
  [ -d "$S" ] || fail "$1: the share $S is not a directory here"
  P=$(dirname -- "$T")
  [ -d "$P" ] || fail "$1: the staging root's parent $P does not exist"
  [ "$(dev_of "$S")" = "$(dev_of "$P")" ] || fail "$1: the staging root $T is on another volume than $S"
  if [ -e "$T" ] || [ -L "$T" ]; then
    { [ -d "$T" ] && [ ! -L "$T" ]; } || fail "$1: $T exists and is not a directory"
    if [ -f "$T/@MARKER@" ]; then
      [ "$(cat -- "$T/@MARKER@")" = "$1" ] || fail "$1: $T is the staging root of another share"
    else
      [ -z "$(ls -A -- "$T")" ] || fail "$1: $T holds files and is not an oslomig staging root"
    fi
    find "$T" -mindepth 1 -maxdepth 1 ! -name @MARKER@ -exec rm -rf -- {} +
  else
    mkdir -- "$T"
  fi
  printf '%s\n' "$1" > "$T/@MARKER@"
  N=0
}
d() { mkdir -p -- "$T/$1"; }
l() { ln -- "$S/$1" "$T/$2"; N=$((N + 1)); }
done_share() { printf '%s: %s files staged in %s\n' "$1" "$N" "$T" >&2; }
"""


def sh_quote(raw: bytes) -> bytes:
    """POSIX single quotes: every byte literal; a quote becomes '\\''."""
    return b"'" + raw.replace(b"'", b"'\\''") + b"'"


def _parents(dsts: list[bytes]) -> list[bytes]:
    out: dict[bytes, None] = {}
    for dst in dsts:
        parent = dst.rsplit(b"/", 1)[0]
        out.setdefault(parent, None)
    return list(out)


def stage_sh(shares: list[ShareLinks]) -> bytes:
    import os

    parts = [SH_HEAD.replace(b"@MARKER@", MARKER.encode())]
    for links in shares:
        sid = links.share.id.encode()
        parts.append(b"\n# " + sid.replace(b"\n", b" ") + b"\n")
        parts.append(
            b"begin "
            + b" ".join(sh_quote(x) for x in (sid, os.fsencode(links.source_root), os.fsencode(links.staging)))
            + b"\n"
        )
        dsts = [os.fsencode(dst) for _src, dst in links.links]
        for parent in _parents(dsts):
            parts.append(b"d " + sh_quote(parent) + b"\n")
        for (src, _dst), dst in zip(links.links, dsts):
            parts.append(b"l " + sh_quote(src) + b" " + sh_quote(dst) + b"\n")
        parts.append(b"done_share " + sh_quote(sid) + b"\n")
    return b"".join(parts)


# characters a Windows file name cannot hold: such a name did not come from a Windows file server
WINDOWS_REFUSES = re.compile(r'[\\"*:<>?|\x00-\x1f]')

# PowerShell treats the typographic single quotes as quote characters too; each is doubled like '
PS_QUOTES = "'\u2018\u2019\u201a\u201b"


def ps_quote(text: str) -> str:
    """A PowerShell verbatim (single-quoted) string: nothing inside is expanded; each quote character is doubled."""
    return "'" + "".join(ch + ch if ch in PS_QUOTES else ch for ch in text) + "'"


PS_HEAD = r"""# Staging tree for the SharePoint Migration Tool, written by `oslomig share stage` (SPEC 5.2).
# Run it on the Windows file server that holds the shares: powershell -ExecutionPolicy Bypass -File stage.ps1
# Each share's staging folder is emptied (but for its marker) and rebuilt with a hard link for every file the
# manifest moves, at its target path. Nothing outside the staging folders is written or removed. Running it again
# builds the same tree.
#Requires -Version 5.1
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$Marker = '@MARKER@'

# New-Item reads -Target as a wildcard pattern up to PowerShell 7.5 (PowerShell issue #6232), so a name with
# [ or ] is linked with CreateHardLinkW itself, which takes every path literally.
$script:Native = $null
function Get-Native {
  if ($null -eq $script:Native) {
    $script:Native = Add-Type -PassThru -Namespace Oslomig -Name HardLink -MemberDefinition @'
[DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
public static extern bool CreateHardLinkW(string lpFileName, string lpExistingFileName, IntPtr lpSecurityAttributes);
'@
  }
  $script:Native
}

function Start-Share([string]$Id, [string]$Source, [string]$Staging) {
  if (-not (Test-Path -LiteralPath $Source -PathType Container)) {
    throw "${Id}: the share $Source is not a folder here"
  }
  $parent = [System.IO.Path]::GetDirectoryName($Staging)
  if (-not (Test-Path -LiteralPath $parent -PathType Container)) {
    throw "${Id}: the staging root's parent $parent does not exist"
  }
  if ([System.IO.Path]::GetPathRoot($Source) -ne [System.IO.Path]::GetPathRoot($Staging)) {
    throw "${Id}: the staging root $Staging is not on the volume (share) of $Source"
  }
  if (Test-Path -LiteralPath $Staging) {
    $item = Get-Item -LiteralPath $Staging -Force
    if (-not $item.PSIsContainer -or ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint)) {
      throw "${Id}: $Staging exists and is not a plain folder"
    }
    $markerPath = Join-Path -Path $Staging -ChildPath $Marker
    if (Test-Path -LiteralPath $markerPath -PathType Leaf) {
      if ((Get-Content -LiteralPath $markerPath -TotalCount 1) -ne $Id) {
        throw "${Id}: $Staging is the staging root of another share"
      }
    } elseif (@(Get-ChildItem -LiteralPath $Staging -Force).Count -gt 0) {
      throw "${Id}: $Staging holds files and is not an oslomig staging root"
    }
    Get-ChildItem -LiteralPath $Staging -Force | Where-Object { $_.Name -ne $Marker } |
      ForEach-Object { Remove-Item -LiteralPath $_.FullName -Recurse -Force }
  } else {
    [void][System.IO.Directory]::CreateDirectory($Staging)
  }
  [System.IO.File]::WriteAllText((Join-Path -Path $Staging -ChildPath $Marker), "$Id`n")
  $script:S = $Source
  $script:T = $Staging
  $script:N = 0
}

function D([string]$Rel) { [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::Combine($script:T, $Rel)) }

function L([string]$Src, [string]$Dst) {
  $existing = [System.IO.Path]::Combine($script:S, $Src)
  $new = [System.IO.Path]::Combine($script:T, $Dst)
  if ($existing.IndexOfAny([char[]]'[]') -ge 0) {
    if (-not (Get-Native)::CreateHardLinkW($new, $existing, [IntPtr]::Zero)) {
      throw "cannot link ${existing}: error $([System.Runtime.InteropServices.Marshal]::GetLastWin32Error())"
    }
  } else {
    [void](New-Item -ItemType HardLink -Path $new -Target $existing)
  }
  $script:N++
}

function Stop-Share([string]$Id) { Write-Host "${Id}: $script:N files staged in $script:T" }
"""


def _windows_source(links: ShareLinks) -> str | None:
    from oslomig.shares.staging import is_unc

    for candidate in (links.share.spmt_source, links.share.source):
        if candidate and is_unc(candidate):
            return candidate.rstrip("\\")
    return None


def stage_ps1(shares: list[ShareLinks], unc_of: dict[str, str | None]) -> str:
    """`unc_of`: the share id -> the UNC staging directory (None when it cannot be told)."""
    out = [PS_HEAD.replace("@MARKER@", MARKER)]
    for links in shares:
        sid = links.share.id
        out.append(f"\n# {sid.replace(chr(10), ' ')}\n")
        source = _windows_source(links)
        staging = unc_of.get(sid)
        bad = links.not_utf8 + [
            show
            for src, dst in links.links
            if WINDOWS_REFUSES.search(show := src.decode("utf-8", "backslashreplace")) or WINDOWS_REFUSES.search(dst)
        ]
        if source is None or staging is None:
            out.append(f"throw {ps_quote(f'{sid}: no UNC source or staging path in the plan; use stage.sh')}\n")
            continue
        if bad:
            why = f'{sid}: {len(bad)} name(s) no Windows server holds (not UTF-8, or with \\ " * : < > ? | or a '
            why += f"control character), e.g. {bad[0]!r}; use stage.sh"
            out.append(f"throw {ps_quote(why)}\n")
            continue
        out.append(f"Start-Share {ps_quote(sid)} {ps_quote(source)} {ps_quote(staging)}\n")
        dsts = [dst.replace("/", "\\") for _src, dst in links.links]
        for parent in dict.fromkeys(d.rsplit("\\", 1)[0] for d in dsts):
            out.append(f"D {ps_quote(parent)}\n")
        for (src, _dst), dst in zip(links.links, dsts):
            out.append(f"L {ps_quote(src.decode('utf-8').replace('/', chr(92)))} {ps_quote(dst)}\n")
        out.append(f"Stop-Share {ps_quote(sid)}\n")
    return "".join(out)
