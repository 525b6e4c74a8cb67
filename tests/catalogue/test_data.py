"""The shipped vendors.toml: it validates, and the vendors the product depends on are there with the right category."""

import re
import tomllib
from importlib import resources

import pytest

from proxy.catalogue import CATEGORIES, Catalogue, Vendor

DATA = resources.files("proxy.catalogue").joinpath("vendors.toml").read_bytes()
RAW_VENDORS = tomllib.loads(DATA.decode("utf-8"))["vendor"]

# DESIGN.md defaults plus the brief's list: vendor id -> category.
EXPECTED_CATEGORIES = {
    "google-analytics": "analytics",
    "google-tag-manager": "marketing",
    "google-ads": "marketing",
    "doubleclick": "marketing",
    "meta-pixel": "marketing",
    "facebook-sdk": "marketing",
    "instagram-embed": "marketing",
    "linkedin-insight": "marketing",
    "x-pixel": "marketing",
    "x-widgets": "marketing",
    "tiktok-pixel": "marketing",
    "pinterest-tag": "marketing",
    "snap-pixel": "marketing",
    "reddit-pixel": "marketing",
    "microsoft-clarity": "analytics",
    "microsoft-uet": "marketing",
    "hotjar": "analytics",
    "hubspot": "marketing",
    "segment": "analytics",
    "mixpanel": "analytics",
    "amplitude": "analytics",
    "heap": "analytics",
    "fullstory": "analytics",
    "matomo-cloud": "analytics",
    "matomo": "analytics",
    "yandex-metrica": "analytics",
    "criteo": "marketing",
    "taboola": "marketing",
    "outbrain": "marketing",
    "youtube-embed": "marketing",
    "vimeo-embed": "marketing",
    "google-maps": "marketing",
    "disqus": "marketing",
    "addthis": "marketing",
    "sharethis": "marketing",
    "dailymotion-embed": "marketing",
    "soundcloud-embed": "marketing",
    "quantcast": "marketing",
    "comscore": "analytics",
    "chartbeat": "analytics",
    "parsely": "analytics",
    "nielsen": "analytics",
    "appnexus": "marketing",
    "amazon-ads": "marketing",
    "google-adsense": "marketing",
    "google-publisher-tag": "marketing",
    "new-relic": "analytics",
    "optimizely": "analytics",
    "vg-wort": "analytics",
    "gemius": "analytics",
    "infonline": "analytics",
    # necessary: fonts, public CDNs, payment, anti-bot
    "google-fonts": "necessary",
    "adobe-fonts": "necessary",
    "cdnjs": "necessary",
    "jsdelivr": "necessary",
    "unpkg": "necessary",
    "google-hosted-libraries": "necessary",
    "jquery-cdn": "necessary",
    "stripe": "necessary",
    "google-recaptcha": "necessary",
    "hcaptcha": "necessary",
    # preferences: live chat and translation widgets
    "google-translate": "preferences",
    "zendesk-chat": "preferences",
    "intercom": "preferences",
    "tawk-to": "preferences",
}
EMBEDS = {"youtube-embed", "vimeo-embed", "instagram-embed", "x-widgets", "google-maps", "dailymotion-embed", "soundcloud-embed"}


def test_every_vendor_has_the_required_keys_and_a_known_category() -> None:
    assert len(RAW_VENDORS) >= 100
    for raw in RAW_VENDORS:
        for key in ("id", "name", "category", "hosts"):
            assert key in raw, f"{raw.get('id')}: missing {key}"
        assert raw["category"] in CATEGORIES, raw["id"]
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", raw["id"]), raw["id"]


def test_hosts_have_no_scheme_and_are_lowercase() -> None:
    for raw in RAW_VENDORS:
        for host in raw["hosts"]:
            assert "//" not in host and ":" not in host, (raw["id"], host)
            assert host == host.lower(), (raw["id"], host)


def test_signatures_compile_and_match_no_empty_text() -> None:
    count = 0
    for raw in RAW_VENDORS:
        for signature in raw.get("signatures", []):
            compiled = re.compile(signature)
            assert compiled.search("") is None, (raw["id"], signature)
            count += 1
    assert count > 150


def test_every_vendor_can_be_recognised_somehow() -> None:
    for vendor in Catalogue.default().vendors.values():
        assert vendor.hosts or vendor.signatures or vendor.file_names, vendor.id


def test_cookie_lifetimes_describe_listed_cookies(catalogue: Catalogue) -> None:
    for vendor in catalogue.vendors.values():
        assert set(vendor.cookie_lifetimes) <= set(vendor.cookies), vendor.id
    ga = catalogue.vendors["google-analytics"]
    assert ga.cookie_lifetimes["_ga"] == "2 years"
    assert {"_ga", "_ga_*", "_gid", "_gat*"} <= set(ga.cookies)


@pytest.mark.parametrize(("vendor_id", "category"), sorted(EXPECTED_CATEGORIES.items()))
def test_vendor_is_present_with_its_default_category(catalogue: Catalogue, vendor_id: str, category: str) -> None:
    vendor = catalogue.vendors[vendor_id]
    assert isinstance(vendor, Vendor)
    assert vendor.category == category
    assert vendor.privacy_url.startswith("https://"), vendor_id


def test_embeds_are_flagged_for_click_to_load(catalogue: Catalogue) -> None:
    for vendor_id in EMBEDS:
        assert catalogue.vendors[vendor_id].embed, vendor_id
    assert not catalogue.vendors["google-analytics"].embed
    assert not catalogue.vendors["meta-pixel"].embed


def test_csp_sources_are_https_and_cover_a_vendor_without_explicit_csp(catalogue: Catalogue) -> None:
    for vendor in catalogue.vendors.values():
        for directive, sources in vendor.csp.items():
            assert directive.endswith("-src") or directive == "form-action", (vendor.id, directive)
            assert all(source.startswith(("https://", "wss://")) for source in sources), vendor.id
    gtm = catalogue.vendors["google-tag-manager"]
    assert gtm.csp["script-src"] == ("https://www.googletagmanager.com",)
    # criteo has no csp table: derived from its hosts, subdomains included.
    criteo = catalogue.vendors["criteo"]
    assert "https://*.criteo.net" in criteo.csp["script-src"]
    assert "https://criteo.com" in criteo.csp["img-src"]
    assert "https://*.criteo.net" in criteo.csp["frame-src"]
    assert "style-src" not in criteo.csp
    # an embed without csp table gets frame-src; a necessary CDN also style and font sources.
    assert "https://*.dailymotion.com" in catalogue.vendors["dailymotion-embed"].csp["frame-src"]
    assert "https://cdnjs.cloudflare.com" in catalogue.vendors["cdnjs"].csp["style-src"]
    assert "https://cdnjs.cloudflare.com" in catalogue.vendors["cdnjs"].csp["font-src"]


def test_digest_covers_every_data_file(catalogue: Catalogue) -> None:
    """The digest receipts record changes when any shipped data file changes, and only then."""
    from proxy.catalogue.catalogue import default_data_files

    parts = default_data_files()
    assert parts[0] == ("vendors.toml", DATA) and len(parts) > 1
    assert Catalogue.from_parts(parts).digest == catalogue.digest
    changed = [parts[0], (parts[1][0], parts[1][1] + b"\n# edited\n"), *parts[2:]]
    assert Catalogue.from_parts(changed).digest != catalogue.digest
    assert Catalogue.from_parts(list(reversed(parts))).digest != catalogue.digest


def test_default_is_loaded_once(catalogue: Catalogue) -> None:
    assert Catalogue.default() is catalogue


def test_vendors_for_category_lists_each_vendor_once(catalogue: Catalogue) -> None:
    seen: list[str] = []
    for category in CATEGORIES:
        members = catalogue.vendors_for_category(category)
        assert members, category
        assert all(vendor.category == category for vendor in members)
        seen += [vendor.id for vendor in members]
    assert sorted(seen) == sorted(catalogue.vendors)
    assert catalogue.vendors_for_category("no-such-category") == []
