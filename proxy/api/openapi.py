"""The OpenAPI 3.1 document of the consent API, generated from ``routes.ROUTES``.

``openapi_document(prefix)`` is what ``GET <prefix>/openapi.json`` answers and what
``docs/openapi.json`` holds (for the default prefix); a test keeps the file, the table
and the adapters' handlers in step. Standard library only.
"""

from __future__ import annotations

import json
from typing import Any

from proxy.defaults import CONSENT_PATH
from proxy.api.routes import ROUTES, SCHEMAS, Reply, Route

__all__ = ["openapi_document", "openapi_json"]

DEFAULT_PREFIX = CONSENT_PATH


def _version() -> str:
    from proxy import __version__

    return __version__


def _reply(reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    if reply.content:
        out["content"] = {media: {"schema": dict(schema)} for media, schema in reply.content.items()}
    if reply.headers:
        out["headers"] = {name: {"description": text, "schema": {"type": "string"}} for name, text in reply.headers.items()}
    return out


def _path_item(route: Route) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if route.parameters:
        item["parameters"] = [
            {"name": name, "in": "path", "required": True, "description": text, "schema": {"type": "string"}}
            for name, text in route.parameters.items()
        ]
    for op in route.operations:
        entry: dict[str, Any] = {
            "operationId": op.handler,
            "summary": op.summary,
            "description": op.description,
            "tags": list(op.tags),
            "responses": {str(status): _reply(reply) for status, reply in sorted(op.responses.items())},
        }
        if op.request:
            entry["requestBody"] = {
                "required": True,
                "content": {media: {"schema": dict(schema)} for media, schema in op.request.items()},
            }
        item[op.method.lower()] = entry
    return item


def openapi_document(prefix: str = DEFAULT_PREFIX, *, version: str | None = None) -> dict[str, Any]:
    """The whole document for a site whose consent path is ``prefix``."""
    prefix = "/" + prefix.strip("/")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Consentry consent API",
            "version": version or _version(),
            "summary": "Consent decisions, state, banner files and CSP reports, served by the proxy under each site's consent path.",
            "description": (
                "Every site behind Consentry answers these routes under its consent path "
                f"(`{DEFAULT_PREFIX}` unless `consent_path` says otherwise); they never reach the upstream. "
                "Consent is a signed cookie (`consentry` by default); an invalid cookie reads as necessary only."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": {prefix + route.path if route.path != "/" else prefix + "/": _path_item(route) for route in ROUTES},
        "components": {"schemas": {name: dict(schema) for name, schema in SCHEMAS.items()}},
    }


def openapi_json(prefix: str = DEFAULT_PREFIX, *, version: str | None = None) -> str:
    """The document as stable, indented JSON text (what ``docs/openapi.json`` holds)."""
    return json.dumps(openapi_document(prefix, version=version), indent=2, ensure_ascii=False) + "\n"
