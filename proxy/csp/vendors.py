"""Who may load on this site: vendors, rules and the site's own hosts, as CSP sources.

The catalogue says which hosts a vendor serves from and which CSP sources it
needs; the site policy may move a vendor to another category or allow / refuse it
outright; the visitor's consent decides the rest. `Classification.allowed_by` is
the engine's rule, restated so that building a policy never loads the HTML
rewriter. Standard library only: must not import aiohttp, mitmproxy, jwt,
pydantic or ``proxy.html``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

from proxy.defaults import CONSENT_PATH, NECESSARY

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy
    from proxy.consent import ConsentState




# Directives a vendor without CSP data in the catalogue is assumed to need.
CORE_DIRECTIVES = ("script-src", "img-src", "frame-src", "connect-src")


@dataclass(frozen=True, slots=True)
class Classification:
    """A vendor's (or rule's) category on this site and its allow override.

    The same rule as ``proxy.engine.Classification``, restated here so building a
    policy does not load the HTML rewriter: "always"/"never" overrides win, necessary
    is always allowed, everything else follows the visitor's consent.
    """

    vendor: str | None
    category: str
    override: str | None = None

    def allowed_by(self, state: ConsentState) -> bool:
        if self.override == "always":
            return True
        if self.override == "never":
            return False
        return self.category == NECESSARY or bool(state.allows(self.category, self.vendor))


def vendors_of(catalogue: Any) -> Iterable[Any]:
    vendors = getattr(catalogue, "vendors", catalogue)
    return vendors.values() if isinstance(vendors, Mapping) else vendors


def classify_vendor(site: SitePolicy, vendor: Any) -> Classification:
    """The vendor's category and allow override on this site (same rules as the engine)."""
    from proxy.catalogue import tag_manager_category

    override = (getattr(site, "vendors", None) or {}).get(vendor.id)
    default = tag_manager_category(site) if getattr(vendor, "tag_manager", False) else vendor.category
    category = (getattr(override, "category", None) if override else None) or default
    return Classification(vendor.id, category, getattr(override, "allow", None) if override else None)


def vendor_sources(vendor: Any) -> Mapping[str, Iterable[str]]:
    declared: Mapping[str, Iterable[str]] | None = getattr(vendor, "csp", None)
    if declared:
        return declared
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
    for host in getattr(site, "hosts", None) or ():
        host = str(host).strip().lower()
        # A bare "*" (or "default") would allow every host: 'self' covers the page itself.
        if not host or host in ("*", "default") or not re.fullmatch(r"(\*\.)?[a-z0-9.\[\]:_-]+", host):
            continue
        sources.append(host)
    return sources


def consent_path(site: SitePolicy) -> str:
    return str(getattr(site, "consent_path", None) or CONSENT_PATH).rstrip("/")


def default_catalogue(site: SitePolicy | None = None) -> Any:
    """The site's catalogue: the shipped one plus its ``catalogues`` overlays."""
    from proxy.catalogue import catalogue_for

    return catalogue_for(site)
