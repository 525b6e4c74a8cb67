"""WebSocket upgrades passed through to the upstream, messages relayed both ways.

The upstream connection is opened first, so a dead upstream still gets a clean 502
instead of an accepted socket that closes at once; the subprotocol the upstream picked
is the one offered to the client. Messages are relayed as they are (text, binary; each
leg answers its own pings), and a close on either side closes the other with the same
code. A relay with no frame either way, pings included, for ``websocket_idle_timeout``
is closed with 1001 (as an edge's idle timeout: a silent socket must not hold a
connection slot for good). Consent does not touch WebSocket payloads: they are not HTML.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from proxy.server import errors
from proxy.server.forward import upstream_request_headers, upstream_url
from proxy.server.runtime import SiteRuntime
from proxy.server.services import SERVICES

log = logging.getLogger(__name__)

# The handshake fields aiohttp's client writes itself for the upstream leg.
_HANDSHAKE = ("Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol")


def is_websocket(request: web.Request) -> bool:
    return (
        request.method == "GET"
        and request.headers.get("Upgrade", "").lower() == "websocket"
        and "upgrade" in request.headers.get("Connection", "").lower()
    )


async def relay_websocket(request: web.Request, runtime: SiteRuntime) -> web.StreamResponse:
    services = request.app[SERVICES]
    headers, _ = upstream_request_headers(request, runtime)
    protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    for name in _HANDSHAKE:
        headers.popall(name, None)
    session = services.session_for(runtime)
    url = upstream_url(runtime, request)
    if url is None:
        return errors.error_response(request, 400, "The path is not valid")
    try:
        upstream = await session.ws_connect(
            url,
            headers=CIMultiDict(headers),
            protocols=protocols,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=runtime.timeouts.connect),
            autoping=False,
            max_msg_size=runtime.limits.websocket_message_size,
        )
    except aiohttp.WSServerHandshakeError as exc:
        log.warning("upstream %s refused the WebSocket upgrade for %s: %s", runtime.upstream_origin, request.path, exc.status)
        return errors.error_response(request, 502)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        log.warning("upstream %s WebSocket connect failed for %s: %r", runtime.upstream_origin, request.path, exc)
        return errors.error_response(request, 502)

    client = web.WebSocketResponse(protocols=(upstream.protocol,) if upstream.protocol else (),
                                   max_msg_size=runtime.limits.websocket_message_size, autoping=False)
    await client.prepare(request)
    services.metrics.requests.labels(runtime.site_id, "websocket", "1xx").inc()
    loop = asyncio.get_running_loop()
    last_frame = loop.time()

    async def pump(source: aiohttp.ClientWebSocketResponse | web.WebSocketResponse,
                   sink: aiohttp.ClientWebSocketResponse | web.WebSocketResponse) -> None:
        nonlocal last_frame
        async for message in source:
            last_frame = loop.time()
            if message.type is aiohttp.WSMsgType.TEXT:
                await sink.send_str(message.data)
            elif message.type is aiohttp.WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            elif message.type is aiohttp.WSMsgType.PING:
                await source.pong(message.data)   # (autoping off, so that pings count as activity)
            elif message.type is aiohttp.WSMsgType.ERROR:
                break
        # The source closed: pass its close code on (1000 when it sent none).
        await sink.close(code=source.close_code or 1000)

    async def idle() -> None:
        # Sleeps until the deadline the last frame set, again while frames keep moving it.
        limit = runtime.limits.websocket_idle_timeout
        remaining = limit
        while remaining > 0:
            await asyncio.sleep(remaining)
            remaining = last_frame + limit - loop.time()

    up = asyncio.create_task(pump(upstream, client))
    down = asyncio.create_task(pump(client, upstream))
    watch = asyncio.create_task(idle())
    try:
        await asyncio.wait((up, down, watch), return_when=asyncio.FIRST_COMPLETED)
        if watch.done() and not (up.done() or down.done()):
            log.debug("WebSocket relay for %s idle for %.0f s: closed", request.path, runtime.limits.websocket_idle_timeout)
            services.metrics.connection_event("timeout", "websocket_idle")
            for task in (up, down):   # stopped first: neither may pass on the other's close code
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            await asyncio.gather(client.close(code=aiohttp.WSCloseCode.GOING_AWAY),
                                 upstream.close(code=aiohttp.WSCloseCode.GOING_AWAY), return_exceptions=True)
    finally:
        for task in (up, down, watch):
            if not task.done():
                task.cancel()
        await asyncio.gather(up, down, watch, return_exceptions=True)
        await upstream.close()
        await client.close()
    return client
