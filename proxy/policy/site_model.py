"""The site tables as typed, validated pydantic models, and ``SitePolicy``: a site after inheritance.

``SiteDefaults`` is ``[defaults]``, ``SiteSettings`` one ``[sites."<host>"]``
table (``[defaults]`` plus ``aliases``), and ``SitePolicy`` what the engine and
server read once built-ins, globals, defaults and the site's own keys are merged
(``sites.py``). Also the site's parts: categories, vendor overrides, rules,
banner, upstream timeouts. Must not depend on aiohttp, mitmproxy, jwt or
``proxy.html``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from proxy.defaults import CONSENT_PATH, COOKIE_NAME, DEFAULT_LANGUAGE, LANGUAGES, LIFETIME_DAYS
from proxy.policy.valuetypes import (
    ConsentPath,
    CookieName,
    Language,
    LifetimeDays,
    Network,
    NonEmpty,
    PageURL,
    PolicyVersion,
    RuleHost,
    ScriptSignature,
    Seconds,
    StrictModel,
    ThemeName,
    ThemeValue,
    Upstream,
    VariantId,
)

__all__ = [
    "Banner",
    "BannerVariant",
    "Category",
    "Rule",
    "SiteDefaults",
    "SitePolicy",
    "SiteSettings",
    "Timeouts",
    "VendorOverride",
]


# -- sites ------------------------------------------------------------------------


class Timeouts(StrictModel):
    """Upstream timeouts in seconds: connecting, between reads, and for the whole response."""

    connect: Seconds = 5.0
    read: Seconds = 30.0
    # No limit by default: a proxy streams downloads of any size; set one to bound slow upstreams.
    total: Seconds | None = None


class Category(StrictModel):
    """A consent category: its label and description per language."""

    label: dict[Language, NonEmpty] = {}
    description: dict[Language, NonEmpty] = {}


class VendorOverride(StrictModel):
    """Change what the catalogue says about one vendor: its category, or always allow / never allow."""

    category: str | None = None
    allow: Literal["always", "never"] | None = None

    @model_validator(mode="after")
    def _says_something(self) -> Self:
        if self.category is None and self.allow is None:
            raise ValueError('give category = "<name>" or allow = "always" | "never"')
        return self


class Rule(StrictModel):
    """Classify what the catalogue does not know: by host (and path prefix), URL glob or inline-script signature."""

    category: str
    vendor: NonEmpty | None = None
    host: RuleHost | None = None
    path_prefix: str | None = None
    url_glob: NonEmpty | None = None
    script_signature: ScriptSignature | None = None

    @model_validator(mode="after")
    def _one_matcher(self) -> Self:
        # getattr: the fields are named as data, to name the ones given in the message.
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


FirstLayerButton = Literal["accept_all", "reject_all", "customize"]  # inlined in the JSON schema


def _every_button() -> list[FirstLayerButton]:
    return ["accept_all", "reject_all", "customize"]


class BannerVariant(StrictModel):
    """One ``[[banner.variants]]`` entry: a fair alternative wording (and layout) of the banner.

    Each page view of an undecided visitor draws a variant by ``weight``; nothing is
    stored in the browser for it. ``texts.<lang>`` take the keys of ``banner.texts``
    and apply over them. ``first_layer`` is the order of the first layer's buttons.
    Fairness (rejecting never harder than accepting) is checked in ``sites.py``.
    """

    id: VariantId
    weight: Annotated[int, Field(gt=0, le=1_000_000)]
    layout: Literal["bar", "box", "modal"] | None = None
    first_layer: list[FirstLayerButton] = Field(default_factory=_every_button, min_length=1)
    # Plain str (not NonEmpty): an empty label is refused by the fairness check with its own message.
    texts: dict[Language, dict[str, str]] = {}


class Banner(StrictModel):
    """The consent banner: shown or not, its languages and texts, the privacy link and colours."""

    enabled: bool = True
    languages: list[Language] = Field(default_factory=lambda: list(LANGUAGES), min_length=1)
    default_language: Language = DEFAULT_LANGUAGE
    # lang -> text key -> text, merged over the built-in texts (see builtin.BANNER_TEXTS).
    texts: dict[Language, dict[str, NonEmpty]] = {}
    privacy_policy_url: PageURL | None = None
    # name -> CSS value; served as the custom property --consentry-<name>.
    theme: dict[ThemeName, ThemeValue] = {}
    # Banner experiments: alternative fair wordings drawn by weight per page view.
    variants: list[BannerVariant] = []

    def css_variables(self) -> dict[str, str]:
        return {f"--consentry-{name}": value for name, value in self.theme.items()}


class SiteDefaults(StrictModel):
    """``[defaults]``: every site key except ``aliases``; each site inherits these."""

    upstream: Upstream | None = None
    preserve_host: bool = True
    policy_version: PolicyVersion = "1"
    mode: Literal["defer", "strip"] = "defer"
    categories: dict[str, Category] = {}
    vendors: dict[str, VendorOverride] = {}
    rules: list[Rule] = []
    unknown_third_party: str = "allow"
    # Categories of what the site's tag-manager containers (GTM-..., Tealium ...) load; a
    # container counts as the strictest of them. Marketing unless the site says less.
    tag_manager_loads: list[str] = Field(default_factory=lambda: ["marketing"], min_length=1)
    # Catalogue overlay files (from `consentry catalogue import`), relative to the policy file.
    catalogues: list[str] = []
    strip_cookies: bool = True
    banner: Banner = Banner()
    cookie_name: CookieName = COOKIE_NAME
    lifetime_days: LifetimeDays = LIFETIME_DAYS
    honor_gpc: bool = True
    csp: Literal["off", "report", "enforce"] = "report"
    google_consent_mode: Literal["off", "basic", "advanced"] = "off"
    consent_path: ConsentPath = CONSENT_PATH
    trusted_proxies: list[Network] = []
    timeouts: Timeouts = Timeouts()


class SiteSettings(SiteDefaults):
    """``[sites."<host>"]``: a site's own keys; the table key is the site id and its first host."""

    aliases: list[NonEmpty] = []


class SitePolicy(SiteSettings):
    """A site after inheritance: every key has its final value; this is what the engine and server read."""

    site_id: str
    hosts: tuple[str, ...]
    upstream: Upstream  # required once defaults are applied


