"""Plain proxying through real sockets: methods, bodies, headers, redirects, Host routing."""

from __future__ import annotations

import asyncio
import hashlib
import json

from aiohttp import web
from yarl import URL

from server.server_helpers import echo_app, headers_of, make_config, raw_exchange


async def test_every_method_and_body_is_forwarded(start_upstream, start_proxy, client):
    upstream = await start_upstream(echo_app())
    proxy = await start_proxy(upstream)
    payload = bytes(range(256)) * 4000
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"):
        data = payload if method in ("POST", "PUT", "PATCH") else None
        url = URL(proxy.url + "/a/b%20c?x=1&y=%2F", encoded=True)
        async with client.request(method, url, data=data) as resp:
            assert resp.status == 200
            body = json.loads(await resp.read())
        assert body["method"] == method
        assert body["path_qs"] == "/a/b%20c?x=1&y=%2F"
        if data:
            assert body["sha256"] == hashlib.sha256(payload).hexdigest()
            assert body["size"] == len(payload)


async def test_streamed_chunked_request_body_goes_up_as_it_arrives(start_upstream, start_proxy, client):
    upstream = await start_upstream(echo_app())
    proxy = await start_proxy(upstream)
    parts = [b"x" * 1000, b"y" * 70000, b"z"]

    async def gen():
        for part in parts:
            yield part
            await asyncio.sleep(0)

    async with client.post(proxy.url + "/upload", data=gen()) as resp:
        body = json.loads(await resp.read())
    assert body["size"] == sum(map(len, parts))
    assert body["chunked"] is True
    assert body["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()


async def test_hop_by_hop_headers_are_removed_both_ways(start_upstream, start_proxy, client):
    upstream = await start_upstream(echo_app())
    proxy = await start_proxy(upstream)
    sent = {"Connection": "keep-alive, X-Private", "X-Private": "secret", "TE": "trailers",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==", "X-Normal": "kept"}
    async with client.get(proxy.url + "/", headers=sent) as resp:
        body = json.loads(await resp.read())
        assert "X-Secret-Hop" not in resp.headers
        assert "Keep-Alive" not in resp.headers
        assert resp.headers["X-Kept"] == "yes"
    got = headers_of(body)
    assert "x-private" not in got
    assert "te" not in got
    assert "proxy-authorization" not in got
    assert got["x-normal"] == ["kept"]
    # The proxy's own HTTP client must not invent headers the visitor did not send.
    async with client.get(proxy.url + "/", skip_auto_headers=["User-Agent", "Accept", "Accept-Encoding"]) as resp:
        got = headers_of(json.loads(await resp.read()))
    assert "user-agent" not in got and "accept" not in got and "accept-encoding" not in got


async def test_forwarding_headers_ignore_untrusted_claims(start_upstream, start_proxy, client):
    upstream = await start_upstream(echo_app())
    proxy = await start_proxy(upstream)
    forged = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https", "Forwarded": "for=6.6.6.6",
              "X-Forwarded-Host": "evil.example"}
    async with client.get(proxy.url + "/", headers=forged) as resp:
        got = headers_of(json.loads(await resp.read()))
    assert got["x-forwarded-for"] == ["127.0.0.1"]
    assert got["x-forwarded-proto"] == ["http"]
    assert got["x-forwarded-host"] == [proxy.url.removeprefix("http://")]
    assert got["forwarded"] == [f'for=127.0.0.1;host="{proxy.url.removeprefix("http://")}";proto=http']


async def test_forwarding_headers_are_appended_behind_a_trusted_proxy(start_upstream, start_proxy, client):
    upstream = await start_upstream(echo_app())
    proxy = await start_proxy(upstream, trusted_proxies=["127.0.0.0/8"])
    sent = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "Forwarded": "for=203.0.113.9;proto=https",
            "X-Forwarded-Host": "shop.example"}
    async with client.get(proxy.url + "/", headers=sent) as resp:
        got = headers_of(json.loads(await resp.read()))
    assert got["x-forwarded-for"] == ["203.0.113.9, 127.0.0.1"]
    assert got["x-forwarded-proto"] == ["https"]
    assert got["x-forwarded-host"] == ["shop.example"]
    assert got["forwarded"][0].startswith("for=203.0.113.9;proto=https, for=127.0.0.1;")


async def test_preserve_host_on_and_off(start_upstream, start_proxy, client):
    upstream = await start_upstream(echo_app())
    kept = await start_proxy(upstream, preserve_host=True)
    replaced = await start_proxy(upstream, preserve_host=False)
    async with client.get(kept.url + "/", headers={"Host": "www.shop.example"}) as resp:
        assert headers_of(json.loads(await resp.read()))["host"] == ["www.shop.example"]
    async with client.get(replaced.url + "/", headers={"Host": "www.shop.example"}) as resp:
        assert headers_of(json.loads(await resp.read()))["host"] == [upstream.removeprefix("http://")]


def redirecting_app() -> web.Application:
    async def go(request: web.Request) -> web.Response:
        own = f"http://{request.host}"
        headers = {
            "Location": own + "/next?q=1",
            "Content-Location": own + "/here",
            "Refresh": f"5; url={own}/later",
        }
        response = web.Response(status=302, headers=headers)
        response.headers.add("Set-Cookie", f"sid=1; Domain={request.host.split(':')[0]}; Path=/")
        response.headers.add("Set-Cookie", "other=2; Domain=elsewhere.example")
        return response

    app = web.Application()
    app.router.add_get("/go", go)
    return app


async def test_redirects_and_cookie_domains_are_rewritten_to_the_public_host(start_upstream, start_proxy, client):
    upstream = await start_upstream(redirecting_app())
    proxy = await start_proxy(upstream, preserve_host=False)
    async with client.get(proxy.url + "/go", headers={"Host": "www.shop.example:8443"}, allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == "http://www.shop.example:8443/next?q=1"
        assert resp.headers["Content-Location"] == "http://www.shop.example:8443/here"
        assert resp.headers["Refresh"] == "5; url=http://www.shop.example:8443/later"
        cookies = resp.headers.getall("Set-Cookie")
    assert "sid=1; Domain=www.shop.example; Path=/" in cookies
    assert "other=2; Domain=elsewhere.example" in cookies


def status_app() -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        status = int(request.match_info["status"])
        if status in (204, 304):
            return web.Response(status=status, headers={"ETag": '"v1"'})
        return web.Response(status=status, body=b"0123456789", content_type="application/octet-stream")

    app = web.Application()
    app.router.add_route("*", "/status/{status}", handler)
    return app


async def test_head_204_and_304_have_no_body(start_upstream, start_proxy, client):
    upstream = await start_upstream(status_app())
    proxy = await start_proxy(upstream)
    async with client.head(proxy.url + "/status/200") as resp:
        assert resp.status == 200
        assert resp.headers.get("Content-Length") == "10"
        assert await resp.read() == b""
    # Raw socket: after a bodiless answer the very next bytes must be the next response.
    host = proxy.url.removeprefix("http://")
    pipeline = (
        f"GET /status/204 HTTP/1.1\r\nHost: {host}\r\n\r\n"
        f"GET /status/304 HTTP/1.1\r\nHost: {host}\r\n\r\n"
        f"GET /status/200 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    ).encode()
    data = await raw_exchange(proxy.url, pipeline, read_until_close=True)
    responses = data.split(b"HTTP/1.1 ")[1:]
    assert [r[:3] for r in responses] == [b"204", b"304", b"200"]
    assert responses[0].endswith(b"\r\n\r\n") and responses[1].endswith(b"\r\n\r\n")
    assert responses[2].endswith(b"\r\n\r\n0123456789")


async def test_expect_100_continue(start_upstream, start_proxy):
    upstream = await start_upstream(echo_app())
    proxy = await start_proxy(upstream)
    host, port = proxy.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"POST /up HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n".encode())
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        writer.write(b"hello")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        body = json.loads(await asyncio.wait_for(reader.readexactly(length), 5))
        assert body["size"] == 5
        assert "expect" not in headers_of(body)
    finally:
        writer.close()


async def test_unknown_host_is_421(start_upstream, start_proxy, client):
    upstream = await start_upstream(echo_app())
    config = make_config(upstream)
    # A config whose only site serves shop.example (no default site).
    import dataclasses

    site = config.sites["default"].model_copy(update={"site_id": "shop.example", "hosts": ("shop.example",)})
    config = dataclasses.replace(config, sites={"shop.example": site})
    proxy = await start_proxy(upstream, config=config)
    async with client.get(proxy.url + "/", headers={"Host": "other.example"}) as resp:
        assert resp.status == 421
    async with client.get(proxy.url + "/", headers={"Host": "shop.example"}) as resp:
        assert resp.status == 200


async def test_access_log_has_no_address_query_or_user_agent(start_upstream, start_proxy, client, caplog):
    import logging

    upstream = await start_upstream(echo_app())
    proxy = await start_proxy(upstream)
    with caplog.at_level(logging.INFO, logger="consentry.access"):
        async with client.get(proxy.url + "/account?email=someone%40example.com",
                              headers={"User-Agent": "VisitorBrowser/1.0", "Host": "shop.example"}) as resp:
            await resp.read()
    lines = [r.getMessage() for r in caplog.records if r.name == "consentry.access"]
    assert len(lines) == 1
    assert lines[0].startswith("shop.example - - [") and '"GET /account HTTP/1.1" 200 ' in lines[0]
    # The visitor connected from 127.0.0.1: that address must not be logged.
    assert "127.0.0.1" not in lines[0]
    assert "email" not in lines[0] and "someone" not in lines[0] and "VisitorBrowser" not in lines[0]
