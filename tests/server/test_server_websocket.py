"""WebSocket upgrades relayed both ways through the proxy."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from server.server_helpers import closed_port


def ws_app() -> web.Application:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("chat.v2", "chat.v1"))
        await ws.prepare(request)
        await ws.send_str(f"hello {request.headers.get('X-Forwarded-For')}")
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                if message.data == "bye":
                    await ws.close(code=4001, message=b"done")
                    break
                await ws.send_str("echo:" + message.data)
            elif message.type is aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(message.data[::-1])
        return ws

    app = web.Application()
    app.router.add_get("/ws", echo)
    return app


async def test_websocket_messages_flow_both_ways(start_upstream, start_proxy, client):
    upstream = await start_upstream(ws_app())
    proxy = await start_proxy(upstream)
    async with client.ws_connect(proxy.url + "/ws", protocols=("chat.v1",)) as ws:
        assert ws.protocol == "chat.v1"
        greeting = await ws.receive(timeout=5)
        assert greeting.data == "hello 127.0.0.1"
        await ws.send_str("ping")
        assert (await ws.receive(timeout=5)).data == "echo:ping"
        await ws.send_bytes(b"\x00\x01\x02" * 50000)
        assert (await ws.receive(timeout=5)).data == b"\x02\x01\x00" * 50000
        await ws.send_str("bye")
        closing = await ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == 4001


async def test_websocket_to_a_dead_upstream_is_502(start_proxy, client):
    proxy = await start_proxy(closed_port())
    try:
        async with client.ws_connect(proxy.url + "/ws"):
            raise AssertionError("the upgrade must not succeed")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 502
