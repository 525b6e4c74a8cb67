"""Supervision (issue 15): a worker killed with SIGKILL is replaced, a stuck one is detected by
the watchdog, killed and replaced; both are counted in /metrics. Real processes, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
from server.server_helpers import all_healthy, free_port, named_app, start_process, write_config


def children_of(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def gone(pid: int) -> bool:
    """Exited: no such process any more, or a zombie its parent has not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


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
    # Worker i listens for admin on admin port + i: both must be free, or the second
    # worker cannot bind and the whole server stops.
    port, admin_port = free_port(), free_port(run=2)
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
        await all_healthy(proxy.admin_url)
        os.kill(second, signal.SIGKILL)
        replaced = await wait_for_children(proxy.process.pid, 2, exclude={second})
        assert first in replaced
        await all_healthy(proxy.admin_url)   # the replacement has started (a busy machine is slow at it)
        await serves(proxy.url)
        assert await restarts(proxy.admin_url, "signal") == 1.0
    finally:
        assert await proxy.stop() == 0


async def test_a_stuck_worker_is_killed_by_the_watchdog_and_replaced(start_upstream, tmp_path):
    upstream = await start_upstream(named_app("watched"))
    # 3 s: long enough that the healthy worker's idle loop (one beat a second) is never
    # taken for stuck on a loaded machine, short enough to keep the test quick.
    proxy = await start(tmp_path, upstream, watchdog=3)
    try:
        first, second = await wait_for_children(proxy.process.pid, 2)
        # Both serve (and beat): a worker still starting gets the start-up allowance instead.
        await all_healthy(proxy.admin_url)
        os.kill(second, signal.SIGSTOP)      # its event loop stops: no heartbeat
        replaced = await wait_for_children(proxy.process.pid, 2, exclude={second})
        assert first in replaced
        assert gone(second)
        await all_healthy(proxy.admin_url)
        await serves(proxy.url)
        assert await restarts(proxy.admin_url, "stuck") == 1.0
    finally:
        assert await proxy.stop() == 0


def test_the_watchdog_allows_a_starting_worker_more_time_than_a_serving_one():
    """A worker beats only once it serves: before its first beat it has the start-up
    allowance (a slow start on a busy machine is not a stuck loop), after it the watchdog
    timeout. Real child processes, really killed."""
    import subprocess
    import sys
    import time

    from proxy.server import supervisor as sv

    watch = sv.Supervisor(1, start_worker=lambda index: 0, watchdog_timeout=2.0)
    slot = watch.slots[0]
    children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]) for _ in range(2)]
    try:
        slot.pid = children[0].pid
        watch.board.clear(0)
        slot.started = time.monotonic() - 10          # silent for 10 s, but never beat yet
        watch._watch()
        assert not slot.killed_as_stuck and children[0].poll() is None
        slot.started = time.monotonic() - sv.STARTUP_ALLOWANCE - 1
        watch._watch()
        assert slot.killed_as_stuck
        assert children[0].wait(10) == -signal.SIGKILL

        slot.pid, slot.killed_as_stuck, slot.started = children[1].pid, False, time.monotonic()
        watch.board.beat(0)                           # serving: beats once a second
        watch._watch()
        assert not slot.killed_as_stuck and children[1].poll() is None
        sv._SLOT.pack_into(watch.board._map, 0, time.monotonic() - 3)   # its last beat 3 s ago
        watch._watch()
        assert slot.killed_as_stuck
        assert children[1].wait(10) == -signal.SIGKILL
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
