"""A JSON Schema of the configuration file, generated from the pydantic model.

Editors (VS Code's Even Better TOML, taplo) use it for completion and inline
errors. ``config/schema.json`` is this function's output; a test fails when the
two drift, and ``write_schema`` regenerates the file. The schema describes the
file as written; the loader's cross-table checks (categories, hosts, secrets)
go beyond it. Must not depend on aiohttp, mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proxy.policy.model import ConfigFile

__all__ = ["json_schema", "schema_text", "write_schema"]

SCHEMA_ID = "https://consentry.invalid/schema/config.json"


def json_schema() -> dict[str, Any]:
    schema = ConfigFile.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "Consentry configuration"
    return schema


def schema_text() -> str:
    """The schema as config/schema.json holds it: stable key order, one trailing newline."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(path: str | Path) -> None:
    """Regenerate the schema file: ``python -c 'from proxy.policy.schema import write_schema; write_schema("config/schema.json")'``."""
    Path(path).write_text(schema_text(), encoding="utf-8")
