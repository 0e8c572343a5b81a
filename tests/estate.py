"""Small estates and plans built in code, for grouping and scheduling tests."""

from __future__ import annotations

import datetime as dt

from oslomig import models
from oslomig.loading import Inventory
from oslomig.validation import resolve_ownership


def make_inventory(
    dbs: list[dict],
    hosts: list[dict] | None = None,
    systems: list[dict] | None = None,
    instances: list[dict] | None = None,
    agencies: list[dict] | None = None,
) -> Inventory:
    """`dbs`: dicts with id, instance (host/INST), size_gb, environment, ...; instances and hosts inferred."""
    inst_ids = sorted({d["instance"] for d in dbs})
    instances = instances or [{"id": i, "engine": "sqlserver", "host": i.split("/")[0]} for i in inst_ids]
    host_names = sorted({h for i in instances for h in ([i["host"]] if "host" in i else i["hosts"])})
    hosts = hosts or [{"name": h} for h in host_names]
    inv = Inventory.build(
        agencies=[models.Agency(**a) for a in (agencies or [{"id": "UKE"}])],
        systems=[models.System(**s) for s in (systems or [])],
        hosts=[models.Host(**h) for h in hosts],
        instances=[models.Instance(**i) for i in instances],
        databases=[models.Database(**d) for d in dbs],
    )
    resolve_ownership(inv)
    return inv


def make_plan(**overrides) -> models.DatabasePlan:
    base = {
        "kind": "database-migration",
        "name": "Test plan",
        "period": {"start": dt.date(2021, 5, 3), "end": dt.date(2021, 6, 30)},
        "windows": [{"name": "weeknight", "weekdays": ["tue", "thu"], "start": "18:00", "hours": 10}],
        "notice_days": 14,
        "test_before_prod_days": 7,
    }
    base.update(overrides)
    return models.DatabasePlan.model_validate(base)
