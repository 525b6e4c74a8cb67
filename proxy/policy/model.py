"""The configuration file as typed, validated pydantic models (one model per TOML table).

``ConfigFile`` is the whole file as written; ``SiteDefaults`` / ``SiteSettings``
are one ``[defaults]`` / ``[sites."<host>"]`` table; ``SitePolicy`` is a site
after inheritance (built-ins, then ``[defaults]``, then the site's table), which
is what the rest of Consentry reads. Every model forbids unknown keys and is
strict (a string is not silently taken for a number) and frozen (a loaded
configuration can be shared by concurrent requests). Cross-table checks (unknown
categories, duplicate hosts, secrets) live in ``loader.py``. Must not depend on
aiohttp, mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

from proxy.policy import fields as f
from proxy.policy.builtin import BUILTIN_LANGUAGES

__all__ = [
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

MAX_LIFETIME_DAYS = 395  # 13 months: the longest consent lifetime EU regulators (CNIL) accept


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _max_lifetime(days: int) -> int:
    if days > MAX_LIFETIME_DAYS:
        raise ValueError(f"{days} days is longer than the maximum of {MAX_LIFETIME_DAYS} (13 months)")
    if days < 1:
        raise ValueError(f"{days} is not a number of days; use 1 to {MAX_LIFETIME_DAYS}")
    return days


def _version_text(value: object) -> object:
    # policy_version = 2 is as natural to write as "2"; both mean the same version.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Seconds = Annotated[float, Field(gt=0)]
Upstream = Annotated[str, AfterValidator(f.check_upstream)]
Address = Annotated[str, AfterValidator(f.check_address)]
Network = Annotated[str, AfterValidator(f.check_network)]
CookieName = Annotated[str, AfterValidator(f.check_cookie_name)]
Language = Annotated[str, AfterValidator(f.check_language)]
LifetimeDays = Annotated[int, AfterValidator(_max_lifetime)]
PageURL = Annotated[str, AfterValidator(f.check_page_url)]
ConsentPath = Annotated[str, AfterValidator(f.check_consent_path)]
RuleHost = Annotated[str, AfterValidator(f.check_rule_host)]
ScriptSignature = Annotated[str, AfterValidator(f.check_script_signature)]
PolicyVersion = Annotated[str, BeforeValidator(_version_text), Field(min_length=1)]
ThemeName = Annotated[str, AfterValidator(f.check_theme_name)]
ThemeValue = Annotated[str, AfterValidator(f.check_theme_value)]
NonEmpty = Annotated[str, Field(min_length=1)]


# -- [proxy] ---------------------------------------------------------------------


class Timeouts(_Model):
    """Upstream timeouts in seconds: connecting, between reads, and for the whole response."""

    connect: Seconds = 5.0
    read: Seconds = 30.0
    # No limit by default: a proxy streams downloads of any size; set one to bound slow upstreams.
    total: Seconds | None = None


class Limits(_Model):
    """Request limits: header line size, header count, consent API body size, pooled upstream connections."""

    max_header_size: Annotated[int, Field(ge=1024, le=1_048_576)] = 8190
    max_headers: Annotated[int, Field(ge=1, le=10_000)] = 100
    consent_body_size: Annotated[int, Field(ge=1024, le=1_048_576)] = 16_384
    max_connections: Annotated[int, Field(ge=1, le=100_000)] = 1000


class ProxySettings(_Model):
    """``[proxy]``: where the proxy listens and how it treats the network around it."""

    # 0.0.0.0 so that a container's published port works without flags.
    listen: Address = "0.0.0.0:8080"
    # /metrics and /healthz stay on loopback unless someone decides otherwise.
    admin_listen: Address = "127.0.0.1:9090"
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    timeouts: Timeouts = Timeouts()
    limits: Limits = Limits()
    trusted_proxies: list[Network] = []
    drain_timeout: Annotated[float, Field(ge=0)] = 30.0
    access_log: Literal["text", "json"] = "text"

    @property
    def listen_address(self) -> tuple[str, int]:
        return f.split_address(self.listen)

    @property
    def admin_address(self) -> tuple[str, int]:
        return f.split_address(self.admin_listen)


# -- [consent] --------------------------------------------------------------------


class KeySpec(_Model):
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


class ConsentSettings(_Model):
    """``[consent]``: the cookie every site uses unless it says otherwise, and the key ring."""

    cookie_name: CookieName = "consentry"
    lifetime_days: LifetimeDays = 182
    honor_gpc: bool = True
    # Empty: one HS256 key from CONSENTRY_SECRET, as in zero-config mode.
    keys: list[KeySpec] = []


# -- [receipts] -------------------------------------------------------------------


def default_receipts_url() -> str:
    """SQLite in the XDG state directory, so running from any directory keeps one history."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return "sqlite://" + str(Path(state).absolute() / "consentry" / "receipts.db")


class ReceiptsSettings(_Model):
    """``[receipts]``: where proof of consent is kept, and the salt that hashes visitor IPs."""

    url: Annotated[str, AfterValidator(f.check_receipts_url)] = Field(default_factory=default_receipts_url)
    ip_salt_env: NonEmpty | None = None
    ip_salt_file: NonEmpty | None = None
    # Proof of consent must outlive the consent itself (claims can come later): 3 years.
    retention_days: Annotated[int, Field(ge=1)] = 1095
    # Set by the loader: the salt read from ip_salt_env / ip_salt_file.
    _ip_salt: bytes | None = PrivateAttr(default=None)

    @property
    def ip_salt(self) -> bytes | None:
        """The salt for hashing visitor IPs, or None when none is configured."""
        return self._ip_salt

    @model_validator(mode="after")
    def _one_salt(self) -> Self:
        if self.ip_salt_env and self.ip_salt_file:
            raise ValueError("give ip_salt_env or ip_salt_file, not both")
        return self


# -- sites ------------------------------------------------------------------------


class Category(_Model):
    """A consent category: its label and description per language."""

    label: dict[Language, NonEmpty] = {}
    description: dict[Language, NonEmpty] = {}


class VendorOverride(_Model):
    """Change what the catalogue says about one vendor: its category, or always allow / never allow."""

    category: str | None = None
    allow: Literal["always", "never"] | None = None

    @model_validator(mode="after")
    def _says_something(self) -> Self:
        if self.category is None and self.allow is None:
            raise ValueError('give category = "<name>" or allow = "always" | "never"')
        return self


class Rule(_Model):
    """Classify what the catalogue does not know: by host (and path prefix), URL glob or inline-script signature."""

    category: str
    vendor: NonEmpty | None = None
    host: RuleHost | None = None
    path_prefix: str | None = None
    url_glob: NonEmpty | None = None
    script_signature: ScriptSignature | None = None

    @model_validator(mode="after")
    def _one_matcher(self) -> Self:
        given = [n for n in ("host", "url_glob", "script_signature") if getattr(self, n) is not None]
        if self.path_prefix is not None:
            if self.host is None:
                raise ValueError("path_prefix needs a host")
            if not self.path_prefix.startswith("/"):
                raise ValueError(f'path_prefix "{self.path_prefix}" must start with /')
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            raise ValueError(f"a rule needs exactly one of host (with optional path_prefix), url_glob or script_signature; {found}")
        return self


class Banner(_Model):
    """The consent banner: shown or not, its languages and texts, the privacy link and colours."""

    enabled: bool = True
    languages: list[Language] = Field(default_factory=lambda: list(BUILTIN_LANGUAGES), min_length=1)
    default_language: Language = "en"
    # lang -> text key -> text, merged over the built-in texts (see builtin.BANNER_TEXTS).
    texts: dict[Language, dict[str, NonEmpty]] = {}
    privacy_policy_url: PageURL | None = None
    # name -> CSS value; served as the custom property --consentry-<name>.
    theme: dict[ThemeName, ThemeValue] = {}

    def css_variables(self) -> dict[str, str]:
        return {f"--consentry-{name}": value for name, value in self.theme.items()}


class SiteDefaults(_Model):
    """``[defaults]``: every site key except ``aliases``; each site inherits these."""

    upstream: Upstream | None = None
    preserve_host: bool = True
    policy_version: PolicyVersion = "1"
    mode: Literal["defer", "strip"] = "defer"
    categories: dict[str, Category] = {}
    vendors: dict[str, VendorOverride] = {}
    rules: list[Rule] = []
    unknown_third_party: str = "allow"
    strip_cookies: bool = True
    banner: Banner = Banner()
    cookie_name: CookieName = "consentry"
    lifetime_days: LifetimeDays = 182
    honor_gpc: bool = True
    csp: Literal["off", "report", "enforce"] = "report"
    google_consent_mode: Literal["off", "basic", "advanced"] = "off"
    consent_path: ConsentPath = "/_consent"
    trusted_proxies: list[Network] = []
    timeouts: Timeouts = Timeouts()


class SiteSettings(SiteDefaults):
    """``[sites."<host>"]``: a site's own keys; the table key is the site id and its first host."""

    aliases: list[NonEmpty] = []


class SitePolicy(SiteSettings):
    """A site after inheritance: every key has its final value; this is what the engine and server read."""

    site_id: str
    hosts: tuple[str, ...]
    upstream: Upstream  # type: ignore[assignment]  # required once defaults are applied


class ConfigFile(_Model):
    """The whole TOML file as written (used to validate it and to export the JSON schema)."""

    proxy: ProxySettings = ProxySettings()
    consent: ConsentSettings = ConsentSettings()
    receipts: ReceiptsSettings = Field(default_factory=ReceiptsSettings)
    defaults: SiteDefaults = SiteDefaults()
    sites: dict[str, SiteSettings] = {}
