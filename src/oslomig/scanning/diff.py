"""`inventory diff`: what changed between two inventories, for nightly drift reports."""

from __future__ import annotations

from dataclasses import dataclass, field

from oslomig.loading import Inventory

COMPARED = {
    "hosts": ("os", "os_version", "site", "cluster", "vm", "cpu_count", "memory_gb", "listening_ports"),
    "instances": ("engine", "host", "hosts", "version", "edition", "port", "clustered", "hadr_enabled"),
    "databases": (
        "instance",
        "environment",
        "availability_group",
        "state",
        "recovery_model",
        "compatibility_level",
        "role",
        "log_mode",
    ),
}


@dataclass
class Drift:
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.added.values()) and not any(self.removed.values()) and not any(self.changed.values())

    def as_json(self) -> dict:
        return {
            kind: {
                "added": self.added.get(kind, []),
                "removed": self.removed.get(kind, []),
                "changed": self.changed.get(kind, []),
            }
            for kind in COMPARED
        }


def diff_inventories(
    old: Inventory, new: Inventory, size_threshold_gb: float = 1.0, size_threshold_pct: float = 10.0
) -> Drift:
    """Sizes count as changed when they move by more than both thresholds (absolute GB and percent)."""
    drift = Drift()
    for kind, fields in COMPARED.items():
        a, b = getattr(old, kind), getattr(new, kind)
        drift.added[kind] = sorted(set(b) - set(a))
        drift.removed[kind] = sorted(set(a) - set(b))
        changes = []
        for ident in sorted(set(a) & set(b)):
            x, y = a[ident], b[ident]
            diffs = {f: [getattr(x, f), getattr(y, f)] for f in fields if getattr(x, f) != getattr(y, f)}
            if kind == "databases":
                before, after = x.size_gb, y.size_gb
                delta = after - before
                pct = abs(delta) / before * 100 if before else (100.0 if after else 0.0)
                if abs(delta) > size_threshold_gb and pct > size_threshold_pct:
                    diffs["size_gb"] = [before, after]
            if diffs:
                changes.append({"id": ident, "changes": {k: {"old": v[0], "new": v[1]} for k, v in diffs.items()}})
        drift.changed[kind] = changes
    return drift
