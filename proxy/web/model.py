"""The banner's view of a site and a visitor: categories, vendors, texts and consent state.

Both the JSON that the proxy embeds in every page (read by consent.js) and the no-JS
preferences page are built from the one ``banner_model`` here, so the two can never
disagree about what a category is called or which vendors it covers. It reads the
policy's ``SitePolicy`` and the consent ``ConsentState`` as typed attributes (named for
mypy only, never imported at run time) and catalogue ``Vendor`` objects. Standard
library only: must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any, TYPE_CHECKING

from proxy.defaults import NECESSARY
from proxy.web.texts import category_text, texts_for
from proxy.web.variants import first_layer, shown_texts, variant_id

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.catalogue import Vendor
    from proxy.policy import BannerVariant, SitePolicy
    from proxy.consent import ConsentState


def category_names(site: SitePolicy) -> list[str]:
    """The site's categories, ``necessary`` first, in policy order."""
    return [NECESSARY] + [name for name in site.categories if name != NECESSARY]


def granted_categories(state: ConsentState | None) -> set[str]:
    return set(state.categories if state is not None else ()) | {NECESSARY}


def gpc_blocks_marketing(site: SitePolicy, state: ConsentState | None) -> bool:
    """True when the visitor's Sec-GPC signal denies marketing on this site."""
    return state is not None and state.gpc and site.honor_gpc


def vendor_category(site: SitePolicy | None, vendor: Vendor) -> str:
    """The vendor's category after the site's own overrides (``[vendors.<id>] category``)."""
    override = site.vendors.get(vendor.id) if site is not None else None
    return (override.category if override is not None else None) or vendor.category


def vendor_cookies(vendor: Vendor) -> list[tuple[str, str]]:
    """(cookie name, lifetime) pairs of a vendor: its catalogued lifetimes, else its cookie names."""
    pairs = list(vendor.cookie_lifetimes.items())
    return pairs or [(name, "") for name in vendor.cookies]


def vendor_entry(site: SitePolicy | None, vendor: Vendor) -> dict[str, Any]:
    return {
        "id": vendor.id,
        "name": vendor.name or vendor.id,
        "category": vendor_category(site, vendor),
        "privacy_url": vendor.privacy_url,
        "cookies": [{"name": name, "lifetime": lifetime} for name, lifetime in vendor_cookies(vendor)],
        "embed": vendor.embed,
    }


def expires_text(expires_at: float | None) -> str | None:
    """A consent's expiry as the banner shows it: an ISO 8601 date in UTC, to the second
    (so 25 characters for every year from 1000 to 9999; replay records are keyed by the
    length, proxy.server.html_body)."""
    if expires_at is None:
        return None
    return _dt.datetime.fromtimestamp(int(expires_at), _dt.UTC).isoformat()


def _variant_texts(site: SitePolicy, lang: str, variant: BannerVariant | None) -> dict[str, str]:
    if variant is None:
        return {}
    base = texts_for(site, lang)
    return {key: text for key, text in shown_texts(site, lang, variant).items() if base.get(key) != text}


def banner_model(
    site: SitePolicy, state: ConsentState | None, *, lang: str, vendors: Iterable[Vendor] = (), variant: BannerVariant | None = None
) -> dict[str, Any]:
    """Everything consent.js needs, as plain JSON-ready data (no HTML).

    ``variant`` is the banner experiment variant drawn for this page view (or None): its
    id goes on the banner's root element and into the decision, its layout and first
    layer order shape the banner, its texts apply over the site's.
    """
    banner = site.banner
    granted = granted_categories(state)
    vendor_entries = sorted((vendor_entry(site, v) for v in vendors), key=lambda v: v["name"].lower())
    categories = []
    for name in category_names(site):
        label, description = category_text(site, name, lang)
        categories.append({
            "name": name,
            "label": label,
            "description": description,
            "required": name == NECESSARY,
            "granted": name in granted,
            "vendors": [v["id"] for v in vendor_entries if v["category"] == name],
        })
    return {
        "version": 1,
        "consent_path": site.consent_path.rstrip("/"),
        "lang": lang,
        "mode": site.mode,
        "policy_version": (state.policy_version if state is not None else None) or site.policy_version,
        "decided": state is not None and state.decided,
        "granted": sorted(granted),
        "vendor_consent": dict(state.vendors) if state is not None else {},
        "gpc": gpc_blocks_marketing(site, state),
        "honor_gpc": site.honor_gpc,
        "google_consent_mode": site.google_consent_mode,
        # Under an enforced CSP the page's policy predates the new consent: reload instead.
        "csp": site.csp,
        "show_banner": banner.enabled,
        "privacy_policy_url": banner.privacy_policy_url or None,
        # Only custom properties: a site's theme may recolour the banner, not restyle the page.
        "theme": banner.css_variables(),
        "categories": categories,
        "vendors": vendor_entries,
        # The site's re-categorised vendors, for vendors the runtime learns about later
        # (from vendors.json) rather than from this list.
        # [vendors.<id>] allow = "always" | "never": the runtime must not activate a vendor
        # the site never allows, whatever the visitor granted.
        "vendor_allow": {
            vendor_id: override.allow for vendor_id, override in site.vendors.items() if override.allow is not None
        },
        "vendor_categories": {
            vendor_id: override.category for vendor_id, override in site.vendors.items() if override.category
        },
        "texts": shown_texts(site, lang, variant),
        # What the variant changes of the site's texts (consent.js lays it over site.js's).
        "variant_texts": _variant_texts(site, lang, variant),
        "variant": variant_id(variant),
        "layout": variant.layout if variant is not None else None,
        "first_layer": first_layer(variant),
        "expires": expires_text(state.expires_at if state is not None else None),
    }


# The part of the banner model that depends on the visitor: it is carried in the page.
# Everything else depends only on the site and the language and is served as the
# cacheable ``site.js`` (proxy.web.assets), which consent.js merges underneath it.
VISITOR_KEYS = frozenset({
    "version", "consent_path", "lang", "policy_version", "decided", "granted",
    "vendor_consent", "gpc", "expires", "vendors",
    # This page view's banner experiment variant (drawn per view, so never in site.js).
    "variant", "layout", "first_layer", "variant_texts",
})


def visitor_model(model: Mapping[str, Any]) -> dict[str, Any]:
    """The page-carried part of a banner model (see ``VISITOR_KEYS``)."""
    return {key: value for key, value in model.items() if key in VISITOR_KEYS}


def site_model(site: SitePolicy, *, lang: str) -> dict[str, Any]:
    """The visitor-independent part of the banner model in one language (``site.js``)."""
    model = banner_model(site, None, lang=lang)
    shared = {key: value for key, value in model.items() if key not in VISITOR_KEYS}
    # Which categories are granted is the visitor's; consent.js reads it from "granted".
    shared["categories"] = [{k: v for k, v in category.items() if k != "granted"} for category in model["categories"]]
    return shared
