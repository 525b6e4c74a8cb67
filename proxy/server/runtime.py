"""Everything the server precomputes for one site of one config: engine, key ring, limits.

A ``SiteRuntime`` is built the first time a request for a site arrives under a given
``Config`` object and reused until the config holder swaps in a new config (SIGHUP);
requests already running keep the runtime they started with, so a reload never changes
the rules in the middle of a response. The policy model is read duck-typed with the
documented defaults, so this module does not import pydantic. Must not import aiohttp.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from proxy.defaults import CONSENT_PATH
from proxy.engine import Engine
from proxy.server.headers import Network, parse_networks

log = logging.getLogger(__name__)

DEFAULT_CONSENT_PATH = CONSENT_PATH


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0       # longest silence while reading the upstream's response
    total: float | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """``[proxy.limits]`` as the server reads it (the defaults equal the policy model's, tested)."""

    max_header_size: int = 8190      # one header line / field, like nginx's large_client_header_buffers
    max_headers: int = 100
    max_consent_body: int = 16 * 1024
    max_connections: int = 1000      # pooled connections per upstream
    upstream_pool_timeout: float = 10.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    send_timeout: float = 60.0
    keepalive_timeout: float = 15.0
    keepalive_requests: int = 1000
    client_connections: int = 128
    total_connections: int = 4096
    decoded_body_size: int = 100 * 1024 * 1024
    websocket_message_size: int = 1024 * 1024
    csp_report_size: int = 16 * 1024
    csp_reports_per_minute: int = 120
    consent_decisions_per_minute: int = 10
    drain_timeout: float = 30.0      # SIGTERM: how long in-flight requests may finish


_LIMITS = Limits()
_TIMEOUTS = Timeouts()
# Model field -> dataclass field where the names differ.
_RENAMED = {"consent_body_size": "max_consent_body"}


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """The first attribute (or mapping key) among ``names`` that is set on ``obj``."""
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return default


def read_timeouts(site: Any, config: Any) -> Timeouts:
    raw = _get(site, "timeouts")
    if raw is None:
        raw = _get(_get(config, "proxy"), "timeouts")
    if raw is None:
        return Timeouts()
    return Timeouts(
        connect=float(_get(raw, "connect", "connect_seconds", default=_TIMEOUTS.connect)),
        read=float(_get(raw, "read", "read_seconds", default=_TIMEOUTS.read)),
        total=_get(raw, "total", "total_seconds"),
    )


def read_limits(config: Any) -> Limits:
    proxy = _get(config, "proxy")
    raw = _get(proxy, "limits")
    values: dict[str, Any] = {}
    for name in Limits.__dataclass_fields__:
        if name == "drain_timeout":
            continue
        source = next((k for k, v in _RENAMED.items() if v == name), name)
        value = _get(raw, source) if raw is not None else None
        if value is not None:
            values[name] = type(getattr(_LIMITS, name))(value)
    values["drain_timeout"] = float(_get(proxy, "drain_timeout", default=_LIMITS.drain_timeout))
    return Limits(**values)


def make_keyring(config: Any) -> Any:
    from proxy.consent import KeyRing

    specs = _get(_get(config, "consent"), "keys")
    if specs:
        return KeyRing.from_specs(specs)
    import os

    secret = os.environ.get("CONSENTRY_SECRET")
    if not secret:
        raise RuntimeError("no consent keys configured and CONSENTRY_SECRET is not set")
    return KeyRing.single_hs256(secret)


@dataclass(slots=True)
class SiteRuntime:
    site: Any
    site_id: str
    engine: Any
    keyring: Any
    upstream: str            # origin plus optional path prefix, no trailing slash
    upstream_origin: str     # scheme://host[:port], what Location headers are compared with
    upstream_host: str       # host only, what Set-Cookie Domain is compared with
    preserve_host: bool
    consent_path: str
    trusted: tuple[Network, ...]
    timeouts: Timeouts
    limits: Limits
    banner_enabled: bool = True   # banner.enabled: is a banner shown to visitors without a decision


def build_runtime(config: Any, site: Any, *, catalogue: Any = None, keyring: Any = None) -> SiteRuntime:
    upstream = str(_get(site, "upstream", default="")).rstrip("/")
    parts = urlsplit(upstream)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"site {_get(site, 'site_id', default='?')!r}: upstream {upstream!r} is not an http(s) URL")
    consent_path = "/" + str(_get(site, "consent_path", default=DEFAULT_CONSENT_PATH)).strip("/")
    trusted = _get(site, "trusted_proxies") or _get(_get(config, "proxy"), "trusted_proxies") or ()
    return SiteRuntime(
        site=site,
        site_id=str(_get(site, "site_id", default="default")),
        engine=Engine(site, catalogue=catalogue),
        keyring=keyring if keyring is not None else make_keyring(config),
        upstream=upstream,
        upstream_origin=f"{parts.scheme}://{parts.netloc}",
        upstream_host=parts.hostname,
        preserve_host=bool(_get(site, "preserve_host", default=False)),
        consent_path=consent_path,
        trusted=parse_networks(str(n) for n in trusted),
        timeouts=read_timeouts(site, config),
        limits=read_limits(config),
        banner_enabled=bool(_get(_get(site, "banner"), "enabled", default=True)),
    )


class RuntimeCache:
    """Runtimes of the current config; rebuilt (lazily) when the config object changes."""

    def __init__(self, catalogue: Any = None) -> None:
        self._catalogue = catalogue
        self._config: Any = None
        self._keyring: Any = None
        self._sites: dict[str, SiteRuntime] = {}
        self._lock = threading.Lock()
        self._hosts_config: Any = None
        self._hosts: dict[str, Any] = {}

    def site_for_host(self, config: Any, host: str) -> Any:
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

    def get(self, config: Any, site: Any) -> SiteRuntime:
        key = str(_get(site, "site_id", default="default"))
        if config is self._config:
            runtime = self._sites.get(key)
            if runtime is not None and runtime.site is site:
                return runtime
        with self._lock:
            if config is not self._config:
                # Keep the old config referenced until replaced, so `is` stays meaningful.
                self._config, self._sites, self._keyring = config, {}, make_keyring(config)
            runtime = build_runtime(config, site, catalogue=self._catalogue, keyring=self._keyring)
            self._sites[key] = runtime
            return runtime

    def upstreams(self, config: Any) -> list[str]:
        sites = _get(config, "sites", default={})
        values = sites.values() if isinstance(sites, dict) else sites
        return sorted({str(_get(site, "upstream", default="")).rstrip("/") for site in values if _get(site, "upstream")})
