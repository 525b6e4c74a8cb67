"""What the proxy's logs do to its serving: a log destination that stops reading never
stalls requests, and a visitor hanging up is not an error.

Real processes and real pipes: ``consentry run`` with its stdout a pipe nobody reads
(shrunk to one page so a few dozen access lines fill it), and a client socket reset in the
same event-loop turn as the upstream's last chunk arrives, the moment that used to log
``ERROR ... error handling GET request`` with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from server.server_helpers import all_healthy, free_port, named_app, write_config

from proxy import loghandoff

ROOT = Path(__file__).resolve().parents[2]
F_SETPIPE_SZ = 1031   # Linux fcntl: set a pipe's capacity (rounded up to a page)
REQUESTS = 300


def small_pipe() -> tuple[int, int]:
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)
    os.set_blocking(read_end, False)
    return read_end, write_end


async def read_until(fd: int, marker: bytes, deadline: float) -> bytes:
    """Read a non-blocking pipe until ``marker`` arrived (or fail at ``deadline``)."""
    data = b""
    while marker not in data:
        assert time.monotonic() < deadline, f"{marker!r} did not arrive; got {data[-300:]!r}"
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            await asyncio.sleep(0.05)
            continue
        assert chunk, f"pipe closed before {marker!r}; got {data[-300:]!r}"
        data += chunk
    return data


def read_blocking(fd: int, marker: bytes, data: bytes) -> bytes:
    deadline = time.monotonic() + 20
    while marker not in data:
        assert time.monotonic() < deadline, data[-500:]
        try:
            data += os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.02)
    return data


@contextlib.asynccontextmanager
async def consentry_with_unread_stdout(config: Path, workers: int) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``consentry run`` whose stdout is a 4 KiB pipe the test reads only when it says so:
    (the process, the pipe's non-blocking read end). On the way out the pipe is drained so
    that the process can flush and exit after SIGTERM."""
    read_end, write_end = small_pipe()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "run", "--config", str(config), "--workers", str(workers),
        cwd=ROOT, stdout=write_end, stderr=asyncio.subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    os.close(write_end)
    try:
        yield process, read_end
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        drained_until = time.monotonic() + 30
        while process.returncode is None and time.monotonic() < drained_until:
            with contextlib.suppress(BlockingIOError):
                os.read(read_end, 65536)   # let the last lines out so it can exit promptly
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 0.1)
        if process.returncode is None:
            process.kill()
            await process.wait()
        os.close(read_end)


@pytest.mark.parametrize("workers", [1, 2])
async def test_an_unread_stdout_pipe_never_stalls_requests(start_upstream, tmp_path, workers):
    upstream = await start_upstream(named_app("logged"))
    config = tmp_path / "consentry.toml"
    port, admin_port = free_port(), free_port(run=workers)
    write_config(config, upstream, port, admin_port, tmp_path)
    async with consentry_with_unread_stdout(config, workers) as (process, read_end):
        await read_until(read_end, b"listening on", time.monotonic() + 60)
        # From here on nobody reads stdout: ~100 bytes per access line, a 4 KiB pipe.
        served = 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            async with asyncio.timeout(120):
                while True:   # the workers may still be binding: until one answers
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/warm-up") as resp:
                            assert resp.status == 200
                        break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
                for index in range(REQUESTS):
                    async with session.get(f"http://127.0.0.1:{port}/page/{index}") as resp:
                        assert resp.status == 200
                        assert "logged" in await resp.text()
                    served += 1
            metrics = ""
            for offset in range(workers):
                async with session.get(f"http://127.0.0.1:{admin_port + offset}/metrics") as resp:
                    metrics += await resp.text()
        assert served == REQUESTS
        assert 'consentry_log_records_dropped_total{log="access"} 0.0' in metrics
        # The pipe was full long before the last request; once read, every line arrives
        # (the queue never overflowed), from every worker.
        lines = await read_until(read_end, f"/page/{REQUESTS - 1} ".encode(), time.monotonic() + 60)
        for index in range(REQUESTS):
            assert f'"GET /page/{index} HTTP/1.1" 200 '.encode() in lines, index
    assert process.returncode == 0


async def test_a_restarted_first_worker_serves_though_nobody_reads_stdout(start_upstream, tmp_path):
    # Worker 0 prints the start-up banner; its replacement prints it again, into a pipe
    # that is full by then. A blocking print stopped the new worker's event loop before it
    # answered anything, and the watchdog replaced it again and again.
    upstream = await start_upstream(named_app("logged"))
    config = tmp_path / "consentry.toml"
    port, admin_port = free_port(), free_port(run=2)
    write_config(config, upstream, port, admin_port, tmp_path)
    async with consentry_with_unread_stdout(config, 2) as (_, read_end):
        banner = await read_until(read_end, b"listening on", time.monotonic() + 60)
        banner += b"" if b"(pid " in banner else await read_until(read_end, b"(pid ", time.monotonic() + 10)
        if b")" not in banner.split(b"(pid ", 1)[1]:
            banner += await read_until(read_end, b")", time.monotonic() + 10)
        first = int(banner.split(b"(pid ", 1)[1].split(b")", 1)[0])
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            await all_healthy(f"http://127.0.0.1:{admin_port}")
            async with asyncio.timeout(120):
                for index in range(REQUESTS):   # ~30 KB of access lines into a 4 KiB pipe nobody reads
                    async with session.get(f"http://127.0.0.1:{port}/page/{index}") as resp:
                        assert resp.status == 200
            os.kill(first, signal.SIGKILL)
            await asyncio.sleep(0.5)
            await all_healthy(f"http://127.0.0.1:{admin_port}", workers=1)   # worker 0's replacement
            for index in range(20):
                async with session.get(f"http://127.0.0.1:{port}/after/{index}") as resp:
                    assert resp.status == 200


def test_a_full_queue_drops_and_counts_and_the_log_says_so_when_it_catches_up():
    read_end, write_end = small_pipe()
    target = logging.StreamHandler(loghandoff.FdStream(write_end))
    target.setFormatter(logging.Formatter("%(message)s"))
    handler = loghandoff.hand_off("test-burst", target, 8)
    logger = logging.getLogger("test.loghandoff.burst")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        burst = threading.Thread(target=lambda: [logger.info("line %d %s", i, "x" * 200) for i in range(300)])
        burst.start()
        burst.join(20)
        # 60 KB into a 4 KiB pipe nobody reads and a queue of 8: the caller never waited.
        assert not burst.is_alive()
        dropped = loghandoff.dropped_counts()["test-burst"]
        assert dropped > 250
        out = read_blocking(read_end, b"log records dropped", b"")
        # The writer caught up: the queue has room again, and a new record gets through.
        logger.info("after the burst")
        out = read_blocking(read_end, b"after the burst", out)
        # What fitted was written in order; every gap was reported (a line each time the
        # writer caught up), and the reports add up to the count; then what followed.
        lines = out.splitlines()
        numbers = [int(line.split()[1]) for line in lines if line.startswith(b"line ")]
        assert numbers[0] == 0 and numbers == sorted(numbers) and len(numbers) + dropped == 300
        assert loghandoff.dropped_counts()["test-burst"] == dropped
        reported = [int(line.split()[0]) for line in lines if line.endswith(b"not reading fast enough")]
        assert reported and sum(reported) == dropped
        assert lines[-1] == b"after the burst"
    finally:
        logger.removeHandler(handler)
        loghandoff.stop("test-burst", 1.0)
        os.close(read_end)
        os.close(write_end)


def test_a_reader_that_has_gone_costs_no_traceback(capfd):
    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = loghandoff.FdStream(write_end)
    stream.write("nobody is reading\n")   # EPIPE: dropped quietly, no exception
    assert stream.broken
    os.close(write_end)
    assert "Traceback" not in capfd.readouterr().err


PAGE = b"<html><head></head><body>" + b"<p>text</p>" * 400 + \
    b'<script src="https://www.google-analytics.com/analytics.js"></script></body></html>'


async def test_a_client_hanging_up_as_the_response_ends_is_logged_without_error(start_proxy, caplog):
    writers: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The whole page in one chunk; the terminating chunk when the test says.
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + b"%x\r\n%s\r\n" % (len(PAGE), PAGE))
            await writers.put(writer)
            await reader.read()

    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    proxy = await start_proxy(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    host, port = proxy.url.removeprefix("http://").split(":")
    caplog.set_level(logging.DEBUG, logger="proxy.server")
    try:
        for _ in range(3):
            client = socket.create_connection((host, int(port)))
            client.setblocking(False)
            # Not a page load (no banner after the document): the rewritten body is
            # complete once the upstream's data is through, and only the end is left.
            client.send(b"GET / HTTP/1.1\r\nHost: site.test\r\nX-Requested-With: XMLHttpRequest\r\n\r\n")
            upstream_writer = await asyncio.wait_for(writers.get(), 20)
            received = b""
            async with asyncio.timeout(20):
                while b"</html>" not in received:
                    with contextlib.suppress(BlockingIOError):
                        received += client.recv(65536)
                    await asyncio.sleep(0.01)
            # In one turn of the loop: the upstream's last chunk arrives and the client resets.
            upstream_writer.write(b"0\r\n\r\n")
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            async with asyncio.timeout(20):
                while not any("client went away" in r.getMessage() for r in caplog.records[-5:]):
                    await asyncio.sleep(0.01)
            upstream_writer.close()
        # The proxy keeps serving.
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            request = asyncio.create_task(session.get(proxy.url + "/", headers={"X-Requested-With": "XMLHttpRequest"}))
            upstream_writer = await asyncio.wait_for(writers.get(), 20)
            upstream_writer.write(b"0\r\n\r\n")
            async with await request as resp:
                assert resp.status == 200
                assert (await resp.read()).endswith(b"</html>")
            upstream_writer.close()
    finally:
        server.close()
    ours = [r for r in caplog.records if r.name.startswith("proxy.server")]
    assert [r for r in ours if r.levelno >= logging.WARNING] == []
    assert [r for r in ours if r.exc_info] == []
    went_away = [r for r in ours if "client went away" in r.getMessage()]
    assert len(went_away) == 3 and all(r.levelno == logging.DEBUG for r in went_away)
    # At least one hang-up hit the end of the response (write_eof), the case that was an ERROR.
    assert any(r.name == "proxy.server.connections" for r in went_away)
