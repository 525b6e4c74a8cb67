"""Shared helpers for the proxy tests: configs, cookies, upstream apps, raw sockets, a proxy process.

Imported as ``server.server_helpers`` (``tests`` is on pytest's pythonpath).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from proxy.receipts import ReceiptStoreError

def make_config(upstream: str, *, proxy_changes: dict[str, Any] | None = None, **site_changes: Any) -> Any:
    from proxy.policy import default_config

    config = default_config(upstream=upstream)
    site = config.sites["default"].model_copy(update=site_changes)
    proxy = config.proxy.model_copy(update=proxy_changes or {})
    return dataclasses.replace(config, sites={"default": site}, proxy=proxy)


def cookie_for(config: Any, categories: list[str], vendors: dict[str, bool] | None = None) -> str:
    """A valid consent cookie header value for this config's default site."""
    from proxy.consent import KeyRing, issue_token

    site = config.sites["default"]
    token, _ = issue_token(KeyRing.from_specs(config.consent.keys), site=site, categories=categories, vendors=vendors)
    return f"{site.cookie_name}={token}"


def echo_app() -> web.Application:
    """An upstream that answers what it received (method, path, headers, body digest)."""

    async def echo(request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
        body = {
            "method": request.method,
            "path_qs": request.rel_url.raw_path_qs,
            "headers": [[k, v] for k, v in request.headers.items()],
            "sha256": digest.hexdigest(),
            "size": size,
            "chunked": "chunked" in request.headers.get("Transfer-Encoding", ""),
        }
        return web.json_response(body, headers={"Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "1",
                                                "Keep-Alive": "timeout=5", "X-Kept": "yes"})

    app = web.Application(client_max_size=1024**3)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


def headers_of(body: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in body["headers"]:
        out.setdefault(name.lower(), []).append(value)
    return out


async def raw_exchange(url: str, request: bytes, *, read_until_close: bool = False) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 5)
    try:
        writer.write(request)
        await writer.drain()
        if read_until_close:
            return await asyncio.wait_for(reader.read(), 10)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        return head
    finally:
        writer.close()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def plain_app() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html><head></head><body>hi</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    return app


class BrokenStore:
    url = "broken://"

    async def record(self, receipt) -> None:
        raise ReceiptStoreError("disk full")

    def hash_ip(self, ip):
        return "h"

    async def check_writable(self) -> None:
        raise ReceiptStoreError("disk full")

    async def add_impressions(self, counts) -> None:
        pass  # every ReceiptStore takes impressions; here they are dropped

    async def close(self) -> None:
        pass


ROOT = Path(__file__).resolve().parents[2]
def free_port(run: int = 1) -> int:
    """A free loopback port; with ``run`` > 1, the first of that many free ports in a row
    (worker i of N binds its admin listener on admin port + i, and start-up checks them all)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            first = int(sock.getsockname()[1])
        if first + run > 65536:
            continue
        try:
            for offset in range(1, run):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", first + offset))
        except OSError:
            continue
        return first


def write_config(path: Path, upstream: str, port: int, admin_port: int, tmp: Path) -> None:
    path.write_text(
        f"""
[proxy]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin_port}"
drain_timeout = 10

[[consent.keys]]
kid = "k1"
alg = "HS256"
secret = "0123456789abcdef0123456789abcdef0123456789"

[receipts]
url = "sqlite:///{tmp}/receipts.db"

[sites.default]
upstream = "{upstream}"
"""
    )


class ProxyProcess:
    def __init__(self, process: asyncio.subprocess.Process, port: int, admin_port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.admin_url = f"http://127.0.0.1:{admin_port}"

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        # communicate() reads stdout to its end, so the pipe transport is closed here and
        # not by the garbage collector after the loop is gone (an unraisable ResourceWarning).
        try:
            await asyncio.wait_for(self.process.communicate(), 20)
        except TimeoutError:
            self.process.kill()
            await self.process.communicate()
        assert self.process.returncode is not None
        return self.process.returncode


async def start_process(config: Path, port: int, admin_port: int, workers: int = 1) -> ProxyProcess:
    process = await asyncio.create_subprocess_exec(
        # The real command line, as a deployment starts it.
        # No access log: nobody reads this stdout until the end, and a full pipe would block.
        sys.executable, "-m", "proxy", "run", "--config", str(config), "--workers", str(workers), "--access-log", "off",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    assert b"listening on" in line, line
    handle = ProxyProcess(process, port, admin_port)
    # With several workers the announcing one may be ready before the others: wait for health.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for _ in range(100):
            try:
                async with session.get(handle.admin_url + "/healthz") as resp:
                    if resp.status == 200:
                        break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    return handle


def named_app(name: str, gate: asyncio.Event | None = None, arrived: asyncio.Event | None = None) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        if arrived is not None:
            arrived.set()
        if gate is not None and request.path == "/slow":
            await asyncio.wait_for(gate.wait(), 20)
        return web.Response(text=f"<html><head></head><body>{name}</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


async def all_healthy(admin_url: str, workers: int = 2) -> None:
    """Every worker answers /healthz on its admin port (admin port + index): each one has
    finished starting, and its event loop beats (the heartbeat starts before it serves)."""
    base, port = admin_url.rsplit(":", 1)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with asyncio.timeout(60):
            for index in range(workers):
                while True:
                    try:
                        async with session.get(f"{base}:{int(port) + index}/healthz") as resp:
                            if resp.status == 200:
                                break
                    except (aiohttp.ClientError, TimeoutError):
                        pass
                    await asyncio.sleep(0.05)
