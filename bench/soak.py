"""Soak: mixed traffic with slow clients against a real `consentry run`, RSS and open fds sampled.

    .venv-test/bin/python bench/soak.py --seconds 300 [--workers 1] [--rate 40]

Starts an aiohttp upstream (HTML, gzip HTML, a binary download, a slow page) in this
process and the proxy as a subprocess, then for ``--seconds`` runs, concurrently:
normal visitors (pages with and without consent cookies), slowloris clients (a request
head a byte at a time, cut by header_timeout), idle keep-alive connections, slow readers
(a large body read 4 KB at a time), clients that hang up mid-body, consent posts (rate
limited) and CSP reports. Every 5 s it prints the proxy's RSS and open file descriptors;
the summary compares the first and the last fifth of the run. Nothing here asserts: the
figures go to docs/security.md. ``tests/server/test_server_soak.py`` runs a short version.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import random
import socket
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
PAGE = (b"<!doctype html><html><head><title>soak</title></head><body>" + b"<p>paragraph</p>" * 3000
        + b'<script async src="https://www.google-analytics.com/analytics.js"></script>'
        + b'<img src="https://www.facebook.com/tr?id=1"></body></html>')
GZ = gzip.compress(PAGE)
BLOB = os.urandom(2 * 1024 * 1024)


def upstream_app() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    async def gz(request: web.Request) -> web.Response:
        return web.Response(body=GZ, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})

    async def blob(request: web.Request) -> web.Response:
        return web.Response(body=BLOB, content_type="application/octet-stream")

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):   # the proxy hangs up when its client did
            for start in range(0, len(PAGE), 8192):
                await response.write(PAGE[start:start + 8192])
                await asyncio.sleep(0.05)
        return response

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/gz", gz)
    app.router.add_get("/blob", blob)
    app.router.add_get("/slow", slow)
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sample(pid: int) -> tuple[float, int]:
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


class Stats:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1


async def visitor(url: str, stop: float, stats: Stats, rate: float) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), auto_decompress=False) as session:
        while time.monotonic() < stop:
            path = random.choice(["/page", "/gz", "/blob", "/slow", "/page"])
            try:
                async with session.get(url + path) as resp:
                    await resp.read()
                    stats.add(f"{path} {resp.status}")
            except (TimeoutError, aiohttp.ClientError) as error:
                stats.add(f"{path} {type(error).__name__}")
            await asyncio.sleep(random.expovariate(rate))


async def raw(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def slowloris(url: str, stop: float, stats: Stats) -> None:
    while time.monotonic() < stop:
        with contextlib.suppress(OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            reader, writer = await raw(url)
            for byte in b"GET /page HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.5)
                if reader.at_eof() or time.monotonic() > stop:
                    break
            stats.add("slowloris cut" if reader.at_eof() else "slowloris done")
            writer.close()


async def idler(url: str, stop: float, stats: Stats) -> None:
    while time.monotonic() < stop:
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            reader, writer = await raw(url)
            data = await asyncio.wait_for(reader.read(100), 120)
            stats.add("idle closed" if data == b"" else "idle answered")
            writer.close()


async def slow_reader(url: str, stop: float, stats: Stats) -> None:
    while time.monotonic() < stop:
        with contextlib.suppress(OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            reader, writer = await raw(url)
            writer.write(b"GET /blob HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            await writer.drain()
            while time.monotonic() < stop:
                if not await reader.read(4096):
                    break
                await asyncio.sleep(0.01)   # a slow reader: 4 KB per 10 ms at most
            stats.add("slow reader done")
            writer.close()


async def aborter(url: str, stop: float, stats: Stats) -> None:
    while time.monotonic() < stop:
        with contextlib.suppress(OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            reader, writer = await raw(url)
            writer.write(random.choice([b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /gz HTTP/1.1\r\nHost: x\r\n\r\n"]))
            await writer.drain()
            await reader.read(3000)
            writer.transport.abort()
            stats.add("aborted mid-body")
        await asyncio.sleep(0.2)


async def poster(url: str, stop: float, stats: Stats) -> None:
    report = json.dumps({"csp-report": {"effective-directive": "img-src", "blocked-uri": "https://t.example/x"}})
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while time.monotonic() < stop:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with session.post(url + "/_consent/", json={"action": random.choice(["accept_all", "reject_all"])}) as resp:
                    stats.add(f"consent {resp.status}")
                async with session.post(url + "/_consent/csp-report", data=report,
                                        headers={"Content-Type": "application/csp-report"}) as resp:
                    stats.add(f"csp {resp.status}")
            await asyncio.sleep(0.5)


async def soak(seconds: float, workers: int, rate: float, out=sys.stdout) -> list[tuple[float, float, int]]:
    runner = web.AppRunner(upstream_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    upstream = f"http://127.0.0.1:{runner.addresses[0][1]}"
    port, admin = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "soak.toml"
        config.write_text(
            f'[proxy]\nlisten = "127.0.0.1:{port}"\nadmin_listen = "127.0.0.1:{admin}"\ndrain_timeout = 2\n'
            "[proxy.limits]\nheader_timeout = 5.0\nkeepalive_timeout = 5.0\nbody_timeout = 5.0\n"
            f'[[consent.keys]]\nkid = "k"\nalg = "HS256"\nsecret = "{"s" * 40}"\n'
            f'[receipts]\nurl = "sqlite:///{tmp}/r.db"\n[sites.default]\nupstream = "{upstream}"\n'
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "proxy", "run", "--config", str(config), "--workers", str(workers),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        await asyncio.wait_for(process.stdout.readline(), 30)

        async def drain() -> None:
            # The access log goes to stdout: an unread pipe would block the proxy at 64 KB.
            while await process.stdout.read(65536):
                pass

        drainer = asyncio.create_task(drain())
        await asyncio.sleep(0.5)
        pid = process.pid
        if workers > 1:
            pid = int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])  # noqa: ASYNC240 (procfs, instant)
        url = f"http://127.0.0.1:{port}"
        stats = Stats()
        stop = time.monotonic() + seconds
        tasks = [asyncio.create_task(visitor(url, stop, stats, rate / 8)) for _ in range(8)]
        tasks += [asyncio.create_task(slowloris(url, stop, stats)) for _ in range(20)]
        tasks += [asyncio.create_task(idler(url, stop, stats)) for _ in range(20)]
        tasks += [asyncio.create_task(slow_reader(url, stop, stats)) for _ in range(3)]
        tasks += [asyncio.create_task(aborter(url, stop, stats)) for _ in range(2)]
        tasks += [asyncio.create_task(poster(url, stop, stats))]
        samples: list[tuple[float, float, int]] = []
        started = time.monotonic()
        print("seconds  rss_mb  open_fds", file=out)
        while time.monotonic() < stop:
            rss, fds = sample(pid)
            samples.append((time.monotonic() - started, rss, fds))
            print(f"{samples[-1][0]:7.0f}  {rss:6.1f}  {fds:8d}", file=out, flush=True)
            await asyncio.sleep(5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(6)    # keep-alive and header timeouts close what the clients left
        rss, fds = sample(pid)
        samples.append((time.monotonic() - started, rss, fds))
        print(f"{samples[-1][0]:7.0f}  {rss:6.1f}  {fds:8d}  (after the traffic stopped)", file=out)
        print("requests:", json.dumps(dict(sorted(stats.counts.items()))), file=out)
        process.terminate()
        await process.wait()
        await drainer
    await runner.cleanup()
    fifth = max(1, len(samples) // 5)
    first, last = samples[1:1 + fifth] or samples[:1], samples[-1 - fifth:-1] or samples[-1:]
    print(f"RSS first fifth {sum(s[1] for s in first) / len(first):.1f} MB, last fifth "
          f"{sum(s[1] for s in last) / len(last):.1f} MB; fds {first[0][2]} -> {samples[-1][2]} after", file=out)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=float, default=40, help="page requests per second, all visitors together")
    args = parser.parse_args()
    samples = asyncio.run(soak(args.seconds, args.workers, args.rate))
    print("SAMPLES " + json.dumps(samples))


if __name__ == "__main__":
    main()
