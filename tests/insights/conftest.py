"""Fixtures for the insights tests: the receipt stores of tests/receipts (SQLite and a real
PostgreSQL), a real upstream on loopback and a proxy started from a TOML policy file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

# The same PostgreSQL cluster and per-test databases as the receipts tests.
from receipts.conftest import backend, store_url  # noqa: F401

PAGE = "<!doctype html><html lang=en><head><title>shop</title></head><body><p>hello</p></body></html>"
SECRET = "0123456789abcdef0123456789abcdef0123456789"


def policy_text(upstream: str, receipts_url: str, salt_file: Path, flush: float = 3600.0) -> str:
    return f"""
[proxy]
drain_timeout = 2

[proxy.limits]
consent_decisions_per_minute = 100000   # one test client posts every decision

[[consent.keys]]
kid = "k1"
secret = "{SECRET}"

[receipts]
url = "{receipts_url}"
ip_salt_file = "{salt_file}"
impression_flush_seconds = {flush}

[sites."shop.test"]
aliases = ["127.0.0.1"]
upstream = "{upstream}"

[[sites."shop.test".banner.variants]]
id = "control"
weight = 1

[[sites."shop.test".banner.variants]]
id = "plain-words"
weight = 1
[sites."shop.test".banner.variants.texts.en]
accept_all = "Yes, count my visit"
reject_all = "No, don't count me"
"""


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


@pytest.fixture
def policy_file(tmp_path: Path, upstream: str, store_url: str) -> Any:  # noqa: F811
    def write(flush: float = 3600.0) -> Path:
        path = tmp_path / "site.toml"
        salt = tmp_path / "ip-salt"
        salt.write_text("insights-test-salt-0123456789abcdef\n", encoding="utf-8")
        path.write_text(policy_text(upstream, store_url, salt, flush), encoding="utf-8")
        return path

    return write
