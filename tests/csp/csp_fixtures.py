"""Shared test data for the CSP and guard tests: a small catalogue, sites and consent states.

The catalogue is built here rather than read from the shipped data file so the tests
say exactly which hosts belong to which category (and keep passing while the data
file grows).
"""

from __future__ import annotations

from typing import Any

import factories
from proxy.catalogue import Catalogue
from proxy.consent import ConsentState
from proxy.policy import SitePolicy

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


def make_site(**overrides: Any) -> SitePolicy:
    """The CSP tests' site: a real ``SitePolicy`` (tests/factories.py), CSP enforced."""
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
    return factories.make_site(**values)


def consent(*categories: str, vendors: dict[str, bool] | None = None, gpc: bool = False) -> ConsentState:
    granted = frozenset({"necessary", *categories}) - ({"marketing"} if gpc else set())
    return ConsentState(categories=granted, vendors=vendors or {}, gpc=gpc, source="cookie", decided=bool(categories))


# Where a fetch directive falls back to when a policy does not carry it (CSP Level 3).
_FALLBACK = {
    "script-src-elem": ("script-src", "default-src"),
    "worker-src": ("child-src", "script-src", "default-src"),
    "frame-src": ("child-src", "default-src"),
}


def admits(directives: dict[str, list[str]], directive: str, url: str, *, page: str = "https://shop.example/") -> bool:
    """Would a browser let `url` load under `directive` of this parsed policy? (host-source matching)

    An independent, small reading of CSP3 source matching, so tests say what a policy
    allows rather than how its text looks.
    """
    from urllib.parse import urlsplit

    sources = directives.get(directive)
    if sources is None:
        for fallback in _FALLBACK.get(directive, ("default-src",)):
            if fallback in directives:
                sources = directives[fallback]
                break
        else:
            return True
    target, origin = urlsplit(url), urlsplit(page)
    default_port = {"http": 80, "https": 443, "ws": 80, "wss": 443}
    for source in sources:
        if source == "'self'":
            if (target.scheme, target.hostname, target.port) == (origin.scheme, origin.hostname, origin.port):
                return True
            continue
        if source.startswith("'"):
            continue
        if source.endswith(":") and "/" not in source:
            if target.scheme + ":" == source or (source, target.scheme) in (("http:", "https"), ("ws:", "wss")):
                return True
            continue
        scheme, _, rest = source.rpartition("://")
        if scheme:
            if target.scheme != scheme and (scheme, target.scheme) not in (("http", "https"), ("ws", "wss")):
                continue
        elif target.scheme not in ({"http", "https"} if origin.scheme == "http" else {"https"}):
            continue
        host_port, slash, path = rest.partition("/")
        host, _, port = host_port.partition(":")
        hostname = target.hostname or ""
        if host.startswith("*."):
            if not hostname.endswith(host[1:]):
                continue
        elif hostname != host:
            continue
        if (int(port) if port else default_port.get(target.scheme)) != (target.port or default_port.get(target.scheme)):
            continue
        if slash:
            path = "/" + path
            if not (target.path.startswith(path) if path.endswith("/") else target.path == path):
                continue
        return True
    return False
