"""`smb://[domain;]user@server[:port]/share/path` share sources (SPEC §5.3): parsed without the SMB library, so the
plan model can derive `spmt_source` (the UNC path SPMT reads) from them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

SMB_URL = re.compile(
    r"^smb://(?:(?P<domain>[^;@/]+);)?(?P<user>[^@/;:]+)@(?P<server>[^/:@]+)(?::(?P<port>\d+))?/(?P<rest>.+)$"
)


@dataclass(frozen=True)
class SmbUrl:
    domain: str | None
    user: str
    server: str
    port: int
    share: str
    path: str  # below the share, `\`-separated, no leading or trailing `\`

    @property
    def username(self) -> str:
        """As NTLM takes it: DOMAIN\\user, or the bare user for a local account."""
        return f"{self.domain}\\{self.user}" if self.domain else self.user

    def unc(self, rel: str = "") -> str:
        """\\\\server\\share\\path[\\rel] (`rel` is `/`-separated, as the scan stores it)."""
        parts = [f"\\\\{self.server}\\{self.share}"]
        if self.path:
            parts.append(self.path)
        if rel:
            parts.append(rel.replace("/", "\\"))
        return "\\".join(parts)


def parse_smb_url(url: str) -> SmbUrl:
    """Raises ValueError with a sentence for anything that is not an SMB share source; never holds a password."""
    if re.match(r"^smb://[^@/]*:[^@/]*@", url):
        raise ValueError("a password never goes in an smb:// URL: give the share's password_env or password_file")
    m = SMB_URL.match(url)
    if not m:
        raise ValueError(f"{url!r} is not an SMB source like smb://[DOMAIN;]user@server[:port]/share/path")
    port = int(m["port"] or 445)
    if not 1 <= port <= 65535:
        raise ValueError(f"{url!r}: port {port} is out of range")
    segments = [unquote(s) for s in m["rest"].replace("\\", "/").split("/") if s]
    if not segments:
        raise ValueError(f"{url!r} names no share (smb://user@server/SHARE/path)")
    if any(s in (".", "..") for s in segments):
        raise ValueError(f"{url!r}: '.' and '..' are not allowed in an SMB path")
    return SmbUrl(unquote(m["domain"]) if m["domain"] else None, unquote(m["user"]), m["server"], port,
                  segments[0], "\\".join(segments[1:]))  # fmt: skip
