"""The consent API under the site's consent path (``/_consent`` by default).

``GET /`` the preferences page (works without JavaScript), ``POST /`` a decision from
the banner's form (answered 303 to a same-origin ``return_to``) or from JSON (answered
with the new state), ``GET /status`` the current state, ``GET /<asset>`` consent.js,
consent.css and the rest of ``proxy.web``'s assets. A decision is stored as a receipt
*before* its cookie is issued: if the store fails (after retrying a lost PostgreSQL
connection for ``[receipts] write_timeout`` seconds) the visitor gets a 503 and no cookie
(no consent without proof). A successful answer carries the committed receipt's id
(``receipt_id`` in the JSON, the ``Consentry-Receipt-Id`` header on both forms). Cross-site posts are refused, so no other site can consent
on the visitor's behalf. The decision logic itself lives in ``proxy.consent``.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from proxy.consent import (
    ConsentState,
    consent_cookie_header,
    decide_from_form,
    decide_from_json,
    expire_cookie_headers,
    issue_token,
    receipt_action,
    status_json,
)
from proxy.api import routes
from proxy.server import errors
from proxy.server import headers as h
from proxy.server.consent_state import consent_state, remember_state
from proxy.server.ratelimit import retry_after
from proxy.server.runtime import SiteRuntime
from proxy.server.services import SERVICES

log = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store", "Vary": "Cookie"}
# The consent pages must not be framed by another site (clickjacking a "yes").
_NO_FRAMING = {"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "frame-ancestors 'self'"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The committed receipt's id, on every successful decision (the form's 303 has no body).
RECEIPT_HEADER = "Consentry-Receipt-Id"


async def handle_consent(request: web.Request, runtime: SiteRuntime) -> web.StreamResponse:
    """Dispatch through ``proxy.api.ROUTES``: only routes the table documents are served."""
    sub = request.path[len(runtime.consent_path):]
    found = routes.match(sub)
    if found is None:
        return errors.error_response(request, 404)
    route, params = found
    if route.path == "":
        # /_consent -> /_consent/ so relative links in the page resolve under the prefix.
        return await redirect_to_slash(request, runtime)
    operation = route.operation(request.method)
    if operation is None:
        return _not_allowed(request, route.methods)
    return await HANDLERS[operation.handler](request, runtime, **params)


async def redirect_to_slash(request: web.Request, runtime: SiteRuntime) -> web.StreamResponse:
    query = f"?{request.query_string}" if request.query_string else ""
    location = runtime.consent_path + "/" + query
    return web.Response(status=308, text=f"See {location}\n", headers={"Location": location})


async def status(request: web.Request, runtime: SiteRuntime) -> web.StreamResponse:
    state = consent_state(request, runtime)
    return web.json_response(status_json(state, site=runtime.site), headers=_NO_STORE)


async def openapi(request: web.Request, runtime: SiteRuntime) -> web.StreamResponse:
    from proxy.api import openapi_document

    return web.json_response(openapi_document(runtime.consent_path), headers={"Cache-Control": "public, max-age=3600"})


async def csp_report(request: web.Request, runtime: SiteRuntime) -> web.StreamResponse:
    from proxy.server import csp_routes

    if csp_routes.CSP_VIOLATIONS not in request.app:   # an app built without the CSP middleware
        return errors.error_response(request, 404)
    return await csp_routes.receive(request, runtime.site_id)


async def _asset(request: web.Request, runtime: SiteRuntime, asset: str) -> web.StreamResponse:
    return serve_asset(request, runtime, asset)


async def _preferences(request: web.Request, runtime: SiteRuntime) -> web.StreamResponse:
    return preferences(request, runtime)


def _not_allowed(request: web.Request, allowed: tuple[str, ...]) -> web.Response:
    response = errors.error_response(request, 405)
    response.headers["Allow"] = ", ".join(allowed)
    return response


def serve_asset(request: web.Request, runtime: SiteRuntime, name: str) -> web.StreamResponse:
    from proxy.web import asset_reply

    found = asset_reply(runtime.site, name, request.query, request.headers)
    if found is None:
        return errors.error_response(request, 404)
    return web.Response(status=found.status, body=found.body or None, headers=found.headers)


def preferences(request: web.Request, runtime: SiteRuntime) -> web.Response:
    from proxy.server import collaborators

    state = consent_state(request, runtime)
    lang = collaborators.pick_language(runtime.site, request.headers.get("Accept-Language"))
    page = collaborators.preferences_page(
        runtime.site, state, lang=lang, return_to=request.query.get("return_to", "/"),
        vendors=list(getattr(runtime.engine.catalogue, "vendors", {}).values()),
    )
    if page is None:
        page = "<!doctype html><title>Consent</title><p>Preferences are not available.</p>"
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers={**_NO_STORE, **_NO_FRAMING})


def _origin_of(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        if not parts.scheme or not parts.hostname:
            return None
        return parts.scheme.lower(), parts.hostname.lower(), parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    except ValueError:
        return None


def _same_origin(claimed: tuple[str, str, int] | None, ours: tuple[str, str, int] | None, view: h.ClientView) -> bool:
    if claimed is None or ours is None:
        return False
    if claimed == ours:
        return True
    # TLS ended before us by a proxy not (yet) listed in trusted_proxies: the browser says
    # https://host, we see http://host. Same host, and only a secure origin is accepted.
    return view.proto == "http" and claimed[0] == "https" and claimed[1] == ours[1] and claimed[2] == 443


def is_cross_site(request: web.BaseRequest, view: h.ClientView) -> bool:
    """Origin first, then Sec-Fetch-Site, then Referer; with none of them (curl), allowed."""
    ours = _origin_of(f"{view.proto}://{view.host}")
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.strip() == "null" or not _same_origin(_origin_of(origin.strip()), ours, view)
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        # "same-site" is a sibling subdomain: still another party's page.
        return fetch_site.strip().lower() not in ("same-origin", "none")
    referer = request.headers.get("Referer")
    if referer is not None:
        return not _same_origin(_origin_of(referer), ours, view)
    return False


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    if request.content_length is not None and request.content_length > limit:
        return None
    data = bytearray()
    async for chunk in request.content.iter_any():
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


_VENDOR_DIGESTS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def vendor_digest(engine: Any) -> str:
    """Digest of the (vendor, category) list this site's visitors are shown."""
    digest = _VENDOR_DIGESTS.get(engine)
    if digest is None:
        from proxy.receipts import vendor_list_digest

        vendors = getattr(engine.catalogue, "vendors", {})
        digest = vendor_list_digest((vid, engine._from_vendor(v).category) for vid, v in vendors.items())
        _VENDOR_DIGESTS[engine] = digest
    return digest


async def decide(request: web.Request, runtime: SiteRuntime) -> web.StreamResponse:
    services = request.app[SERVICES]
    site = runtime.site
    view = h.client_view(request.remote, request.headers, request.scheme, request.host, runtime.trusted)
    if is_cross_site(request, view):
        log.info("refused a cross-site consent post for site %s", runtime.site_id)
        return errors.error_response(request, 403, "Consent can only be given on this site")

    wait = services.consent_rate.take(view.ip)
    if wait:
        # Each decision writes a receipt: one client must not fill the disk or skew statistics.
        services.metrics.rate_limited.labels("consent").inc()
        response = errors.error_response(request, 429, "Too many consent decisions; please wait a moment")
        response.headers["Retry-After"] = retry_after(wait)
        return response
    body = await _read_limited(request, runtime.limits.max_consent_body)
    if body is None:
        return errors.error_response(request, 413)
    content_type = request.content_type
    is_form = content_type == "application/x-www-form-urlencoded"
    try:
        if is_form:
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
            decision = decide_from_form(fields, site=site)
            return_to = next((value for key, value in fields if key == "return_to"), "/")
        elif content_type == "application/json":
            decision = decide_from_json(json.loads(body), site=site)
            return_to = None
        else:
            return errors.error_response(request, 415, "Send a form or JSON")
    except RecursionError:
        return _bad_request(request, "The body is nested too deeply")
    except (ValueError, UnicodeDecodeError) as exc:
        return _bad_request(request, str(exc) if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError) else "The body is not valid")

    previous = consent_state(request, runtime)
    # Keep the visitor's consent id across changes so an audit sees one history.
    try:
        token, claims = issue_token(
            runtime.keyring, site=site, categories=decision.categories, vendors=decision.vendors or None,
            consent_id=previous.consent_id if previous.source == "cookie" else None,
        )
    except ValueError as exc:   # e.g. so many vendor choices that the cookie would not fit
        return _bad_request(request, str(exc))
    # A visitor who had granted more than the necessary and now refuses all withdraws.
    action = receipt_action(decision, previous)
    store = services.receipts
    if store is None:
        services.metrics.receipt_errors.labels(runtime.site_id).inc()
        log.error("consent decision refused: no receipts store is configured")
        return errors.error_response(request, 503, "Your choice could not be saved right now; please try again later")
    try:
        from proxy.receipts import Receipt

        receipt = Receipt(
            consent_id=claims["sub"],
            site_id=runtime.site_id,
            policy_version=str(claims["pv"]),
            vendor_list_digest=vendor_digest(runtime.engine),
            granted=decision.granted_list(site),
            refused=decision.refused_list(site),
            action=action,
            created_at=dt.datetime.fromtimestamp(claims["iat"], dt.UTC),
            expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
            ip_hash=store.hash_ip(view.ip),
            user_agent=request.headers.get("User-Agent"),
            gpc=previous.gpc,
        )
        # Shielded: a visitor who hangs up mid-write must not leave half a proof behind.
        receipt_id = await asyncio.shield(store.record(receipt))
    except Exception:
        services.metrics.receipt_errors.labels(runtime.site_id).inc()
        log.exception("consent decision refused: the receipt could not be stored")
        return errors.error_response(request, 503, "Your choice could not be saved right now; please try again later")
    services.metrics.decisions.labels(runtime.site_id, action).inc()

    granted = set(decision.categories)
    if previous.gpc:
        granted.discard("marketing")
    state = ConsentState(
        categories=frozenset(granted), vendors=dict(decision.vendors), consent_id=claims["sub"],
        issued_at=float(claims["iat"]), expires_at=float(claims["exp"]), policy_version=claims["pv"],
        source="cookie", gpc=previous.gpc, decided=True,
    )
    remember_state(request, state)
    secure = view.proto == "https"
    cookie_names = [pair.split("=", 1)[0].strip() for v in request.headers.getall("Cookie", []) for pair in v.split(";") if pair.strip()]
    # The engine knows the site's vendor overrides; without it, the catalogue categories decide.
    from proxy.server.collaborators import Engine

    expired = expire_cookie_headers(
        cookie_names, host=view.host, secure=secure, refused_categories=decision.refused,
        is_refused=(lambda name: runtime.engine.refused_cookie(name, state)) if Engine is not None else None,
        keep=[getattr(site, "cookie_name", None) or "consentry"],
    )
    if return_to is not None:
        from proxy.server.collaborators import safe_return_to

        response: web.StreamResponse = web.Response(status=303, headers={"Location": safe_return_to(return_to), **_NO_STORE})
    else:
        response = web.json_response({**status_json(state, site=site), "receipt_id": receipt_id}, headers=_NO_STORE)
    # The acknowledgement: only now, with the receipt committed, does the visitor get a cookie.
    response.headers[RECEIPT_HEADER] = str(receipt_id)
    response.headers.add("Set-Cookie", consent_cookie_header(token, site=site, secure=secure))
    for value in expired:
        response.headers.add("Set-Cookie", value)
    return response


def _bad_request(request: web.Request, message: str) -> web.Response:
    if errors.wants_json(request) or request.content_type == "application/json":
        return web.json_response({"error": message, "status": 400}, status=400, headers={"Cache-Control": "no-store"})
    return errors.error_response(request, 400, message)


Handler = Callable[..., Awaitable[web.StreamResponse]]

# One handler per ``handler`` name in proxy.api.ROUTES (a test holds the two in step).
HANDLERS: dict[str, Handler] = {
    "redirect": redirect_to_slash,
    "preferences": _preferences,
    "decide": decide,
    "status": status,
    "openapi": openapi,
    "csp_report": csp_report,
    "asset": _asset,
}
