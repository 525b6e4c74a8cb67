"""Run the proxy: listeners, signals, workers.

``run(config_or_holder, workers=N)`` serves the public app and the admin app until
SIGTERM/SIGINT, then stops accepting and lets in-flight requests finish for up to
``proxy.drain_timeout`` seconds. SIGHUP re-reads the config file (``holder.reload()``):
a bad file is logged and the running config stays. With N > 1 workers, N forked
processes each bind the same port with SO_REUSEPORT and the kernel spreads
connections across them; worker i serves its own metrics on the admin port + i (scrape
each); the parent forwards signals and waits. uvloop is used when
it is importable. ``start_servers`` is the in-process form the tests use. Nothing here
prints: ``announce`` (the CLI passes ``print``) receives the one line worth showing.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from proxy.server.accesslog import JsonAccessLogger, PrivacyAccessLogger
from proxy.server.admin import make_admin_app
from proxy.server.app import make_app
from proxy.server.runtime import read_limits
from proxy.server.services import current_config

log = logging.getLogger(__name__)

Announce = Callable[[str], Any]


def split_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``:PORT`` (all interfaces)."""
    host, _, port = text.strip().rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def _address(value: Any) -> tuple[str, int]:
    if isinstance(value, tuple):
        return value[0], int(value[1])
    return split_listen(str(value))


@dataclass(slots=True)
class Servers:
    """The two running listeners of one process."""

    public: web.AppRunner
    admin: web.AppRunner | None
    public_address: tuple[str, int]
    admin_address: tuple[str, int] | None

    async def close(self) -> None:
        # Public first: stop accepting, drain in-flight requests, then drop the admin port.
        await self.public.cleanup()
        if self.admin is not None:
            await self.admin.cleanup()


def _bound(runner: web.AppRunner) -> tuple[str, int]:
    address = runner.addresses[0]
    return str(address[0]), int(address[1])


async def start_servers(
    holder: Any,
    *,
    listen: tuple[str, int],
    admin_listen: tuple[str, int] | None,
    reuse_port: bool = False,
    catalogue: Any = None,
    receipts: Any = None,
) -> Servers:
    config = current_config(holder)
    limits = read_limits(config)
    json_log = getattr(getattr(config, "proxy", None), "access_log", "text") == "json"
    app = make_app(holder, catalogue=catalogue, receipts=receipts)
    public = web.AppRunner(
        app,
        # A client that hangs up cancels its handler, and so its upstream request.
        handler_cancellation=True,
        shutdown_timeout=limits.drain_timeout,
        access_log_class=JsonAccessLogger if json_log else PrivacyAccessLogger,
        access_log=logging.getLogger("consentry.access"),
        max_line_size=limits.max_header_size,
        max_field_size=limits.max_header_size,
        max_headers=limits.max_headers,
    )
    await public.setup()
    await web.TCPSite(public, listen[0], listen[1], reuse_port=reuse_port or None, backlog=1024).start()
    admin = None
    admin_address = None
    if admin_listen is not None:
        admin = web.AppRunner(make_admin_app(app), access_log=None)
        await admin.setup()
        await web.TCPSite(admin, admin_listen[0], admin_listen[1], reuse_port=reuse_port or None).start()
        admin_address = _bound(admin)
    return Servers(public, admin, _bound(public), admin_address)


async def _reload(holder: Any) -> None:
    reload = getattr(holder, "reload", None)
    if reload is None:
        log.info("SIGHUP ignored: started without a configuration file")
        return
    try:
        result = reload()
        if inspect.isawaitable(result):
            result = await result
    except Exception:
        log.exception("configuration reload failed; still serving the previous configuration")
        return
    if result:
        log.error("configuration reload refused; still serving the previous configuration")


async def serve(
    holder: Any,
    *,
    listen: tuple[str, int],
    admin_listen: tuple[str, int] | None,
    reuse_port: bool = False,
    announce: Announce | None = None,
    catalogue: Any = None,
) -> None:
    """Serve until SIGTERM/SIGINT; SIGHUP reloads."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reloads: set[asyncio.Task[None]] = set()

    def on_hup() -> None:
        task = loop.create_task(_reload(holder))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, on_hup)
    servers = await start_servers(holder, listen=listen, admin_listen=admin_listen, reuse_port=reuse_port,
                                  catalogue=catalogue)
    # Everything loaded so far (policy, catalogue, modules) lives as long as the process:
    # keep the garbage collector from re-scanning it on every full collection.
    gc.collect()
    gc.freeze()
    host, port = servers.public_address
    message = f"consentry listening on http://{host}:{port}/"
    if servers.admin_address:
        message += f" (admin http://{servers.admin_address[0]}:{servers.admin_address[1]}/metrics)"
    log.info("%s, pid %d", message, os.getpid())
    if announce is not None:
        announce(message)
    await stop.wait()
    log.info("draining in-flight requests (pid %d)", os.getpid())
    await servers.close()
    for task in list(reloads):
        task.cancel()


def _event_loop_runner() -> Callable[[Any], Any]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    runner: Callable[[Any], Any] = uvloop.run
    return runner


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def run(
    config_or_holder: Any,
    *,
    workers: int | None = None,
    listen: str | tuple[str, int] | None = None,
    admin_listen: str | tuple[str, int] | None = None,
    announce: Announce | None = None,
    config_path: str | os.PathLike[str] | None = None,
) -> int:
    """Serve the proxy in the foreground until SIGTERM/SIGINT (what ``consentry run`` calls).

    ``config_or_holder`` is a ConfigHolder, or a Config; with a Config and
    ``config_path`` a holder is made for that file so SIGHUP can re-read it.
    Returns the exit status (0 after a clean drain).
    """
    holder = config_or_holder
    if config_path is not None and not hasattr(holder, "reload"):
        from proxy.policy import ConfigHolder

        holder = ConfigHolder(config_path)
    config = current_config(holder)
    proxy = getattr(config, "proxy", None)
    public = _address(listen if listen is not None else getattr(proxy, "listen", "127.0.0.1:8080"))
    admin = _address(admin_listen if admin_listen is not None else getattr(proxy, "admin_listen", "127.0.0.1:9090"))
    count = workers if workers is not None else int(getattr(proxy, "workers", 1) or 1)
    runner = _event_loop_runner()
    if count <= 1:
        runner(serve(holder, listen=public, admin_listen=admin, announce=announce))
        return 0
    # Port 0 would give every worker its own port: pick one free port for all of them.
    if public[1] == 0:
        public = (public[0], _free_port(public[0]))
    children: list[int] = []
    for index in range(count):
        # Each worker has its own admin port (admin port + index): a shared one would
        # answer each scrape from a random worker and make every counter jump around.
        worker_admin = (admin[0], admin[1] + index if admin[1] else 0)
        pid = os.fork()
        if pid == 0:   # worker: serve, then leave without running the parent's atexit hooks
            code = 0
            try:
                runner(serve(holder, listen=public, admin_listen=worker_admin, reuse_port=True,
                             announce=announce if index == 0 else None))
            except BaseException:
                log.exception("worker %d failed", index)
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    log.info("started %d workers on %s:%d: %s", count, public[0], public[1], children)

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM if signum == signal.SIGINT else signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    remaining = set(children)
    worst = 0
    while remaining:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        remaining.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            worst = worst or 1
            log.error("worker %d exited with status %d", pid, code)
    return worst
