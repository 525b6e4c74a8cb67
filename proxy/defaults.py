"""The facts every package shares, each stated once: the consent categories, the
reserved path, the consent cookie's name and lifetime, the banner's languages.

The policy file may override most of them per site (``config/example.toml`` shows
how); these are the values a site gets when it says nothing, and the names the
catalogue, the consent token, the engine, the CSP builder and the banner agree on.
Change a value here and every package follows. Imports nothing: any module, down to
the stdlib-only ``proxy.html``, ``proxy.catalogue`` and ``proxy.web``, may import it.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CATEGORIES",
    "CONSENT_PATH",
    "COOKIE_NAME",
    "DEFAULT_LANGUAGE",
    "GPC_REFUSED_CATEGORY",
    "LANGUAGES",
    "LIFETIME_DAYS",
    "MAX_LIFETIME_DAYS",
    "NECESSARY",
]

NECESSARY: Final = "necessary"
"""Always granted, cannot be refused (DESIGN.md)."""

CATEGORIES: Final[tuple[str, ...]] = (NECESSARY, "preferences", "analytics", "marketing")
"""The built-in categories, from least to most intrusive (the catalogue's vocabulary;
a site may add its own)."""

GPC_REFUSED_CATEGORY: Final = "marketing"
"""Global Privacy Control is an opt-out of sale and sharing: the category it refuses."""

CONSENT_PATH: Final = "/_consent"
"""Where the proxy answers for itself (banner assets, consent API); never forwarded."""

COOKIE_NAME: Final = "consentry"
"""The consent cookie (a signed JWT)."""

LIFETIME_DAYS: Final = 182
"""How long a decision lasts: six months (26 weeks), within what EU regulators accept
before asking again (CNIL: 6 to 13 months)."""

MAX_LIFETIME_DAYS: Final = 395
"""13 months: the longest consent lifetime EU regulators (CNIL) accept."""

LANGUAGES: Final[tuple[str, ...]] = ("en", "nl", "de", "fr", "es", "it")
"""Languages with built-in banner texts (``proxy/texts.py``)."""

DEFAULT_LANGUAGE: Final = "en"
