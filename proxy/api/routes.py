"""The route table of the consent API: every path under the consent prefix, its methods,
what each one takes and answers.

Paths are relative to the site's consent path (``/_consent`` by default): ``""`` is
the prefix itself, ``/status`` is ``/_consent/status``, ``/{asset}`` one path segment.
``match(sub)`` finds the route for a request path (literal paths before templates, as
OpenAPI specifies); each operation names the ``handler`` an adapter must provide, so
the server and the addon serve exactly the routes described here and
``openapi.openapi_document`` describes exactly what they serve. To add a route, add it
here, give the adapters a handler of that name, and regenerate ``docs/openapi.json``
(``consentry openapi -o docs/openapi.json --force``). Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ROUTES", "SCHEMAS", "Operation", "Reply", "Route", "match"]

Schema = Mapping[str, Any]

SCHEMAS: dict[str, Schema] = {
    "ConsentStatus": {
        "type": "object",
        "description": "The visitor's consent as the proxy reads it from the consent cookie.",
        "required": ["categories", "policy_version", "expires", "consent_id", "decided", "gpc"],
        "properties": {
            "categories": {
                "type": "array", "items": {"type": "string"},
                "description": "Granted categories, in the site's order; `necessary` is always granted.",
            },
            "policy_version": {"type": "string", "description": "The site's current policy version."},
            "expires": {"type": ["string", "null"], "format": "date-time", "description": "When the consent expires (null: no decision yet)."},
            "consent_id": {"type": ["string", "null"], "description": "The random id of this consent (the receipts key); null before any decision."},
            "decided": {"type": "boolean", "description": "Whether the visitor has made a decision (false: the banner shows)."},
            "gpc": {"type": "boolean", "description": "Whether the browser sent `Sec-GPC: 1` (denies `marketing` unless the policy says otherwise)."},
            "vendors": {
                "type": "object", "additionalProperties": {"type": "boolean"},
                "description": "Per-vendor overrides, e.g. `{\"meta-pixel\": false}` (present only when there are some).",
            },
        },
    },
    "DecisionAnswer": {
        "description": "The new state, acknowledged: sent only once the decision's receipt is committed.",
        "allOf": [
            {"$ref": "#/components/schemas/ConsentStatus"},
            {
                "type": "object",
                "required": ["receipt_id"],
                "properties": {
                    "receipt_id": {
                        "type": "integer",
                        "description": "The id of the committed receipt (also the `Consentry-Receipt-Id` header); "
                        "`consentry receipts show <consent_id>` lists it.",
                    },
                },
            },
        ],
    },
    "JsonDecision": {
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": {"enum": ["accept_all", "reject_all", "save", "withdraw"]},
            "categories": {
                "type": "array", "items": {"type": "string"},
                "description": "With `save`: the granted categories (`necessary` is implied).",
            },
            "vendors": {
                "type": "object", "additionalProperties": {"type": "boolean"},
                "description": "Per-vendor overrides, e.g. `{\"youtube-embed\": true}`.",
            },
            "variant": {
                "type": ["string", "null"],
                "description": "The banner variant the visitor saw (`data-consentry-variant`), recorded in the receipt as `banner_variant`; an unknown id is stored as no variant, never an error.",
            },
            "lang": {
                "type": "string",
                "description": "The language the banner was shown in; names the texts behind the receipt's `banner_texts_digest` (default: the best of Accept-Language).",
            },
        },
        "examples": [{"action": "save", "categories": ["analytics"]}, {"action": "reject_all"}],
    },
    "FormDecision": {
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": {"enum": ["accept_all", "reject_all", "save", "withdraw"]},
            "category": {
                "type": "array", "items": {"type": "string"},
                "description": "With `save`: one `category=<name>` field per granted category.",
            },
            "return_to": {"type": "string", "description": "Same-origin path to return to (anything else becomes `/`)."},
            "variant": {"type": "string", "description": "The banner variant the visitor saw; unknown ids are stored as none."},
            "lang": {"type": "string", "description": "The language the banner was shown in."},
        },
    },
    "Receipt": {
        "type": "object",
        "description": "One stored proof of one decision (the `consentry receipts export` JSON shape).",
        "required": ["consent_id", "site_id", "policy_version", "vendor_list_digest", "granted", "refused", "action", "created_at"],
        "properties": {
            "consent_id": {"type": "string"},
            "site_id": {"type": "string"},
            "policy_version": {"type": "string"},
            "vendor_list_digest": {"type": "string"},
            "granted": {"type": "array", "items": {"type": "string"}},
            "refused": {"type": "array", "items": {"type": "string"}},
            "action": {"enum": ["accept_all", "reject_all", "save", "withdraw"]},
            "created_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "ip_hash": {"type": ["string", "null"], "description": "A salted, truncated hash of the IP; never the IP."},
            "user_agent": {"type": ["string", "null"]},
            "gpc": {"type": "boolean"},
            "banner_variant": {"type": ["string", "null"], "description": "The banner experiment variant the decision was made on."},
            "banner_texts_digest": {
                "type": ["string", "null"],
                "description": "`sha256:<hex>` of the exact banner texts shown (see docs/insights.md); `consentry receipts texts DIGEST` prints them.",
            },
        },
    },
    "VisitorReceipts": {
        "type": "object",
        "required": ["consent_id", "receipts"],
        "properties": {
            "consent_id": {"type": ["string", "null"], "description": "The consent id in the visitor's valid cookie (null without one)."},
            "receipts": {"type": "array", "items": {"$ref": "#/components/schemas/Receipt"}},
            "error": {"type": "string", "description": "Present with 401: why there is nothing to show."},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error", "status"],
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    },
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


HTML = "text/html"
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Reply:
    """One documented answer: what it means and the media types of its body."""

    description: str
    content: Mapping[str, Schema] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


def _error(description: str) -> Reply:
    return Reply(description, {HTML: {"type": "string"}, JSON: _ref("Error")})


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one route; ``handler`` names the function each adapter provides."""

    method: str
    handler: str
    summary: str
    description: str
    responses: Mapping[int, Reply]
    request: Mapping[str, Schema] = field(default_factory=dict)
    tags: tuple[str, ...] = ("consent",)


@dataclass(frozen=True, slots=True)
class Route:
    """A path under the consent prefix (``""``, ``/``, ``/status``, ``/{asset}``) and its operations."""

    path: str
    operations: tuple[Operation, ...]
    parameters: Mapping[str, str] = field(default_factory=dict)   # template name -> description

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods allowed here; HEAD wherever GET is (as every HTTP server does)."""
        names = [op.method for op in self.operations]
        if "GET" in names and "HEAD" not in names:
            names.insert(names.index("GET") + 1, "HEAD")
        return tuple(names)

    def operation(self, method: str) -> Operation | None:
        method = "GET" if method == "HEAD" else method
        return next((op for op in self.operations if op.method == method), None)

    def pattern(self) -> re.Pattern[str]:
        parts = re.split(r"\{(\w+)\}", self.path)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
        return re.compile(regex)


ROUTES: tuple[Route, ...] = (
    Route("", (
        Operation(
            "GET", "redirect", "The consent prefix without its slash",
            "Redirects to the preferences page (`<prefix>/`), keeping the query string, so relative links resolve under the prefix. Every method is redirected the same way.",
            {308: Reply("Permanent redirect to `<prefix>/`", headers={"Location": "`<prefix>/` plus the query string"})},
        ),
    )),
    Route("/", (
        Operation(
            "GET", "preferences", "The preferences page",
            "An HTML page that works without JavaScript: one checkbox per category, accept all, reject all, save. "
            "`?return_to=<path>` is where the form returns to. Not cacheable, not frameable by other sites.",
            {200: Reply("The preferences page", {HTML: {"type": "string"}})},
        ),
        Operation(
            "POST", "decide", "Record a consent decision",
            "A form post (`application/x-www-form-urlencoded`) answers 303 to its `return_to`; a JSON post answers the new state. "
            "The decision is stored as a receipt before the consent cookie is issued (no cookie without proof); "
            "a withdrawal also expires the cookies of refused categories. Cross-site posts are refused (Origin, then Sec-Fetch-Site, then Referer).",
            {
                200: Reply(
                    "JSON post: the new state and the committed receipt's id", {JSON: _ref("DecisionAnswer")},
                    {"Set-Cookie": "The signed consent cookie (and expired tracker cookies)", "Consentry-Receipt-Id": "The committed receipt's id"},
                ),
                303: Reply(
                    "Form post: back to `return_to`",
                    headers={
                        "Location": "The same-origin `return_to` path", "Set-Cookie": "The signed consent cookie",
                        "Consentry-Receipt-Id": "The committed receipt's id",
                    },
                ),
                400: _error("The body is not a valid decision (the message says why)"),
                403: _error("A cross-site post: consent can only be given on the site itself"),
                413: _error("The body is larger than `[proxy.limits] consent_body_size`"),
                415: _error("Neither a form nor JSON"),
                429: Reply(
                    "More decisions from this client than `[proxy.limits] consent_decisions_per_minute`; nothing stored, no cookie",
                    _error("").content, {"Retry-After": "Seconds until a decision is accepted again"},
                ),
                503: _error(
                    "The receipt could not be committed within `[receipts] write_timeout` (lost database connections are retried), "
                    "so no consent was given and no cookie is set; try again"
                ),
            },
            request={"application/x-www-form-urlencoded": _ref("FormDecision"), JSON: _ref("JsonDecision")},
        ),
    )),
    Route("/status", (
        Operation(
            "GET", "status", "The current consent as JSON",
            "What the proxy reads from the visitor's consent cookie. A missing, forged, expired or outdated cookie reads as necessary only, `decided: false`.",
            {200: Reply("The visitor's consent", {JSON: _ref("ConsentStatus")})},
        ),
    )),
    Route("/receipts", (
        Operation(
            "GET", "visitor_receipts", "The visitor's own receipts (GDPR Art. 15)",
            "Every receipt this site keeps for the consent id in the visitor's valid consent cookie, oldest first. "
            "Without a cookie that verifies (missing, forged, expired, another site's, an outdated policy version) "
            "the answer is 401 with an empty list: never anyone else's receipts. Not cacheable.",
            {
                200: Reply("The receipts of the visitor's consent id", {JSON: _ref("VisitorReceipts")}),
                401: Reply("No valid consent cookie: nothing to show", {JSON: _ref("VisitorReceipts")}),
                503: _error("The receipts store cannot be read right now"),
            },
            tags=("receipts",),
        ),
    )),
    Route("/openapi.json", (
        Operation(
            "GET", "openapi", "This description",
            "The OpenAPI 3.1 document of every route under the consent prefix, generated from the route table the proxy dispatches with.",
            {200: Reply("OpenAPI 3.1 document", {JSON: {"type": "object"}})},
            tags=("meta",),
        ),
    )),
    Route("/csp-report", (
        Operation(
            "POST", "csp_report", "Receive a CSP violation report",
            "Browsers post here when the consent CSP stops (or, in `report` mode, would stop) a fetch. Counted in `consentry_csp_violations_total` by directive and blocked host; nothing else is kept.",
            {
                204: Reply("Counted"),
                400: Reply("Not JSON, or no violation in it", {"text/plain": {"type": "string"}}),
                413: Reply("Larger than `[proxy.limits] csp_report_size`", {"text/plain": {"type": "string"}}),
                415: Reply("Not `application/csp-report` or `application/reports+json`", {"text/plain": {"type": "string"}}),
                429: Reply("More reports from this client than `[proxy.limits] csp_reports_per_minute`",
                           {"text/plain": {"type": "string"}}, {"Retry-After": "Seconds until a report is accepted again"}),
            },
            request={
                "application/csp-report": {"type": "object", "properties": {"csp-report": {"type": "object"}}},
                "application/reports+json": {"type": "array", "items": {"type": "object"}},
            },
            tags=("csp",),
        ),
    )),
    Route("/{asset}", (
        Operation(
            "GET", "asset", "Banner and runtime files",
            "`consent.js` (banner and runtime), `consent.css`, `guard.js` (stops trackers injected at run time) and `vendors.json` (the catalogue's vendors as the banner shows them). Cacheable for an hour.",
            {
                200: Reply("The file", {
                    "text/javascript": {"type": "string"}, "text/css": {"type": "string"},
                    "image/svg+xml": {"type": "string"}, JSON: {"type": "array"},
                }),
                404: _error("No such file"),
            },
            tags=("assets",),
        ),
    ), parameters={"asset": "A file name such as `consent.js`, `consent.css`, `guard.js` or `vendors.json`"}),
)

_COMPILED = [(route, route.pattern()) for route in ROUTES]


def match(sub: str) -> tuple[Route, dict[str, str]] | None:
    """The route for ``sub`` (the request path after the consent prefix) and its path parameters.

    Literal paths win over templated ones, whatever their order in the table.
    """
    literal = [(r, p) for r, p in _COMPILED if "{" not in r.path]
    templated = [(r, p) for r, p in _COMPILED if "{" in r.path]
    for route, pattern in (*literal, *templated):
        found = pattern.fullmatch(sub)
        if found is not None:
            return route, found.groupdict()
    return None
