"""The shipped files: every config/*.toml loads cleanly, the example and the docs name every key,
and config/schema.json is what the model generates."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from proxy.policy import check_config, load_config
from proxy.policy.model import ConfigFile
from proxy.policy.schema import schema_text

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "config"
TOML_FILES = sorted(CONFIG_DIR.glob("*.toml"))


def test_there_are_config_files() -> None:
    names = {path.name for path in TOML_FILES}
    assert {"example.toml", "minimal.toml"} <= names


@pytest.mark.parametrize("path", TOML_FILES, ids=lambda p: p.name)
def test_every_config_file_loads_cleanly(path: Path) -> None:
    status, lines = check_config(path)
    assert (status, lines[0]) == (0, "ok"), "\n".join(lines)
    config = load_config(path)
    assert config.sites
    assert config.source == path


def test_example_has_the_promised_sites() -> None:
    config = load_config(CONFIG_DIR / "example.toml")
    shop, news = config.sites["shop.example"], config.sites["news.example"]
    assert shop.mode == "strip" and len(shop.rules) == 4
    assert "social" in shop.categories
    assert "*.news.example" in news.hosts and "www.news.example" in news.hosts
    assert config.site_for_host("nl.news.example") is news
    assert config.site_for_host("unknown.example") is config.sites["default"]
    # script signatures are regular expressions, as the engine and the catalogue read them
    signature = shop.rules[3].script_signature
    assert signature is not None and re.search(signature, "window.shareWidget.init({id: 3})")
    assert not re.search(signature, "shareWidgetXinit")


def _field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """Every key a user can write, at any depth of the model."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(name)
        for inner in _models_in(field.annotation):
            names |= _field_names(inner, seen)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (list, dict, Union, types.UnionType) or get_args(annotation):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


KEYS = sorted(_field_names(ConfigFile))


def test_key_list_is_complete() -> None:
    assert {"upstream", "aliases", "rules", "script_signature", "theme", "consent_body_size", "ip_salt_file"} <= set(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_example_shows_every_key(key: str) -> None:
    text = (CONFIG_DIR / "example.toml").read_text(encoding="utf-8")
    assert re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", text), f"config/example.toml never mentions {key}"


@pytest.mark.parametrize("key", KEYS)
def test_docs_describe_every_key(key: str) -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    # in code formatting: `key`, `timeouts.key`, `[key]`, `{ key = ... }`
    assert re.search(rf"`[^`\n]*(?<![\w-]){re.escape(key)}(?![\w-])[^`\n]*`", text), f"docs/configuration.md lacks `{key}`"


def test_schema_file_is_up_to_date() -> None:
    expected = schema_text()
    actual = (CONFIG_DIR / "schema.json").read_text(encoding="utf-8")
    assert actual == expected, (
        "config/schema.json is stale; regenerate it with: .venv/bin/python -c "
        "'from proxy.policy.schema import write_schema; write_schema(\"config/schema.json\")'"
    )
    schema = json.loads(actual)
    assert set(schema["properties"]) == set(ConfigFile.model_fields)
    assert schema["$defs"]["SiteSettings"]["additionalProperties"] is False
