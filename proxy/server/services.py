"""The per-app state every handler reaches through ``request.app[SERVICES]``.

One ``Services`` object per app holds the config holder, the cache of site runtimes,
the pooled upstream sessions (one keep-alive ``ClientSession`` per upstream origin,
``auto_decompress=False`` so compressed bodies pass through untouched), the receipts
store and the metrics. ``cleanup_ctx`` in ``app.py`` opens and closes it. Sessions for
upstreams that appear after a reload are opened on first use and closed with the rest.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web

from proxy.catalogue import Catalogue
from proxy.policy import Config, ConfigHolder
from proxy.receipts import ReceiptStore
from proxy.server.impressions import ImpressionCounter, ImpressionMetrics
from proxy.server.headers import Network, client_view, parse_networks
from proxy.server.metrics import Metrics
from proxy.server.ratelimit import RateLimiter
from proxy.server.runtime import RuntimeCache, SiteRuntime

log = logging.getLogger(__name__)


ConfigSource = Config | ConfigHolder
"""What the server is started with: a fixed config, or a holder that SIGHUP reloads."""


def current_config(holder: ConfigSource) -> Config:
    """The config in force now: a ConfigHolder's ``current`` one, or a bare Config."""
    return holder if isinstance(holder, Config) else holder.current


class Services:
    def __init__(self, holder: ConfigSource, *, catalogue: Catalogue | None = None,
                 receipts: ReceiptStore | None = None) -> None:
        self.holder = holder
        self.runtimes = RuntimeCache(catalogue)
        self.metrics = Metrics()
        self.receipts = receipts
        self.owns_receipts = False
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.closing = False
        self.impressions = ImpressionCounter()
        self.metrics.registry.register(ImpressionMetrics(self.impressions))
        self._impression_flusher: asyncio.Task[None] | None = None
        # Digests whose texts this process already stored (kept once per process).
        self.kept_texts: set[str] = set()
        self._trusted_for: Config | None = None
        self._trusted: tuple[Network, ...] = ()
        self.limits = self.config().proxy.limits
        self.consent_rate = RateLimiter(self.limits.consent_decisions_per_minute)
        self.csp_rate = RateLimiter(self.limits.csp_reports_per_minute)

    def config(self) -> Config:
        return current_config(self.holder)

    def client_ip(self, request: web.BaseRequest) -> str:
        """The visitor's address for per-client limits (forwarded-for believed from trusted proxies only)."""
        config = self.config()
        if config is not self._trusted_for:
            self._trusted = parse_networks(str(n) for n in config.proxy.trusted_proxies)
            self._trusted_for = config
        return client_view(request.remote, request.headers, request.scheme, request.host, self._trusted).ip

    def session_for(self, runtime: SiteRuntime) -> aiohttp.ClientSession:
        session = self.sessions.get(runtime.upstream_origin)
        if session is None or session.closed:
            session = self._open_session(runtime.limits.max_connections, runtime.limits.max_header_size)
            self.sessions[runtime.upstream_origin] = session
        return session

    @staticmethod
    def _open_session(max_connections: int, max_field_size: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=max_connections,
            keepalive_timeout=30,
            ttl_dns_cache=60,
        )
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,      # compressed bodies pass through as they are
            cookie_jar=aiohttp.DummyCookieJar(),  # never mix one visitor's cookies into another's request
            timeout=aiohttp.ClientTimeout(total=None),
            # Upstreams send long CSP and Set-Cookie lines; allow more than from visitors.
            max_field_size=max(max_field_size, 8190) * 4,
            max_line_size=max(max_field_size, 8190) * 4,
            read_bufsize=64 * 1024,
            skip_auto_headers=(),
            trust_env=False,
        )

    async def open(self) -> None:
        config = self.config()
        limits = config.proxy.limits
        for upstream in self.runtimes.upstreams(config):
            origin = _origin(upstream)
            if origin not in self.sessions:
                self.sessions[origin] = self._open_session(limits.max_connections, limits.max_header_size)
        if self.receipts is None:
            settings = config.receipts
            if settings.url:
                from proxy.receipts import open_store

                self.receipts = await open_store(settings.url, ip_salt=settings.ip_salt, write_timeout=settings.write_timeout)
                self.owns_receipts = True
        if self.receipts is not None:
            interval = config.receipts.impression_flush_seconds
            self._impression_flusher = asyncio.get_running_loop().create_task(
                self.impressions.run_flusher(self.receipts, interval), name="impression-flusher"
            )

    async def close(self) -> None:
        self.closing = True
        for session in list(self.sessions.values()):
            await session.close()
        self.sessions.clear()
        await self.flush_impressions()
        if self.owns_receipts and self.receipts is not None:
            await self.receipts.close()


    async def flush_impressions(self) -> None:
        """Stop the periodic flusher and store what is left (at shutdown, after the drain)."""
        flusher, self._impression_flusher = self._impression_flusher, None
        if flusher is not None:
            flusher.cancel()
            try:
                await flusher
            except asyncio.CancelledError:
                pass
        if self.receipts is not None and hasattr(self.receipts, "add_impressions"):
            if not await self.impressions.flush(self.receipts):
                log.error("impressions: %d impression(s) could not be stored at shutdown and are lost",
                          self.impressions.pending)


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


SERVICES = web.AppKey("services", Services)
