"""The real command line: `consentry run` with two workers counts every impression across a
SIGTERM restart (each worker flushes after draining), and a SIGKILL loses at most what was
counted since the last flush (here: a short flush interval, so nothing after it)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from proxy.receipts import open_store
from server.server_helpers import free_port, start_process

VARIANT = re.compile(r'data-consentry-variant="([a-z0-9-]+)"')


def with_listen(path: Path, port: int, admin_port: int) -> Path:
    text = path.read_text(encoding="utf-8").replace(
        "[proxy]\n", f'[proxy]\nlisten = "127.0.0.1:{port}"\nadmin_listen = "127.0.0.1:{admin_port}"\n', 1
    )
    path.write_text(text, encoding="utf-8")
    return path


async def views(client: aiohttp.ClientSession, url: str, count: int, seen: dict[str, int]) -> None:
    for _ in range(count):
        async with client.get(url + "/") as resp:
            (variant,) = VARIANT.findall(await resp.text())
        seen[variant] = seen.get(variant, 0) + 1


async def stored(store_url: str) -> dict[str | None, int]:
    store = await open_store(store_url)
    try:
        return {r.variant: r.count for r in await store.impression_counts("shop.test")}
    finally:
        await store.close()


async def test_two_workers_restart_with_every_impression_counted(policy_file: Any, client: aiohttp.ClientSession, store_url: str) -> None:
    seen: dict[str, int] = {}
    for round_number in range(2):
        port, admin_port = free_port(), free_port()
        path = with_listen(policy_file(flush=3600.0), port, admin_port)
        proxy = await start_process(path, port, admin_port, workers=2)
        try:
            await views(client, proxy.url, 40, seen)
        finally:
            assert await proxy.stop() == 0
        assert await stored(store_url) == seen, f"after run {round_number + 1}"
    # `consentry insights` reports exactly what was served.
    result = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "insights", "--config", str(path), "--format", "json",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await result.communicate()
    report = json.loads(out)
    assert {v["id"]: v["impressions"] for v in report["variants"] if v["id"]} == seen


async def test_sigkill_loses_at_most_one_flush_interval(policy_file: Any, client: aiohttp.ClientSession, store_url: str) -> None:
    port, admin_port = free_port(), free_port()
    path = with_listen(policy_file(flush=0.2), port, admin_port)
    proxy = await start_process(path, port, admin_port)
    seen: dict[str, int] = {}
    try:
        await views(client, proxy.url, 25, seen)
        for _ in range(100):   # bounded: the 0.2 s flusher has run at least once after the views
            if await stored(store_url) == seen:
                break
            await asyncio.sleep(0.1)
        proxy.process.send_signal(signal.SIGKILL)
    finally:
        await proxy.stop()
    assert await stored(store_url) == seen
