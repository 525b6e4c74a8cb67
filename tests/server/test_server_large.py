"""200 MB through the proxy (process under test: a real `run`), with its peak memory bounded."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from server.server_helpers import free_port, start_process, write_config

SIZE = 200 * 1024 * 1024
CHUNK = b"<p>" + b"streaming body " * 4000 + b'<img src="https://www.facebook.com/tr?id=1"></p>\n'
# Growth allowed over the idle process: issue 5 asks for under 32 MB.
MAX_GROWTH = 32 * 1024 * 1024


def rss_peak(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def big_app() -> web.Application:
    async def page(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        await response.prepare(request)
        await response.write(b"<!doctype html><html><head><title>big</title></head><body>")
        sent = 0
        while sent < SIZE:
            await response.write(CHUNK)
            sent += len(CHUNK)
        await response.write(b"</body></html>")
        await response.write_eof()
        return response

    async def upload(request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
        return web.json_response({"size": size, "sha256": digest.hexdigest()})

    app = web.Application(client_max_size=SIZE * 2)
    app.router.add_get("/big", page)
    app.router.add_post("/upload", upload)
    return app


@pytest.mark.slow
async def test_200_mb_html_and_upload_stream_with_bounded_memory(start_upstream, tmp_path):
    upstream = await start_upstream(big_app())
    config = tmp_path / "consentry.toml"
    port, admin_port = free_port(), free_port()
    write_config(config, upstream, port, admin_port, tmp_path)
    proxy = await start_process(config, port, admin_port)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
            # Warm up: one small page so imports and pools are in the baseline.
            async with session.get(proxy.url + "/_consent/status") as resp:
                await resp.read()
            baseline = rss_peak(proxy.process.pid)
            received = 0
            live_pixels = 0
            tail = b""
            async with session.get(proxy.url + "/big") as resp:
                assert resp.status == 200
                async for chunk in resp.content.iter_chunked(1 << 20):
                    received += len(chunk)
                    window = tail + chunk
                    live_pixels += window.count(b' src="https://www.facebook.com/tr')
                    tail = window[-64:]
            assert received >= SIZE
            assert live_pixels == 0

            digest = hashlib.sha256()

            async def body():
                block = bytes(range(256)) * 4096
                for _ in range(SIZE // len(block)):
                    digest.update(block)
                    yield block
                    await asyncio.sleep(0)

            async with session.post(proxy.url + "/upload", data=body()) as resp:
                result = await resp.json()
            assert result == {"size": SIZE, "sha256": digest.hexdigest()}
            growth = rss_peak(proxy.process.pid) - baseline
    finally:
        await proxy.stop()
    assert growth < MAX_GROWTH, f"peak RSS grew by {growth / 2**20:.1f} MB"
