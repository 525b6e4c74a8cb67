"""The banner's view of a site and a visitor: categories, vendors, texts and consent state.

Both the JSON that the proxy embeds in every page (read by consent.js) and the no-JS
preferences page are built from the one ``banner_model`` here, so the two can never
disagree about what a category is called or which vendors it covers. It reads the
policy, consent and catalogue objects by their documented attribute names only (duck
typing), so it imports none of those packages. Standard library only: must not import
aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any, TYPE_CHECKING

from proxy.defaults import CATEGORIES, CONSENT_PATH, NECESSARY
from proxy.web.texts import category_text, texts_for
from proxy.web.variants import first_layer, shown_texts, variant_id

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy
    from proxy.consent import ConsentState




def category_names(site: SitePolicy) -> list[str]:
    """The site's categories, ``necessary`` first, in policy order."""
    names = list((getattr(site, "categories", None) or {}).keys()) or list(CATEGORIES)
    return [NECESSARY] + [name for name in names if name != NECESSARY]


def granted_categories(state: ConsentState | None) -> set[str]:
    return set(getattr(state, "categories", None) or ()) | {NECESSARY}


def gpc_blocks_marketing(site: SitePolicy, state: ConsentState | None) -> bool:
    """True when the visitor's Sec-GPC signal denies marketing on this site."""
    return bool(getattr(state, "gpc", False)) and bool(getattr(site, "honor_gpc", True))


def vendor_category(site: SitePolicy | None, vendor: Any) -> str:
    """The vendor's category after the site's own overrides (``[vendors.<id>] category``)."""
    override = (getattr(site, "vendors", None) or {}).get(getattr(vendor, "id", ""))
    return getattr(override, "category", None) or getattr(vendor, "category", None) or "marketing"


def _lifetime_text(value: Any) -> str:
    # The catalogue writes lifetimes as text ("2 years", "session"); numbers are read as days.
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return f"{value:g} days"
    return str(value)


def vendor_cookies(vendor: Any) -> list[tuple[str, str]]:
    """(cookie name, lifetime) pairs of a vendor, whatever container the catalogue uses."""
    lifetimes = getattr(vendor, "cookie_lifetimes", None)
    pairs: list[tuple[str, str]] = []
    if isinstance(lifetimes, Mapping):
        pairs = [(str(name), _lifetime_text(value)) for name, value in lifetimes.items()]
    elif isinstance(lifetimes, Iterable) and not isinstance(lifetimes, str | bytes):
        for item in lifetimes:
            if isinstance(item, tuple | list) and len(item) == 2:
                pairs.append((str(item[0]), _lifetime_text(item[1])))
            elif isinstance(item, Mapping):
                pairs.append((str(item.get("name", "")), _lifetime_text(item.get("lifetime", ""))))
    if not pairs:
        pairs = [(str(name), "") for name in (getattr(vendor, "cookies", None) or ())]
    return pairs


def vendor_entry(site: SitePolicy | None, vendor: Any) -> dict[str, Any]:
    return {
        "id": str(getattr(vendor, "id", "")),
        "name": str(getattr(vendor, "name", "") or getattr(vendor, "id", "")),
        "category": vendor_category(site, vendor),
        "privacy_url": str(getattr(vendor, "privacy_url", "") or ""),
        "cookies": [{"name": name, "lifetime": lifetime} for name, lifetime in vendor_cookies(vendor)],
        "embed": bool(getattr(vendor, "embed", False)),
    }


def _expires(state: ConsentState | None) -> str | None:
    value = getattr(state, "expires_at", None)
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(value, _dt.UTC).isoformat()
    return None if value is None else str(value)


def _variant_texts(site: SitePolicy, lang: str, variant: Any | None) -> dict[str, str]:
    if variant is None:
        return {}
    base = texts_for(site, lang)
    return {key: text for key, text in shown_texts(site, lang, variant).items() if base.get(key) != text}


def banner_model(
    site: SitePolicy, state: ConsentState | None, *, lang: str, vendors: Iterable[Any] = (), variant: Any | None = None
) -> dict[str, Any]:
    """Everything consent.js needs, as plain JSON-ready data (no HTML).

    ``variant`` is the banner experiment variant drawn for this page view (or None): its
    id goes on the banner's root element and into the decision, its layout and first
    layer order shape the banner, its texts apply over the site's.
    """
    banner = getattr(site, "banner", None)
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
    theme = getattr(banner, "theme", None) or {}
    return {
        "version": 1,
        "consent_path": str(getattr(site, "consent_path", None) or CONSENT_PATH).rstrip("/"),
        "lang": lang,
        "mode": str(getattr(site, "mode", "defer")),
        "policy_version": getattr(state, "policy_version", None) or getattr(site, "policy_version", None),
        "decided": bool(getattr(state, "decided", False)),
        "granted": sorted(granted),
        "vendor_consent": {str(k): bool(v) for k, v in (getattr(state, "vendors", None) or {}).items()},
        "gpc": gpc_blocks_marketing(site, state),
        "honor_gpc": bool(getattr(site, "honor_gpc", True)),
        "google_consent_mode": str(getattr(site, "google_consent_mode", "off")),
        # Under an enforced CSP the page's policy predates the new consent: reload instead.
        "csp": str(getattr(site, "csp", "off")),
        "show_banner": bool(getattr(banner, "enabled", True)),
        "privacy_policy_url": getattr(banner, "privacy_policy_url", None) or None,
        # Only custom properties: a site's theme may recolour the banner, not restyle the page.
        # "accent" and "--consentry-accent" mean the same.
        "theme": {(str(k) if str(k).startswith("--") else f"--consentry-{k}"): str(v) for k, v in dict(theme).items()},
        "categories": categories,
        "vendors": vendor_entries,
        # The site's re-categorised vendors, for vendors the runtime learns about later
        # (from vendors.json) rather than from this list.
        # [vendors.<id>] allow = "always" | "never": the runtime must not activate a vendor
        # the site never allows, whatever the visitor granted.
        "vendor_allow": {
            str(vendor_id): str(override.allow)
            for vendor_id, override in (getattr(site, "vendors", None) or {}).items()
            if getattr(override, "allow", None) in ("always", "never")
        },
        "vendor_categories": {
            str(vendor_id): str(override.category)
            for vendor_id, override in (getattr(site, "vendors", None) or {}).items()
            if getattr(override, "category", None)
        },
        "texts": shown_texts(site, lang, variant),
        # What the variant changes of the site's texts (consent.js lays it over site.js's).
        "variant_texts": _variant_texts(site, lang, variant),
        "variant": variant_id(variant),
        "layout": (getattr(variant, "layout", None) or None) if variant is not None else None,
        "first_layer": first_layer(variant),
        "expires": _expires(state),
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
