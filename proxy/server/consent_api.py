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
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy.consent import status_json
from proxy import web as ui
from proxy.api import decisions, routes
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
# The committed receipt's id, on every successful decision (the form's 303 has no body).
RECEIPT_HEADER = decisions.RECEIPT_HEADER


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
    found = ui.asset_reply(runtime.site, name, request.query, request.headers)
    if found is None:
        return errors.error_response(request, 404)
    return web.Response(status=found.status, body=found.body or None, headers=found.headers)


def preferences(request: web.Request, runtime: SiteRuntime) -> web.Response:
    state = consent_state(request, runtime)
    lang = ui.pick_language(runtime.site, html_lang=None, accept_language=request.headers.get("Accept-Language"))
    page = ui.render_preferences_page(
        runtime.site, state, lang=lang, return_to=request.query.get("return_to", "/"),
        vendors=list(runtime.engine.catalogue.vendors.values()),
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers={**_NO_STORE, **_NO_FRAMING})


def is_cross_site(request: web.BaseRequest, view: h.ClientView) -> bool:
    """Origin first, then Sec-Fetch-Site, then Referer (``proxy.api.decisions``)."""
    return decisions.is_cross_site(request.headers.get, view.proto, view.host)


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    if request.content_length is not None and request.content_length > limit:
        return None
    data = bytearray()
    async for chunk in request.content.iter_any():
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


vendor_digest = decisions.vendor_digest


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
        refusal = errors.error_response(request, 429, "Too many consent decisions; please wait a moment")
        refusal.headers["Retry-After"] = retry_after(wait)
        return refusal
    body = await _read_limited(request, runtime.limits.consent_body_size)
    if body is None:
        return errors.error_response(request, 413)
    # The decision itself is the sans-io core the mitmproxy addon shares (proxy.api.decisions).
    parsed = decisions.parse_decision(request.headers.get("Content-Type", ""), body, site)
    if isinstance(parsed, decisions.ApiError):
        return _refusal(request, parsed)
    store = services.receipts
    previous = consent_state(request, runtime)
    plan = decisions.plan_decision(
        parsed, previous, site=site, site_id=runtime.site_id, keyring=runtime.keyring, engine=runtime.engine,
        ip_hash=store.hash_ip(view.ip) if store is not None else None, user_agent=request.headers.get("User-Agent"),
        accept_language=request.headers.get("Accept-Language"),
    )
    if isinstance(plan, decisions.ApiError):
        return _refusal(request, plan)
    if store is None:
        services.metrics.receipt_errors.labels(runtime.site_id).inc()
        log.error("consent decision refused: no receipts store is configured")
        return errors.error_response(request, 503, "Your choice could not be saved right now; please try again later")
    try:
        if plan.texts is not None and plan.texts[0] not in services.kept_texts:
            # The texts behind the receipt's digest are kept before the receipt that names them.
            await asyncio.shield(store.keep_banner_texts(plan.texts[0], runtime.site_id, plan.texts[1], plan.texts[2]))
            services.kept_texts.add(plan.texts[0])
        # Shielded: a visitor who hangs up mid-write must not leave half a proof behind.
        receipt_id = await asyncio.shield(store.record(plan.receipt))
    except Exception:
        services.metrics.receipt_errors.labels(runtime.site_id).inc()
        log.exception("consent decision refused: the receipt could not be stored")
        return errors.error_response(request, 503, "Your choice could not be saved right now; please try again later")
    services.metrics.decisions.labels(runtime.site_id, plan.action).inc()
    services.metrics.banner_decisions.labels(runtime.site_id, plan.variant or "none", plan.action).inc()
    remember_state(request, plan.state)
    reply = decisions.decision_reply(
        plan, receipt_id, site=site, engine=runtime.engine, host=view.host, secure=view.proto == "https",
        cookies=request.headers.getall("Cookie", []),
    )
    response = web.Response(status=reply.status, body=reply.body or None)
    for name, value in reply.headers:
        response.headers.add(name, value)
    return response


def _refusal(request: web.Request, error: decisions.ApiError) -> web.Response:
    if error.status == 400:
        return _bad_request(request, error.message)
    return errors.error_response(request, error.status, error.message)


def _bad_request(request: web.Request, message: str) -> web.Response:
    if errors.wants_json(request) or request.content_type == "application/json":
        return web.json_response({"error": message, "status": 400}, status=400, headers={"Cache-Control": "no-store"})
    return errors.error_response(request, 400, message)


async def visitor_receipts(request: web.Request, runtime: SiteRuntime) -> web.StreamResponse:
    """``GET /_consent/receipts``: the visitor's own receipts (GDPR Art. 15), by their valid cookie only."""
    state = consent_state(request, runtime)
    consent_id = state.consent_id if state.source == "cookie" else None
    found = None
    if consent_id:
        store = request.app[SERVICES].receipts
        if store is None:
            return errors.error_response(request, 503, "Receipts are not available right now")
        try:
            found = await store.get(consent_id)
        except Exception:
            log.exception("could not read the receipts of a visitor")
            return errors.error_response(request, 503, "Receipts are not available right now")
    reply = decisions.receipts_reply(found, consent_id=consent_id or None, site_id=runtime.site_id)
    response = web.Response(status=reply.status, body=reply.body)
    for name, value in reply.headers:
        response.headers.add(name, value)
    return response


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
    "visitor_receipts": visitor_receipts,
}
