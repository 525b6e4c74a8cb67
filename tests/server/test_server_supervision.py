"""Supervision (issue 15): a worker killed with SIGKILL is replaced, a stuck one is detected by
the watchdog, killed and replaced; both are counted in /metrics. Real processes, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
from server.server_helpers import free_port, named_app, start_process, write_config


def children_of(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def wait_for_children(pid: int, count: int, exclude: set[int] = frozenset()) -> list[int]:
    async with asyncio.timeout(30):
        while True:
            children = children_of(pid)
            if len(children) == count and not (set(children) & exclude):
                return children
            await asyncio.sleep(0.05)


async def restarts(admin_url: str, cause: str) -> float:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with asyncio.timeout(30):
            while True:
                try:
                    async with session.get(admin_url + "/metrics") as resp:
                        text = await resp.text()
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
    line = next(line for line in text.splitlines() if line.startswith(f'consentry_worker_restarts_total{{cause="{cause}"}}'))
    return float(line.rsplit(" ", 1)[1])


async def serves(url: str, times: int = 10) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for _ in range(times):
            async with session.get(url + "/", headers={"Connection": "close"}) as resp:
                assert resp.status == 200


async def start(tmp_path: Path, upstream: str, watchdog: float | None = None):
    config = tmp_path / "consentry.toml"
    port, admin_port = free_port(), free_port()
    write_config(config, upstream, port, admin_port, tmp_path)
    if watchdog is not None:
        text = config.read_text().replace("drain_timeout = 10\n", f"drain_timeout = 10\nwatchdog_timeout = {watchdog}\n")
        config.write_text(text)
    return await start_process(config, port, admin_port, workers=2)


async def test_a_killed_worker_is_replaced_and_counted(start_upstream, tmp_path):
    upstream = await start_upstream(named_app("supervised"))
    proxy = await start(tmp_path, upstream)
    try:
        first, second = await wait_for_children(proxy.process.pid, 2)
        os.kill(second, signal.SIGKILL)
        replaced = await wait_for_children(proxy.process.pid, 2, exclude={second})
        assert first in replaced
        await serves(proxy.url)
        assert await restarts(proxy.admin_url, "signal") == 1.0
    finally:
        assert await proxy.stop() == 0


async def test_a_stuck_worker_is_killed_by_the_watchdog_and_replaced(start_upstream, tmp_path):
    upstream = await start_upstream(named_app("watched"))
    proxy = await start(tmp_path, upstream, watchdog=2)
    try:
        first, second = await wait_for_children(proxy.process.pid, 2)
        os.kill(second, signal.SIGSTOP)      # its event loop stops: no heartbeat
        replaced = await wait_for_children(proxy.process.pid, 2, exclude={second})
        assert first in replaced
        assert not Path(f"/proc/{second}").exists() or "Z" in Path(f"/proc/{second}/stat").read_text().split()[2]
        await serves(proxy.url)
        assert await restarts(proxy.admin_url, "stuck") == 1.0
    finally:
        assert await proxy.stop() == 0
