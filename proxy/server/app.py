"""The aiohttp application: one factory, typed state, one catch-all route.

``make_app(holder)`` builds the public app. Every request goes to ``dispatch``: the
``Host`` picks the site (unknown host: 421 Misdirected Request), the site's consent
path goes to the consent API, WebSocket upgrades are relayed, and everything else is
forwarded upstream. The upstream sessions and the receipts store are opened and
closed in ``cleanup_ctx``, so tests and ``run`` share one lifecycle. The config is
read from the holder once per request, so a reload (SIGHUP) takes effect for new
requests while running ones finish under the config they started with.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE

from proxy.catalogue import Catalogue
from proxy.receipts import ReceiptStore
from proxy.server import csp_routes, errors
from proxy.server.connections import SERVER_NAME
from proxy.server.consent_api import handle_consent
from proxy.server.forward import FORWARDED, forward
from proxy.server.services import SERVICES, ConfigSource, Services
from proxy.server.websocket import is_websocket, relay_websocket

log = logging.getLogger(__name__)


async def dispatch(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    config = services.config()
    if not _target_matches_host(request):
        # RFC 9112 3.2.2: an absolute-form target names the authority; one that disagrees
        # with Host could pick one site by Host and reach another: refuse the ambiguity.
        return errors.error_response(request, 400, "The request target and Host disagree")
    site = services.runtimes.site_for_host(config, request.host)
    if site is None:
        services.metrics.requests.labels("-", "misdirected", "4xx").inc()
        return errors.error_response(request, 421)
    runtime = services.runtimes.get(config, site)
    path = request.path
    consent_path = runtime.consent_path
    if path.startswith(consent_path) and (len(path) == len(consent_path) or path[len(consent_path)] == "/"):
        response = await handle_consent(request, runtime)
        services.metrics.requests.labels(runtime.site_id, "consent", f"{response.status // 100}xx").inc()
        return response
    if is_websocket(request):
        return await relay_websocket(request, runtime)
    return await forward(request, runtime)


def _target_matches_host(request: web.Request) -> bool:
    target = request._message.url  # the request-target exactly as parsed
    if not target.is_absolute():
        return True
    authority = (target.raw_authority or "").lower()
    if target.scheme not in ("http", "https") or not authority:
        return False
    host = request.headers.get("Host", "").lower()
    default = ":80" if target.scheme == "http" else ":443"
    return authority.removesuffix(default) == host.removesuffix(default)


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Headers every response gets: no version disclosure, a Content-Type on what we generate,
    and ``Connection: close`` once a connection has served ``keepalive_requests`` requests."""
    headers = response.headers
    # aiohttp fills in its own name and version before this hook runs; an upstream's stays.
    if headers.get("Server", SERVER_SOFTWARE) == SERVER_SOFTWARE:
        headers["Server"] = SERVER_NAME
    if not request.get(FORWARDED) and "Content-Type" not in headers and response.status >= 200 \
            and response.status not in (204, 304):
        headers["Content-Type"] = "text/plain; charset=utf-8"
    limits = request.app[SERVICES].limits
    # getattr: aiohttp's private per-connection counter (no public API says how many
    # requests a keep-alive connection served); absent in another aiohttp, no limit applies.
    if getattr(request.protocol, "_request_count", 0) >= limits.keepalive_requests:
        response.force_close()


def make_app(holder: ConfigSource, *, catalogue: Catalogue | None = None,
             receipts: ReceiptStore | None = None) -> web.Application:
    """The public proxy app for ``holder`` (a ConfigHolder, or a Config that never reloads).

    ``receipts`` is an open store to use (the caller closes it); without it the store
    named by ``config.receipts.url`` is opened at start-up and closed at shutdown.
    """
    app = web.Application(client_max_size=1024**3, handler_args={})
    app[SERVICES] = Services(holder, catalogue=catalogue, receipts=receipts)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        services = app[SERVICES]
        await services.open()
        yield
        await services.close()

    app.cleanup_ctx.append(lifecycle)
    app.on_response_prepare.append(_on_prepare)
    # CSP violation reports (issue 7), registered first: the catch-all would shadow them.
    csp_routes.register(app)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
