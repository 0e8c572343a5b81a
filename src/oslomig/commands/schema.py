from __future__ import annotations

import json

from oslomig.console import Env

SCHEMA_BASE = "https://oslomig.example.org/schema"


def schema_json(name: str) -> dict:
    from oslomig.models import SCHEMA_NAMES, _strip_null_format

    model = SCHEMA_NAMES[name]
    schema = model.model_json_schema(by_alias=True)
    _strip_null_format(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"{SCHEMA_BASE}/{name}.json"
    schema["title"] = {
        "plan": "oslomig database migration plan",
        "share-plan": "oslomig share migration plan",
        "scan-targets": "oslomig scan targets",
        "inventory": "oslomig inventory file",
    }[name]
    return schema


def run(name: str, env: Env) -> int:
    env.out(json.dumps(schema_json(name), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return 0
