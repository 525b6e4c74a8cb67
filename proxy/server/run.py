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
import errno
import gc
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from proxy.server import connections, supervisor
from proxy.server.accesslog import JsonAccessLogger, PrivacyAccessLogger
from proxy.server.admin import make_admin_app
from proxy.server.app import make_app
from proxy.server.headers import parse_networks
from proxy.catalogue import Catalogue
from proxy.policy import Config, ConfigHolder
from proxy.receipts import ReceiptStore
from proxy.server.services import SERVICES, ConfigSource, current_config

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


class ListenError(Exception):
    """A listener could not bind: says which option, the address, why and the fix."""

    def __init__(self, option: str, address: tuple[str, int], reason: str) -> None:
        host, port = address
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        fix = {
            "--listen": "pick another with --listen HOST:PORT (or [proxy] listen)",
            "--admin-listen": "pick another with --admin-listen HOST:PORT, or --admin-listen off (or [proxy] admin_listen)",
        }[option]
        if "in use" in reason:
            fix = f"another process (another consentry?) has it; {fix}"
        super().__init__(f"{option} {shown}: {reason}; {fix}")
        self.option, self.address, self.reason = option, address, reason


def _bind_reason(error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return "address already in use"
    if error.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    if error.errno == errno.EADDRNOTAVAIL:
        return "no such address on this machine"
    return error.strerror or str(error)


def check_free(option: str, address: tuple[str, int]) -> None:
    """Raise ListenError when ``address`` cannot be bound now (port 0 always can).

    Bound without SO_REUSEPORT, so a running consentry whose workers share the port with
    SO_REUSEPORT is seen too (otherwise a second instance would silently split traffic).
    """
    host, port = address
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        infos = socket.getaddrinfo(host or None, port, family, socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ListenError(option, address, f"cannot resolve {host!r} ({error.strerror})") from None
    with socket.socket(infos[0][0], socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(infos[0][4])
        except OSError as error:
            raise ListenError(option, address, _bind_reason(error)) from None


ACCESS_LOGGERS: dict[str, type[PrivacyAccessLogger] | None] = {
    "common": PrivacyAccessLogger,
    "text": PrivacyAccessLogger,
    "json": JsonAccessLogger,
    "off": None,
}


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
    holder: ConfigSource,
    *,
    listen: tuple[str, int],
    admin_listen: tuple[str, int] | None,
    reuse_port: bool = False,
    catalogue: Catalogue | None = None,
    receipts: ReceiptStore | None = None,
    access_log: str | None = None,
) -> Servers:
    """Start the public and (unless ``admin_listen`` is None) the admin listener.

    ``access_log`` is "common", "json" or "off" (default: ``[proxy] access_log``).
    Raises ListenError when a port cannot be bound; nothing is left listening then.
    """
    config = current_config(holder)
    limits = config.proxy.limits
    mode = access_log or config.proxy.access_log
    logger_class = ACCESS_LOGGERS.get(mode, PrivacyAccessLogger)
    app = make_app(holder, catalogue=catalogue, receipts=receipts)
    access: dict[str, Any] = (
        {"access_log_class": logger_class, "access_log": logging.getLogger("consentry.access")}
        if logger_class is not None else {"access_log": None}
    )
    public = web.AppRunner(
        app,
        keepalive_timeout=limits.keepalive_timeout,
        # A client that hangs up cancels its handler, and so its upstream request.
        handler_cancellation=True,
        shutdown_timeout=config.proxy.drain_timeout,
        max_line_size=limits.max_header_size,
        max_field_size=limits.max_header_size,
        max_headers=limits.max_headers,
        **access,
    )
    await public.setup()
    services = app[SERVICES]
    trusted = config.proxy.trusted_proxies
    connections.install(public, connections.ConnectionGuard(
        header_timeout=limits.header_timeout,
        body_timeout=limits.body_timeout,
        client_connections=limits.client_connections,
        # Leave file descriptors for upstream connections, the receipts store and logs.
        total_connections=connections.file_limit_cap(limits.total_connections, reserve=64),
        trusted=parse_networks(str(n) for n in trusted),
        on_event=services.metrics.connection_event,
    ))
    try:
        await web.TCPSite(public, listen[0], listen[1], reuse_port=reuse_port or None, backlog=1024).start()
    except OSError as error:
        await public.cleanup()
        raise ListenError("--listen", listen, _bind_reason(error)) from None
    admin = None
    admin_address = None
    if admin_listen is not None:
        admin = web.AppRunner(make_admin_app(app), access_log=None)
        await admin.setup()
        try:
            await web.TCPSite(admin, admin_listen[0], admin_listen[1], reuse_port=reuse_port or None).start()
        except OSError as error:
            await admin.cleanup()
            await public.cleanup()
            raise ListenError("--admin-listen", admin_listen, _bind_reason(error)) from None
        admin_address = _bound(admin)
    return Servers(public, admin, _bound(public), admin_address)


async def _reload(holder: ConfigSource) -> None:
    if not isinstance(holder, ConfigHolder):
        log.info("SIGHUP ignored: started without a configuration file")
        return
    try:
        holder.reload()
    except Exception:
        log.exception("configuration reload failed; still serving the previous configuration")
    # A refused reload (``result`` lists the problems) was logged, once, by the holder.


def _url(address: tuple[str, int]) -> str:
    host, port = address
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _redacted(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return "(invalid URL)"
    return url.replace(f":{password}@", ":***@", 1) if password else url


def banner(holder: ConfigSource, servers: Servers, *, access_log: str | None = None) -> list[str]:
    """The start-up lines: where visitors connect, the upstreams, admin, policy, receipts, log."""
    config = current_config(holder)
    from proxy import __version__

    path = holder.path if isinstance(holder, ConfigHolder) else None
    sites = config.sites
    lines = [f"consentry {__version__} listening on {_url(servers.public_address)} (pid {os.getpid()})"]
    for site_id, site in sites.items():
        hosts = ", ".join(site.hosts) or "every host"
        lines.append(f"  upstream   {site.upstream}  (site {site_id}: {hosts})")
    if servers.admin_address:
        lines.append(f"  admin      {_url(servers.admin_address)}  (/healthz /readyz /metrics)")
    else:
        lines.append("  admin      off")
    if path is not None:
        lines.append(f"  policy     {path}  ({len(sites)} site{'s' if len(sites) != 1 else ''}; kill -HUP {os.getpid()} re-reads it)")
    else:
        ephemeral = any(key.ephemeral for key in config.consent.keys)
        lines.append("  policy     zero-config (built-in defaults; "
                     + ("random cookie key: set CONSENTRY_SECRET so consent survives a restart)" if ephemeral
                        else "cookie key from CONSENTRY_SECRET)"))
    receipts = config.receipts.url
    lines.append(f"  receipts   {_redacted(receipts) if receipts else 'none'}")
    mode = access_log or config.proxy.access_log
    lines.append(f"  access log {'common' if mode == 'text' else mode}")
    return lines


async def serve(
    holder: ConfigSource,
    *,
    listen: tuple[str, int],
    admin_listen: tuple[str, int] | None,
    reuse_port: bool = False,
    announce: Announce | None = None,
    catalogue: Catalogue | None = None,
    access_log: str | None = None,
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
                                  catalogue=catalogue, access_log=access_log)
    # Everything loaded so far (policy, catalogue, modules) lives as long as the process:
    # keep the garbage collector from re-scanning it on every full collection.
    gc.collect()
    gc.freeze()
    lines = banner(holder, servers, access_log=access_log)
    # The log gets one line (the whole banner goes to the operator through announce).
    log.info("%s; %s", lines[0], "; ".join(" ".join(line.split()) for line in lines[1:]))
    if announce is not None:
        announce("\n".join(lines))
    beating = supervisor.current
    heart: asyncio.TimerHandle | None = None
    if beating is not None:
        board, index = beating

        def beat() -> None:
            # Runs on this worker's loop: a blocked loop stops beating and the watchdog acts.
            nonlocal heart
            board.beat(index)
            heart = loop.call_later(1.0, beat)

        beat()
    await stop.wait()
    if heart is not None:
        heart.cancel()
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
    config_or_holder: ConfigSource,
    *,
    workers: int | None = None,
    listen: str | tuple[str, int] | None = None,
    admin_listen: str | tuple[str, int] | bool | None = None,
    announce: Announce | None = None,
    config_path: str | os.PathLike[str] | None = None,
    access_log: str | None = None,
) -> int:
    """Serve the proxy in the foreground until SIGTERM/SIGINT (what ``consentry run`` calls).

    ``config_or_holder`` is a ConfigHolder, or a Config; with a Config and
    ``config_path`` a holder is made for that file so SIGHUP can re-read it.
    ``admin_listen`` None means ``[proxy] admin_listen``; False (or "off") means none.
    Returns the exit status (0 after a clean drain); raises ListenError when a port is taken.
    """
    holder = config_or_holder
    if config_path is not None and isinstance(holder, Config):
        holder = ConfigHolder(config_path)
    config = current_config(holder)
    settings = config.proxy
    public = _address(listen if listen is not None else settings.listen)
    admin_setting = admin_listen if admin_listen is not None else settings.admin_listen
    admin = None if admin_setting in (False, "off") else _address(admin_setting)
    count = workers if workers is not None else settings.workers
    check_free("--listen", public)
    if admin is not None:
        for index in range(count):
            check_free("--admin-listen", (admin[0], admin[1] + index if admin[1] else 0))
    runner = _event_loop_runner()
    if count <= 1:
        runner(serve(holder, listen=public, admin_listen=admin, announce=announce, access_log=access_log))
        return 0
    watchdog = settings.watchdog_timeout
    # Drawn here, before the fork, so every worker hashes IPs with the same fallback salt.
    import proxy.receipts.base  # noqa: F401

    # Port 0 would give every worker its own port: pick one free port for all of them.
    if public[1] == 0:
        public = (public[0], _free_port(public[0]))
    def start_worker(index: int) -> int:
        # Each worker has its own admin port (admin port + index): a shared one would
        # answer each scrape from a random worker and make every counter jump around.
        worker_admin = None if admin is None else (admin[0], admin[1] + index if admin[1] else 0)
        try:
            runner(serve(holder, listen=public, admin_listen=worker_admin, reuse_port=True,
                         announce=announce if index == 0 else None, access_log=access_log))
        except ListenError as error:
            log.error("worker %d: %s", index, error)
            return supervisor.EXIT_DO_NOT_RESTART
        except BaseException:
            log.exception("worker %d failed", index)
            return 1
        return 0

    log.info("starting %d workers on %s:%d (watchdog %ss)", count, public[0], public[1], watchdog)
    return supervisor.Supervisor(count, start_worker, watchdog_timeout=watchdog).run()
