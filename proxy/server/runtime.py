"""Everything the server precomputes for one site of one config: engine, key ring, limits.

A ``SiteRuntime`` is built the first time a request for a site arrives under a given
``Config`` object and reused until the config holder swaps in a new config (SIGHUP);
requests already running keep the runtime they started with, so a reload never changes
the rules in the middle of a response. Reads the policy's typed model (``Config``,
``SitePolicy``; timeouts and limits are the model's own objects, not copies). Must not
import aiohttp.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from proxy.catalogue import Catalogue
from proxy.consent import KeyRing
from proxy.csp.in_use import NecessaryInUse
from proxy.engine import Engine
from proxy.policy import Config, Limits, SitePolicy, Timeouts
from proxy.html.replay import ReplayCache
from proxy.server.headers import Network, parse_networks

log = logging.getLogger(__name__)

def make_keyring(config: Config) -> KeyRing:
    specs = config.consent.keys
    if specs:
        return KeyRing.from_specs(specs)
    import os

    secret = os.environ.get("CONSENTRY_SECRET")
    if not secret:
        raise RuntimeError("no consent keys configured and CONSENTRY_SECRET is not set")
    return KeyRing.single_hs256(secret)


@dataclass(slots=True)
class SiteRuntime:
    site: SitePolicy
    site_id: str
    engine: Engine
    keyring: KeyRing
    upstream: str            # origin plus optional path prefix, no trailing slash
    upstream_origin: str     # scheme://host[:port], what Location headers are compared with
    upstream_prefix: str     # the upstream's path prefix ("" or "/app"), no trailing slash
    upstream_host: str       # host only, what Set-Cookie Domain is compared with
    preserve_host: bool
    consent_path: str
    trusted: tuple[Network, ...]
    timeouts: Timeouts
    limits: Limits
    banner_enabled: bool = True   # banner.enabled: is a banner shown to visitors without a decision
    # The known-necessary services this site's pages use, learned from rewritten pages:
    # what a strict site's consent CSP admits when the whole list does not fit a header.
    necessary_in_use: NecessaryInUse = field(default_factory=NecessaryInUse)
    # Verified rewrites, replayed while the upstream sends the same bytes in the same
    # context (proxy.html.replay): one cache for every site of a config in a worker
    # (Runtimes), limits.replay_cache_size bytes at most; its keys name the site.
    replays: ReplayCache = field(default_factory=lambda: ReplayCache(0))


def build_runtime(config: Config, site: SitePolicy, *, catalogue: Catalogue | None = None,
                  keyring: KeyRing | None = None, replays: ReplayCache | None = None) -> SiteRuntime:
    upstream = str(site.upstream).rstrip("/")
    parts = urlsplit(upstream)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"site {site.site_id!r}: upstream {upstream!r} is not an http(s) URL")
    consent_path = "/" + site.consent_path.strip("/")
    trusted = site.trusted_proxies or config.proxy.trusted_proxies
    return SiteRuntime(
        site=site,
        site_id=site.site_id,
        engine=Engine(site, catalogue=catalogue),
        keyring=keyring if keyring is not None else make_keyring(config),
        upstream=upstream,
        upstream_origin=f"{parts.scheme}://{parts.netloc}",
        upstream_prefix=parts.path,
        upstream_host=parts.hostname,
        preserve_host=site.preserve_host,
        consent_path=consent_path,
        trusted=parse_networks(str(n) for n in trusted),
        timeouts=site.timeouts,
        limits=config.proxy.limits,
        banner_enabled=site.banner.enabled,
        replays=replays if replays is not None else ReplayCache(config.proxy.limits.replay_cache_size),
    )


class RuntimeCache:
    """Runtimes of the current config; rebuilt (lazily) when the config object changes."""

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self._catalogue = catalogue
        self._config: Config | None = None
        self._keyring: KeyRing | None = None
        self._replays: ReplayCache | None = None
        self._sites: dict[str, SiteRuntime] = {}
        self._lock = threading.Lock()
        self._hosts_config: Config | None = None
        self._hosts: dict[str, SitePolicy | None] = {}

    def site_for_host(self, config: Config, host: str) -> SitePolicy | None:
        """``config.site_for_host`` remembered per Host value (parsing it costs on every request)."""
        if config is not self._hosts_config:
            self._hosts_config, self._hosts = config, {}
        try:
            return self._hosts[host]
        except KeyError:
            pass
        site = config.site_for_host(host)
        if len(self._hosts) >= 4096:   # Host is visitor-controlled: keep the table bounded
            self._hosts.clear()
        self._hosts[host] = site
        return site

    def get(self, config: Config, site: SitePolicy) -> SiteRuntime:
        key = site.site_id
        if config is self._config:
            runtime = self._sites.get(key)
            if runtime is not None and runtime.site is site:
                return runtime
        with self._lock:
            if config is not self._config:
                # Keep the old config referenced until replaced, so `is` stays meaningful.
                self._config, self._sites, self._keyring = config, {}, make_keyring(config)
                self._replays = ReplayCache(config.proxy.limits.replay_cache_size)   # a reload starts afresh
            runtime = build_runtime(config, site, catalogue=self._catalogue, keyring=self._keyring,
                                    replays=self._replays)
            self._sites[key] = runtime
            return runtime

    def upstreams(self, config: Config) -> list[str]:
        return sorted({str(site.upstream).rstrip("/") for site in config.sites.values()})
