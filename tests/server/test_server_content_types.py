"""M2: the proxy rewrites exactly what a browser would render as a document (issue 15).

A real upstream answers with each content-type trick the audit used; the page carries a
Google Analytics tag, which must come out neutralised whenever a browser would run it,
and bytes must come out untouched whenever a browser would not render a document.
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from aiohttp import web
from server.server_helpers import cookie_for

GA_URL = "https://www.google-analytics.com/analytics.js"
PAGE = f'<html><head></head><body><script async src="{GA_URL}"></script></body></html>'.encode()
SVG = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
       f'<script href="{GA_URL}"/><circle r="5"/></svg>').encode()


async def start_raw_upstream(head: bytes, body: bytes) -> tuple[str, asyncio.AbstractServer]:
    """An upstream that answers exactly ``head`` + ``body`` (aiohttp would add a Content-Type)."""
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", server


@pytest.mark.parametrize("body, rewritten", [(PAGE, True), (b"  \n<!-- x -->" + PAGE, True), (b"GIF89a" + PAGE, False),
                                              (b'{"a": "<script src=\\"' + GA_URL.encode() + b'\\"></script>"}', False)])
async def test_a_response_without_content_type_is_sniffed_like_a_browser(start_proxy, client, body, rewritten):
    url, server = await start_raw_upstream(b"HTTP/1.1 200 OK\r\n", body)
    try:
        proxy = await start_proxy(url)
        async with client.get(proxy.url + "/") as resp:
            out = await resp.read()
    finally:
        server.close()
        await server.wait_closed()
    if rewritten:
        assert not live(out) and f'data-consent-src="{GA_URL}"'.encode() in out
    else:
        assert out == body


def typed_app(headers: list[tuple[str, str]], body: bytes, status: int = 200) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status)
        for name, value in headers:
            response.headers.add(name, value)
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body)
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


def live(body: bytes) -> bool:
    """The tracker URL in a live src/href attribute (not data-consent-src)."""
    return re.search(rb'(?<![-\w])(src|href)="' + re.escape(GA_URL.encode()), body) is not None


@pytest.mark.parametrize("headers", [
    [("Content-Type", "text/plain, text/html")],
    [("Content-Type", "text/plain"), ("Content-Type", "text/html")],
    [("Content-Type", "")],
    [("Content-Type", "unknown/unknown")],
    [("Content-Type", "application/unknown")],
    [("Content-Type", "*/*")],
    [("Content-Type", "text/html x")],
    [("Content-Type", 'text/html;x="a,text/plain"')],
    [("Content-Type", "application/xhtml+xml")],
    [("Content-Type", "TEXT/HTML ; charset=utf-8")],
    [("Content-Type", "text/html"), ("Cache-Control", "public, no-transform")],
], ids=repr)
async def test_what_a_browser_renders_as_html_is_rewritten(start_upstream, start_proxy, client, headers):
    upstream = await start_upstream(typed_app(headers, PAGE))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/") as resp:
        body = await resp.read()
    assert not live(body)
    assert f'data-consent-src="{GA_URL}"'.encode() in body


@pytest.mark.parametrize("content_type", ["image/svg+xml", "text/xml", "application/xml"])
async def test_svg_and_xml_documents_are_rewritten_without_a_banner(start_upstream, start_proxy, client, content_type):
    upstream = await start_upstream(typed_app([("Content-Type", content_type)], SVG))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/") as resp:
        body = await resp.read()
    assert not live(body) and GA_URL.encode() in body
    assert b"<noscript" not in body and b"__consentry" not in body   # no HTML snippet in XML


@pytest.mark.parametrize("headers, body", [
    ([("Content-Type", 'text/plain;x="a,text/html"')], PAGE),     # text/plain: shown as text
    ([("Content-Type", "text/plain")], PAGE),
    ([("Content-Type", "application/json")], PAGE),
    ([("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n" + PAGE),
], ids=repr)
async def test_what_a_browser_does_not_render_as_a_document_passes_byte_identical(start_upstream, start_proxy, client,
                                                                                  headers, body):
    upstream = await start_upstream(typed_app(headers, body))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/") as resp:
        assert await resp.read() == body


async def test_a_refresh_header_to_a_refused_tracker_is_dropped(start_upstream, start_proxy, client):
    app_headers = [("Content-Type", "image/png"), ("Refresh", f"0; url={GA_URL}")]
    upstream = await start_upstream(typed_app(app_headers, b"\x89PNG\r\n\x1a\n"))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/") as resp:
        assert "Refresh" not in resp.headers
        assert "Cookie" in resp.headers.get("Vary", "")
    async with client.get(proxy.url + "/", headers={"Cookie": cookie_for(proxy.config, ["analytics", "marketing"])}) as resp:
        assert resp.headers.get("Refresh") == f"0; url={GA_URL}"


async def test_a_refresh_header_to_the_site_itself_stays(start_upstream, start_proxy, client):
    upstream = await start_upstream(typed_app([("Content-Type", "text/plain"), ("Refresh", "5; url=/next")], b"wait"))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/") as resp:
        assert resp.headers.get("Refresh") == "5; url=/next"


async def test_a_range_request_for_a_page_gets_the_whole_page_rewritten(start_upstream, start_proxy, client):
    async def handler(request: web.Request) -> web.Response:
        if "Range" in request.headers:
            return web.Response(status=206, body=PAGE[20:80], headers={
                "Content-Type": "text/html", "Content-Range": f"bytes 20-79/{len(PAGE)}"})
        return web.Response(body=PAGE, headers={"Content-Type": "text/html"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/", headers={"Range": "bytes=20-79"}) as resp:
        assert resp.status == 200
        assert "Content-Range" not in resp.headers
        body = await resp.read()
    assert not live(body) and f'data-consent-src="{GA_URL}"'.encode() in body
    # With everything consented nothing must change, so the range passes as it is.
    everything = cookie_for(proxy.config, ["preferences", "analytics", "marketing"])
    async with client.get(proxy.url + "/", headers={"Range": "bytes=20-79", "Cookie": everything}) as resp:
        assert resp.status == 206
        assert await resp.read() == PAGE[20:80]


async def test_no_transform_is_overridden_for_documents_and_logged_once(start_upstream, start_proxy, client, caplog):
    headers = [("Content-Type", "text/html"), ("Cache-Control", "no-transform")]
    upstream = await start_upstream(typed_app(headers, PAGE))
    proxy = await start_proxy(upstream)
    caplog.set_level(logging.INFO, logger="proxy.server.forward")
    from proxy.server import forward

    forward._NO_TRANSFORM_LOGGED.clear()
    for _ in range(3):
        async with client.get(proxy.url + "/") as resp:
            assert not live(await resp.read())
    assert sum("no-transform" in r.getMessage() for r in caplog.records) == 1
    # Non-documents with no-transform pass untouched.
    upstream = await start_upstream(typed_app([("Content-Type", "text/css"), ("Cache-Control", "no-transform")], PAGE))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/") as resp:
        assert await resp.read() == PAGE
