"""Who may load on this site: vendors, rules and the site's own hosts, as CSP sources.

The catalogue says which hosts a vendor serves from and which CSP sources it
needs; the site policy may move a vendor to another category or allow / refuse it
outright; the visitor's consent decides the rest, by the one rule of
`proxy.catalogue.Classification` (the engine applies the same). Standard library
only: must not import aiohttp, mitmproxy, jwt, pydantic or ``proxy.html``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from proxy.catalogue import Catalogue, Classification, Vendor, catalogue_for, classify_vendor, tag_manager_category

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy


# Directives a vendor without CSP data in the catalogue is assumed to need.
CORE_DIRECTIVES = ("script-src", "img-src", "frame-src", "connect-src")


def classified_vendors(site: SitePolicy, catalogue: Catalogue) -> Iterator[tuple[Vendor, Classification]]:
    """Every vendor of ``catalogue`` with its category and allow override on ``site``."""
    tag_manager = tag_manager_category(site)
    for vendor in catalogue.vendors.values():
        yield vendor, classify_vendor(vendor, site.vendors, tag_manager)


def vendor_sources(vendor: Vendor) -> Mapping[str, tuple[str, ...] | list[str]]:
    if vendor.csp:
        return vendor.csp
    # A vendor without CSP data: its hosts, for the directives any tracker uses.
    sources = [s for entry in vendor.hosts for s in host_source(*split_entry(entry))]
    return dict.fromkeys(CORE_DIRECTIVES, sources)


def split_entry(entry: str) -> tuple[str, str | None]:
    host, slash, path = entry.partition("/")
    return host, ("/" + path.split("*", 1)[0]) if slash and path else None


def host_source(host: str, path: str | None) -> list[str]:
    """``host`` and its subdomains as scheme-less host-sources (an http page also gets http:)."""
    host = host.lower().strip(".").removeprefix("*.")
    suffix = path or ""
    return [f"{host}{suffix}", f"*.{host}{suffix}"]


def site_sources(site: SitePolicy) -> list[str]:
    sources = []
    for host in site.hosts:
        host = host.strip().lower()
        # A bare "*" (or "default") would allow every host: 'self' covers the page itself.
        if not host or host in ("*", "default") or not re.fullmatch(r"(\*\.)?[a-z0-9.\[\]:_-]+", host):
            continue
        sources.append(host)
    return sources


def consent_path(site: SitePolicy) -> str:
    return site.consent_path.rstrip("/")


def default_catalogue(site: SitePolicy | None = None) -> Catalogue:
    """The site's catalogue: the shipped one plus its ``catalogues`` overlays."""
    return catalogue_for(site) if site is not None else Catalogue.default()
