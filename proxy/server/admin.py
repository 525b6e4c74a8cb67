"""The admin listener: ``/healthz``, ``/readyz`` and ``/metrics`` on a separate port.

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
    sites = getattr(config, "sites", {}) or {}
    for url, ok in zip(upstreams, results, strict=True):
        # Name the sites, not the addresses: the admin port may be scraped by many.
        names = [sid for sid, site in sites.items() if str(getattr(site, "upstream", "")).rstrip("/") == url] or ["upstream"]
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


def make_admin_app(public_app: web.Application) -> web.Application:
    """The admin app, reading the public app's services (metrics, store, config)."""
    app = web.Application()
    app[PUBLIC_SERVICES] = public_app[SERVICES]
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
