"""Shared test data for the CSP and guard tests: a small catalogue, sites and consent states.

The catalogue is built here rather than read from the shipped data file so the tests
say exactly which hosts belong to which category (and keep passing while the data
file grows).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from proxy.catalogue import Catalogue
from proxy.consent import ConsentState

GTM = "www.googletagmanager.com"
GA = "www.google-analytics.com"
PIXEL = "connect.facebook.net"
PIXEL_BEACON = "www.facebook.com"
FONTS = "fonts.gstatic.com"
RECAPTCHA = "www.google.com"

CATALOGUE = Catalogue.from_dict(
    {
        "vendor": [
            {
                "id": "google-tag-manager",
                "name": "Google Tag Manager",
                "category": "analytics",
                "hosts": [GTM],
                "csp": {"script-src": [f"https://{GTM}"], "img-src": [f"https://{GTM}"], "connect-src": [f"https://{GTM}"]},
            },
            {
                "id": "google-analytics",
                "name": "Google Analytics",
                "category": "analytics",
                "hosts": ["google-analytics.com"],
                "csp": {
                    "script-src": [f"https://{GA}"],
                    "img-src": ["https://*.google-analytics.com"],
                    "connect-src": ["https://*.google-analytics.com"],
                },
            },
            {
                "id": "meta-pixel",
                "name": "Meta Pixel",
                "category": "marketing",
                "hosts": [PIXEL, f"{PIXEL_BEACON}/tr"],
            },
            {
                "id": "google-fonts",
                "name": "Google Fonts",
                "category": "necessary",
                "hosts": [FONTS, "fonts.googleapis.com"],
                "csp": {"font-src": [f"https://{FONTS}"], "style-src": ["https://fonts.googleapis.com"]},
            },
            {
                "id": "recaptcha",
                "name": "reCAPTCHA",
                "category": "necessary",
                "hosts": [f"{RECAPTCHA}/recaptcha"],
                "csp": {"script-src": [f"https://{RECAPTCHA}/recaptcha/"], "frame-src": [f"https://{RECAPTCHA}/recaptcha/"]},
            },
        ]
    },
    source="tests/csp/fixtures.py",
)


def make_site(**overrides: Any) -> SimpleNamespace:
    """A site policy with the keys proxy.csp reads (the real SitePolicy has the same names)."""
    values: dict[str, Any] = {
        "site_id": "shop",
        "csp": "enforce",
        "consent_path": "/_consent",
        "hosts": ("shop.example", "*.cdn.shop.example"),
        "vendors": {},
        "rules": [],
        "unknown_third_party": "allow",
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def consent(*categories: str, vendors: dict[str, bool] | None = None, gpc: bool = False) -> ConsentState:
    granted = frozenset({"necessary", *categories}) - ({"marketing"} if gpc else set())
    return ConsentState(categories=granted, vendors=vendors or {}, gpc=gpc, source="cookie", decided=bool(categories))
