"""Fixtures for the proxy tests: a real aiohttp upstream and the proxy, both on loopback.

``start_upstream(app)`` serves any aiohttp app on a free 127.0.0.1 port;
``start_proxy(upstream_url, **site_changes)`` serves Consentry in front of it with a
zero-config policy (site changes applied with ``model_copy``), a SQLite receipts
store under ``tmp_path`` and the admin listener, and returns a ``Proxy`` handle.
Everything is torn down at the end of the test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from server.server_helpers import make_config

SECRET = "test-secret-for-consentry-server-tests-0123456789"
os.environ.setdefault("CONSENTRY_SECRET", SECRET)

TIMEOUT = aiohttp.ClientTimeout(total=20)


@dataclass
class Proxy:
    url: str
    admin_url: str
    config: Any
    servers: Any
    store: Any

    @property
    def app(self) -> web.Application:
        return self.servers.public.app


@pytest.fixture
async def start_upstream() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


@pytest.fixture
async def start_proxy(tmp_path: Any) -> AsyncIterator[Callable[..., Awaitable[Proxy]]]:
    from proxy.receipts import open_store
    from proxy.server import start_servers

    started: list[tuple[Any, Any]] = []

    async def start(upstream: str, *, config: Any = None, store: Any = "sqlite", proxy_changes: dict[str, Any] | None = None,
                    **site_changes: Any) -> Proxy:
        config = config or make_config(upstream, proxy_changes={"drain_timeout": 1.0, **(proxy_changes or {})}, **site_changes)
        if store == "sqlite":
            store = await open_store(f"sqlite:///{tmp_path}/receipts-{len(started)}.db")
        servers = await start_servers(config, listen=("127.0.0.1", 0), admin_listen=("127.0.0.1", 0), receipts=store)
        started.append((servers, store))
        host, port = servers.public_address
        admin_host, admin_port = servers.admin_address
        return Proxy(f"http://{host}:{port}", f"http://{admin_host}:{admin_port}", config, servers, store)

    yield start
    for servers, store in reversed(started):
        await servers.close()
        if store is not None:
            await store.close()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session
