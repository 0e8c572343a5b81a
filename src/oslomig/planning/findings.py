"""One finding record for the planning side (spec §3): a warning about the plan or its schedule, a constraint a
schedule breaks, a reason a group has no window. Renderers read the same four fields: `code` (stable, for tests
and machines), `severity`, `subject` (the group, database or system it is about) and the sentence."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    subject: str = ""
    severity: str = "warning"  # warning | error (a broken constraint)

    @classmethod
    def of(cls, code: str, message: str, severity: str = "error") -> Finding:
        """A finding whose subject is what its sentence starts with (`G-…: …`)."""
        return cls(code, message, message.split(": ", 1)[0] if ": " in message else "", severity)

    def __str__(self) -> str:
        return self.message

    def __contains__(self, text: str) -> bool:
        return text in self.message

    def as_json(self) -> dict:
        return {"code": self.code, "severity": self.severity, "subject": self.subject, "message": self.message}

    @property
    def sort_key(self) -> tuple[str, str]:
        return self.code, self.message
