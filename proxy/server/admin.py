"""The admin listener: ``/healthz``, ``/readyz``, ``/metrics`` and ``/insights`` on a separate port.

Bound to loopback by default (``config.proxy.admin_listen``), so health checks and
Prometheus scrapes never share a port with visitors. ``/healthz`` says the process
answers; ``/readyz`` also checks that every configured upstream accepts a TCP
connection and that the receipts store is writable, and answers 503 with the failing
checks (names only, no addresses) otherwise; ``/metrics`` is the Prometheus text format.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from proxy.server.services import SERVICES, Services

log = logging.getLogger(__name__)

PUBLIC_SERVICES = web.AppKey("public_services", Services)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _reachable(url: str, seconds: float) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), seconds)
    except (TimeoutError, OSError):
        return False
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True


async def readyz(request: web.Request) -> web.Response:
    services = request.app[PUBLIC_SERVICES]
    config = services.config()
    checks: dict[str, bool] = {}
    upstreams = services.runtimes.upstreams(config)
    results = await asyncio.gather(*(_reachable(url, 2.0) for url in upstreams))
    for url, ok in zip(upstreams, results, strict=True):
        # Name the sites, not the addresses: the admin port may be scraped by many.
        names = [sid for sid, site in config.sites.items() if site.upstream.rstrip("/") == url] or ["upstream"]
        for name in names:
            checks[f"upstream:{name}"] = ok
    store = services.receipts
    if store is not None:
        try:
            await asyncio.wait_for(store.check_writable(), 2.0)
            checks["receipts"] = True
        except Exception as exc:  # noqa: BLE001 - any failure is "not ready", logged, never a 500
            log.warning("readyz: receipts store not writable: %r", exc)
            checks["receipts"] = False
    ok = all(checks.values())
    return web.json_response({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    services = request.app[PUBLIC_SERVICES]
    return web.Response(body=services.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


# The insights page draws everything inline: no script, no fetch, no external asset may load.
_INSIGHTS_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


class _InsightsProblem(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _insights_reports(request: web.Request) -> tuple[list[dict[str, Any]], list[str]]:
    """The reports for ``?site=&since=&until=`` (every site without ``site``) and every site id."""
    import datetime as dt

    from proxy.insights import SiteSpec, site_insights

    services = request.app[PUBLIC_SERVICES]
    config = services.config()
    sites = dict(config.sites)
    wanted = request.query.get("site")
    if wanted:
        site = sites.get(wanted) or services.runtimes.site_for_host(config, wanted)
        if site is None:
            raise _InsightsProblem(404, f"no site {wanted!r}; sites: {', '.join(sorted(sites))}")
        chosen = [site]
    else:
        chosen = list(sites.values())
    days = []
    for name in ("since", "until"):
        text = request.query.get(name)
        try:
            days.append(dt.date.fromisoformat(text) if text else None)
        except ValueError:
            raise _InsightsProblem(400, f"{name}={text!r}: use YYYY-MM-DD") from None
    store = services.receipts
    if store is None or not hasattr(store, "decision_counts"):
        raise _InsightsProblem(503, "no receipts store is configured")
    # What this process counted but has not stored yet belongs in the figures too.
    await services.impressions.flush(store)
    try:
        reports = [await site_insights(store, SiteSpec.of(site), since=days[0], until=days[1]) for site in chosen]
    except Exception as exc:  # noqa: BLE001 - any store failure is a 503 with the cause logged
        log.warning("insights: the receipts store could not be read: %r", exc)
        raise _InsightsProblem(503, "the receipts store cannot be read right now") from None
    return reports, sorted(sites)


async def insights_json(request: web.Request) -> web.Response:
    """``GET /insights.json?site=HOST``: the same JSON as ``consentry insights --format json``."""
    try:
        reports, _ = await _insights_reports(request)
    except _InsightsProblem as problem:
        return web.json_response({"error": str(problem), "status": problem.status}, status=problem.status)
    body: Any = reports[0] if len(reports) == 1 else reports
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def insights_page(request: web.Request) -> web.Response:
    """``GET /insights``: charts and tables of the figures, no script and no external asset."""
    from proxy.insights import render_page

    headers = {"Cache-Control": "no-store", "Content-Security-Policy": _INSIGHTS_CSP, "X-Content-Type-Options": "nosniff"}
    try:
        reports, sites = await _insights_reports(request)
    except _InsightsProblem as problem:
        import html

        return web.Response(
            status=problem.status, content_type="text/html", charset="utf-8", headers=headers,
            text=f'<!doctype html><html lang="en"><title>Consent insights</title><p>{html.escape(str(problem))}</p></html>',
        )
    return web.Response(text=render_page(reports, sites=sites), content_type="text/html", charset="utf-8", headers=headers)


def make_admin_app(public_app: web.Application) -> web.Application:
    """The admin app, reading the public app's services (metrics, store, config)."""
    app = web.Application()
    app[PUBLIC_SERVICES] = public_app[SERVICES]
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/insights", insights_page)
    app.router.add_get("/insights.json", insights_json)
    return app
