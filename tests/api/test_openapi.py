"""The consent API's route table, its OpenAPI 3.1 document and the adapters stay one thing.

The server dispatches only through ``proxy.api.ROUTES``; these tests fail when a handler
exists that the table does not name (an undocumented route), when the table names a
handler an adapter lacks, when ``docs/openapi.json`` is stale, or when the live
``/_consent/openapi.json`` differs from the generated document.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.api import ROUTES, match, openapi_document
from proxy.api.openapi import openapi_json

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def table_handlers() -> set[str]:
    return {op.handler for route in ROUTES for op in route.operations}


def test_server_handlers_are_exactly_the_table():
    from proxy.server.consent_api import HANDLERS

    assert set(HANDLERS) == table_handlers()


def test_every_route_and_method_is_in_the_document():
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    for route in ROUTES:
        path = "/_consent" + route.path
        assert path in doc["paths"], path
        for op in route.operations:
            entry = doc["paths"][path][op.method.lower()]
            assert entry["operationId"] == op.handler
            assert entry["summary"] and entry["description"] and entry["responses"]
    # Every $ref resolves.
    text = json.dumps(doc)
    for name in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in doc["components"]["schemas"]


def test_docs_copy_is_current():
    assert DOCS.read_text(encoding="utf-8") == openapi_json(), (
        "docs/openapi.json is stale: run `consentry openapi -o docs/openapi.json --force`"
    )


@pytest.mark.parametrize(
    ("sub", "handler"),
    [("", "redirect"), ("/", "preferences"), ("/status", "status"), ("/openapi.json", "openapi"),
     ("/csp-report", "csp_report"), ("/consent.js", "asset"), ("/vendors.json", "asset")],
)
def test_match_prefers_literal_paths(sub, handler):
    found = match(sub)
    assert found is not None
    route, _ = found
    assert {op.handler for op in route.operations} >= {handler} or route.operation("POST").handler == handler


def test_match_refuses_nested_paths():
    assert match("/a/b") is None
    assert match("status") is None


def test_the_prefix_follows_the_site(tmp_path):
    doc = openapi_document("/consent-here/")
    assert "/consent-here/status" in doc["paths"] and "/_consent/status" not in doc["paths"]
