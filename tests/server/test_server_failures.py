"""Failures and limits: dead and slow upstreams, mid-body deaths, aborts, smuggling, header limits."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from proxy.policy import Limits, Timeouts
from server.server_helpers import closed_port, echo_app, raw_exchange


async def test_dead_upstream_is_a_clean_502_page_or_json(start_proxy, client):
    upstream = closed_port()
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/x", headers={"Accept": "text/html"}) as resp:
        assert resp.status == 502
        assert resp.content_type == "text/html"
        page = await resp.text()
    async with client.get(proxy.url + "/x", headers={"Accept": "application/json"}) as resp:
        assert resp.status == 502
        assert json.loads(await resp.read()) == {"error": "The site is not reachable right now", "status": 502}
    port = upstream.rsplit(":", 1)[1]
    assert port not in page and "Errno" not in page and "Traceback" not in page


async def test_slow_upstream_is_504(start_upstream, start_proxy, client):
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), 10)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/slow", slow)
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream, timeouts=Timeouts(connect=1.0, read=0.3, total=5.0))
    try:
        async with client.get(proxy.url + "/slow", headers={"Accept": "application/json"}) as resp:
            assert resp.status == 504
            assert json.loads(await resp.read())["status"] == 504
    finally:
        release.set()


def dying_app() -> web.Application:
    async def fixed_length(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": request.query.get("type", "text/plain"),
                                               "Content-Length": "100000"})
        await response.prepare(request)
        await response.write(b"<html><body>" + b"a" * 5000)
        request.transport.abort()   # the upstream dies mid-body
        return response

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": request.query.get("type", "text/plain")})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"<html><body>" + b"b" * 5000)
        request.transport.abort()
        return response

    app = web.Application()
    app.router.add_get("/fixed", fixed_length)
    app.router.add_get("/chunked", chunked)
    return app


@pytest.mark.parametrize("path", ["/fixed", "/chunked", "/fixed?type=text/html", "/chunked?type=text/html"])
async def test_upstream_dying_mid_body_ends_the_client_response(start_upstream, start_proxy, client, path):
    upstream = await start_upstream(dying_app())
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + path) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            # Bounded by the client's timeout: a hang would fail the test, not stall it.
            await resp.read()


async def test_client_abort_cancels_the_upstream_request(start_upstream, start_proxy):
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def endless(request: web.Request) -> web.Response:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.Response(text="never")

    app = web.Application()
    app.router.add_get("/endless", endless)
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream)
    host, port = proxy.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /endless HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    await asyncio.wait_for(started.wait(), 10)
    writer.close()
    await asyncio.wait_for(cancelled.wait(), 10)


async def test_client_abort_mid_stream_stops_reading_the_upstream(start_upstream, start_proxy):
    stopped = asyncio.Event()

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        try:
            for _ in range(100000):
                await response.write(b"z" * 65536)
        except (ConnectionError, asyncio.CancelledError):
            stopped.set()
            raise
        return response

    app = web.Application()
    app.router.add_get("/stream", stream)
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream)
    host, port = proxy.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    await asyncio.wait_for(reader.readexactly(200000), 10)
    writer.transport.abort()
    await asyncio.wait_for(stopped.wait(), 10)


SMUGGLING = {
    "content-length and transfer-encoding": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two content-lengths": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: h\nX-A: 1\n\n",
    "transfer-encoding not chunked last": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "space before colon": b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(SMUGGLING))
async def test_smuggling_shaped_requests_are_refused(start_upstream, start_proxy, name):
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream)
    data = await raw_exchange(proxy.url, SMUGGLING[name], read_until_close=True)
    assert data.split(b"\r\n", 1)[0] in (b"HTTP/1.0 400 Bad Request", b"HTTP/1.1 400 Bad Request"), data[:80]
    assert seen == []


async def test_header_size_and_count_limits(start_upstream, start_proxy):
    upstream = await start_upstream(echo_app())
    proxy = await start_proxy(upstream, proxy_changes={"limits": Limits(max_header_size=2048, max_headers=20)})
    host = proxy.url.removeprefix("http://")
    big = f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Big: {'a' * 4000}\r\n\r\n".encode()
    assert (await raw_exchange(proxy.url, big, read_until_close=True))[8:13] in (b" 400 ", b" 431 ")
    many = (f"GET / HTTP/1.1\r\nHost: {host}\r\n" + "".join(f"X-{i}: v\r\n" for i in range(40)) + "\r\n").encode()
    assert (await raw_exchange(proxy.url, many, read_until_close=True))[8:13] in (b" 400 ", b" 431 ")
    fine = f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Ok: {'a' * 1000}\r\nConnection: close\r\n\r\n".encode()
    assert (await raw_exchange(proxy.url, fine, read_until_close=True)).startswith(b"HTTP/1.1 200")


async def test_total_timeout_bounds_the_headers_not_a_long_body(start_upstream, start_proxy, client):
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for index in range(8):
            await response.write(f"data: {index}\n\n".encode())
            await asyncio.sleep(0.15)   # each gap is under the read timeout; all together over the total
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/events", trickle)
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream, timeouts=Timeouts(connect=1.0, read=2.0, total=0.5))
    async with client.get(proxy.url + "/events") as resp:
        assert resp.status == 200
        body = await resp.read()
    assert body == b"".join(f"data: {i}\n\n".encode() for i in range(8))


async def test_a_reused_connection_closed_by_the_upstream_is_retried_for_get(start_proxy, client):
    """The upstream answers the first request on a connection and silently drops the second."""
    served: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        count = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                count += 1
                if count == 2:
                    break   # close without answering, as an idle-timeout race does
                served.append(count)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
                del head
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        proxy = await start_proxy(f"http://127.0.0.1:{port}")
        for _ in range(3):
            async with client.get(proxy.url + "/x") as resp:
                assert resp.status == 200
                assert await resp.read() == b"ok"
        async with client.post(proxy.url + "/x", data=b"body") as resp:
            # A POST is never replayed (it may have had an effect): the drop is a clean 502.
            assert resp.status == 502
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/html"])
async def test_a_client_that_stops_reading_is_cut_after_send_timeout(start_upstream, start_proxy, content_type):
    # 64 MB that the client never reads: socket buffers fill, the proxy's writes must wait,
    # and after send_timeout the proxy gives up: the client is cut and the upstream
    # connection released (its handler ends), instead of both being held forever.
    served = asyncio.Event()
    ended: list[bool] = []   # True: the whole body went out; False: the proxy hung up

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        served.set()
        try:
            for _ in range(1024):
                await response.write(b"<p>" + b"x" * 65533)
            ended.append(True)
        except (ConnectionError, asyncio.CancelledError):
            ended.append(False)
            raise
        return response

    app = web.Application()
    app.router.add_get("/big", big)
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream, proxy_changes={"limits": Limits(send_timeout=1.0)})
    host, port = proxy.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"GET /big HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        await asyncio.wait_for(served.wait(), 10)
        # Read nothing, and wait (bounded) for the upstream's handler to end.
        for _ in range(100):
            if ended:
                break
            await asyncio.sleep(0.2)
    finally:
        writer.close()
    assert ended == [False], "the proxy kept the upstream busy for a client that reads nothing" if not ended else ended
