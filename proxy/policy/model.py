"""The configuration file as typed, validated pydantic models: the global tables and the whole file.

``ConfigFile`` is the whole file as written (it also yields the JSON schema);
``ProxySettings``, ``ConsentSettings`` (with its ``KeySpec`` entries) and
``ReceiptsSettings`` are the global tables; the site tables and the resolved
``SitePolicy`` live in ``site_model.py`` and are re-exported here. Every model
forbids unknown keys, is strict and frozen (``valuetypes.StrictModel``).
Cross-table checks (categories, hosts, secrets) live in ``sites.py`` and
``keyring.py``. Must not depend on aiohttp, mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, PrivateAttr, model_validator

from proxy.defaults import COOKIE_NAME, LIFETIME_DAYS
from proxy.policy import fields as f
from proxy.policy.site_model import (
    Banner,
    Category,
    Rule,
    SiteDefaults,
    SitePolicy,
    SiteSettings,
    Timeouts,
    VendorOverride,
)
from proxy.policy.valuetypes import (
    MAX_LIFETIME_DAYS,
    Address,
    AdminAddress,
    CookieName,
    LifetimeDays,
    Network,
    NonEmpty,
    StrictModel,
)

__all__ = [
    "MAX_LIFETIME_DAYS",
    "Banner",
    "Category",
    "ConfigFile",
    "ConsentSettings",
    "KeySpec",
    "Limits",
    "ProxySettings",
    "ReceiptsSettings",
    "Rule",
    "SiteDefaults",
    "SitePolicy",
    "SiteSettings",
    "Timeouts",
    "VendorOverride",
    "default_receipts_url",
]


# -- [proxy] ---------------------------------------------------------------------


class Limits(StrictModel):
    """What one client, one connection and one response may cost, like a production edge.

    Sizes in bytes, times in seconds, rates per client address and minute. Every
    default is safe for a public site; docs/configuration.md says what each one stops.
    """

    max_header_size: Annotated[int, Field(ge=1024, le=1_048_576)] = 8190
    max_headers: Annotated[int, Field(ge=1, le=10_000)] = 100
    consent_body_size: Annotated[int, Field(ge=1024, le=1_048_576)] = 16_384
    # Upstream pool: connections kept per upstream, and how long a request may wait for one.
    max_connections: Annotated[int, Field(ge=1, le=100_000)] = 1000
    upstream_pool_timeout: Annotated[float, Field(gt=0, le=3600)] = 10.0
    # Client connections: the request head must arrive within header_timeout of its first
    # byte; a request body may be silent for body_timeout; a response the client does not
    # read for send_timeout is cut; an idle keep-alive connection closes after keepalive_timeout.
    header_timeout: Annotated[float, Field(gt=0, le=3600)] = 10.0
    body_timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    send_timeout: Annotated[float, Field(gt=0, le=3600)] = 60.0
    keepalive_timeout: Annotated[float, Field(ge=0, le=3600)] = 15.0
    keepalive_requests: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    # Open connections per client address (trusted proxies are exempt) and in total; the
    # total is also held below the process's open-file limit.
    client_connections: Annotated[int, Field(ge=1, le=1_000_000)] = 128
    total_connections: Annotated[int, Field(ge=1, le=1_000_000)] = 4096
    # Bodies the proxy must read whole or decode: decoded HTML per response, WebSocket messages.
    decoded_body_size: Annotated[int, Field(ge=1_048_576, le=17_179_869_184)] = 104_857_600
    # Verified rewrites kept per worker (all sites together), replayed while a page comes back byte for
    # byte in the same context (docs/performance.md); a page over an eighth is not kept. 0: off.
    replay_cache_size: Annotated[int, Field(ge=0, le=17_179_869_184)] = 16_777_216
    websocket_message_size: Annotated[int, Field(ge=1024, le=1_073_741_824)] = 1_048_576
    # A relayed WebSocket with no frame either way (pings count) for this long is closed
    # (1001): idle sockets must not hold connection slots for good.
    websocket_idle_timeout: Annotated[float, Field(gt=0, le=86_400)] = 300.0
    # Endpoints anyone can post to.
    csp_report_size: Annotated[int, Field(ge=1024, le=1_048_576)] = 16_384
    csp_reports_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 120
    consent_decisions_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 60


class ProxySettings(StrictModel):
    """``[proxy]``: where the proxy listens and how it treats the network around it."""

    # 0.0.0.0 so that a container's published port works without flags.
    listen: Address = "0.0.0.0:8080"
    # /metrics and /healthz stay on loopback unless someone decides otherwise.
    # "off": no admin listener (no /healthz, /readyz, /metrics).
    admin_listen: AdminAddress = "127.0.0.1:9090"
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    timeouts: Timeouts = Timeouts()
    limits: Limits = Limits()
    trusted_proxies: list[Network] = []
    drain_timeout: Annotated[float, Field(ge=0)] = 30.0
    # With several workers: a worker whose event loop sends no heartbeat this long is killed and replaced.
    watchdog_timeout: Annotated[float, Field(ge=2, le=3600)] = 30.0
    # One line per request: "common" (Common Log Format without client address or query),
    # "json", or "off". "text" is the older name of "common".
    access_log: Literal["common", "json", "off", "text"] = "common"

    @property
    def listen_address(self) -> tuple[str, int]:
        return f.split_address(self.listen)

    @property
    def admin_address(self) -> tuple[str, int] | None:
        """None when ``admin_listen = "off"``."""
        return None if self.admin_listen == "off" else f.split_address(self.admin_listen)


# -- [consent] --------------------------------------------------------------------


class KeySpec(StrictModel):
    """One ``[[consent.keys]]`` entry. After loading, ``secret`` / ``private_key`` /
    ``public_key`` hold the material read from the named env var or file."""

    kid: Annotated[str, AfterValidator(f.check_kid)]
    alg: Literal["HS256", "ES256", "EdDSA"] = "HS256"
    secret_env: NonEmpty | None = None
    secret_file: NonEmpty | None = None
    private_key_file: NonEmpty | None = None
    public_key_file: NonEmpty | None = None
    # Inline material: handy for tests and `consentry keys generate`; prefer env vars and files.
    secret: NonEmpty | None = Field(default=None, repr=False)
    private_key: NonEmpty | None = Field(default=None, repr=False)
    public_key: NonEmpty | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        # getattr: the fields are named as data, to name the conflicting ones in the message.
        secrets = [n for n in ("secret", "secret_env", "secret_file") if getattr(self, n) is not None]
        pems = [n for n in ("private_key", "private_key_file", "public_key", "public_key_file") if getattr(self, n)]
        if self.alg == "HS256":
            if pems:
                raise ValueError(f"HS256 uses a shared secret, not {pems[0]}; use alg = \"ES256\" or \"EdDSA\" for key pairs")
            if len(secrets) != 1:
                raise ValueError("HS256 needs exactly one of secret_env, secret_file or secret")
        else:
            if secrets:
                raise ValueError(f"{self.alg} uses a key pair, not {secrets[0]}; give private_key_file and/or public_key_file")
            if not pems:
                raise ValueError(f"{self.alg} needs private_key_file (to sign) or public_key_file (to verify only)")
            for kind in ("private_key", "public_key"):
                if getattr(self, kind) and getattr(self, f"{kind}_file"):
                    raise ValueError(f"give {kind} or {kind}_file, not both")
        return self

    # Set by the loader on the zero-config key when CONSENTRY_SECRET is unset.
    _ephemeral: bool = PrivateAttr(default=False)

    @property
    def can_sign(self) -> bool:
        return self.alg == "HS256" or bool(self.private_key or self.private_key_file)

    @property
    def ephemeral(self) -> bool:
        """True for a random secret made for this process: its cookies die with the process."""
        return self._ephemeral


class ConsentSettings(StrictModel):
    """``[consent]``: the cookie every site uses unless it says otherwise, and the key ring."""

    cookie_name: CookieName = COOKIE_NAME
    lifetime_days: LifetimeDays = LIFETIME_DAYS
    honor_gpc: bool = True
    # Empty: one HS256 key from CONSENTRY_SECRET, as in zero-config mode.
    keys: list[KeySpec] = []


# -- [receipts] -------------------------------------------------------------------


def default_receipts_url() -> str:
    """SQLite in the XDG state directory, so running from any directory keeps one history."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return "sqlite://" + str(Path(state).absolute() / "consentry" / "receipts.db")


class ReceiptsSettings(StrictModel):
    """``[receipts]``: where proof of consent is kept, and the salt that hashes visitor IPs.

    The URL may be written inline (``url``), or read from an environment variable
    (``url_env``) or a file (``url_file``) like the keys and the salt, so a PostgreSQL
    password lives in a secret store and never in the policy file. After loading,
    ``url`` holds the URL in force whichever way it was given.
    """

    url: Annotated[str, AfterValidator(f.check_receipts_url)] = Field(default_factory=default_receipts_url, repr=False)
    url_env: NonEmpty | None = None
    url_file: NonEmpty | None = None
    ip_salt_env: NonEmpty | None = None
    ip_salt_file: NonEmpty | None = None
    # Proof of consent must outlive the consent itself (claims can come later): 3 years.
    retention_days: Annotated[int, Field(ge=1)] = 1095
    # How long one decision may wait for its receipt to be committed, retries of a lost
    # database connection included; after that the visitor gets a 503 and no cookie.
    write_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0
    # Banner impressions are counted in memory and added to the store this often (and at
    # shutdown); an ungraceful kill loses at most this many seconds of impressions.
    impression_flush_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    # Set by the loader: the salt read from ip_salt_env / ip_salt_file.
    _ip_salt: bytes | None = PrivateAttr(default=None)

    @property
    def ip_salt(self) -> bytes | None:
        """The salt for hashing visitor IPs, or None when none is configured."""
        return self._ip_salt

    @property
    def shared(self) -> bool:
        """True for a store several processes or hosts share (PostgreSQL): the mark of a
        deployment with replicas, which must then share their keys and salt too."""
        return self.url.startswith(("postgresql://", "postgres://"))

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.ip_salt_env and self.ip_salt_file:
            raise ValueError("give ip_salt_env or ip_salt_file, not both")
        # getattr: the fields are named as data, to name the conflicting ones in the message.
        given = [name for name in ("url", "url_env", "url_file") if name in self.model_fields_set and getattr(self, name)]
        if len(given) > 1:
            raise ValueError(f"give one of url, url_env or url_file, not {' and '.join(given)}")
        return self


class ConfigFile(StrictModel):
    """The whole TOML file as written (used to validate it and to export the JSON schema)."""

    proxy: ProxySettings = ProxySettings()
    consent: ConsentSettings = ConsentSettings()
    receipts: ReceiptsSettings = Field(default_factory=ReceiptsSettings)
    defaults: SiteDefaults = SiteDefaults()
    sites: dict[str, SiteSettings] = {}
