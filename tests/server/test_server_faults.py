"""Fault injection (issue 15): what a visitor gets when the parts around the proxy misbehave.

Raw upstreams write exactly the bytes of the fault (a TCP reset mid-body, a slow drip, a
gzip stream cut short); the receipts store fails; the checks are on what the client sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import struct

import aiohttp
import pytest
from server.server_helpers import BrokenStore, plain_app

from proxy.policy.site_model import Timeouts

PAGE = (b"<html><head></head><body>" + b"<p>text</p>" * 2000
        + b'<script src="https://www.google-analytics.com/analytics.js"></script></body></html>')


async def raw_upstream(script):
    """An upstream whose answer is written by ``script(writer)`` after the request head."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await script(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", server


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST instead of FIN (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream"])
async def test_an_upstream_reset_mid_body_cuts_the_client_response(start_proxy, client, content_type):
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(PAGE)}\r\n\r\n".encode())
        writer.write(PAGE[:5000])
        await writer.drain()
        await asyncio.sleep(0.1)
        reset(writer)

    url, server = await raw_upstream(script)
    try:
        proxy = await start_proxy(url)
        async with client.get(proxy.url + "/") as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()     # never passed off as a complete page
        async with client.get(proxy.admin_url + "/metrics") as resp:
            assert 'consentry_upstream_errors_total{kind="body",site="default"} 1.0' in await resp.text()
    finally:
        server.close()
        await server.wait_closed()


async def test_a_slow_drip_within_the_read_timeout_arrives_whole_and_rewritten(start_proxy, client):
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(PAGE)}\r\n\r\n".encode())
        for start in range(0, len(PAGE), 2000):
            writer.write(PAGE[start:start + 2000])
            await writer.drain()
            await asyncio.sleep(0.02)

    url, server = await raw_upstream(script)
    try:
        proxy = await start_proxy(url, timeouts=Timeouts(connect=1.0, read=2.0))
        async with client.get(proxy.url + "/") as resp:
            body = await resp.read()
        assert body.endswith(b"</html>") or b"</noscript>" in body[-2000:]
        assert b'data-consent-src="https://www.google-analytics.com/analytics.js"' in body
    finally:
        server.close()
        await server.wait_closed()


async def test_a_drip_slower_than_the_read_timeout_is_cut(start_proxy, client):
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(PAGE)}\r\n\r\n".encode())
        writer.write(PAGE[:100])
        await writer.drain()
        await asyncio.sleep(5)

    url, server = await raw_upstream(script)
    try:
        proxy = await start_proxy(url, timeouts=Timeouts(connect=1.0, read=0.5))
        async with client.get(proxy.url + "/") as resp:
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
    finally:
        server.close()
        await server.wait_closed()


async def test_a_truncated_gzip_page_is_cut_not_completed(start_proxy, client):
    compressed = gzip.compress(PAGE)
    cut = compressed[: len(compressed) // 2]

    async def script(writer: asyncio.StreamWriter) -> None:
        # The framing says the body is complete; only the gzip stream inside is cut.
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                     + f"Content-Length: {len(cut)}\r\nConnection: close\r\n\r\n".encode() + cut)
        await writer.drain()

    url, server = await raw_upstream(script)
    try:
        proxy = await start_proxy(url)
        async with client.get(proxy.url + "/") as resp:
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
    finally:
        server.close()
        await server.wait_closed()


async def test_receipts_store_down_no_consent_without_proof_and_pages_still_served(start_upstream, start_proxy, client):
    upstream = await start_upstream(plain_app())
    proxy = await start_proxy(upstream, store=BrokenStore())
    async with client.post(proxy.url + "/_consent/", json={"action": "accept_all"}) as resp:
        assert resp.status == 503
        assert "Set-Cookie" not in resp.headers
    async with client.post(proxy.url + "/_consent/", data={"action": "accept_all", "return_to": "/"},
                           allow_redirects=False) as resp:
        assert resp.status == 503 and "Set-Cookie" not in resp.headers
    for _ in range(3):
        async with client.get(proxy.url + "/page") as resp:
            assert resp.status == 200
            assert b"hi" in await resp.read()
    async with client.get(proxy.url + "/_consent/status") as resp:
        assert (await resp.json())["categories"] == ["necessary"]
