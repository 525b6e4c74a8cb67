"""The shipped catalogue's shape and breadth: every vendor complete, no host owned twice,
the known-necessary list, tag ids, saved copies and the Public Suffix List."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from factories import make_site

from proxy.catalogue import CATEGORIES, Catalogue, strictest_category, tag_manager_category
from proxy.catalogue.catalogue import default_data_files
from proxy.catalogue.matchers import stems
from proxy.catalogue.urls import is_first_party, site_of


def test_breadth(catalogue: Catalogue) -> None:
    hosts = sum(len(vendor.hosts) for vendor in catalogue.vendors.values())
    assert len(catalogue.vendors) >= 600
    assert hosts >= 2000
    by_category = Counter(vendor.category for vendor in catalogue.vendors.values())
    assert set(by_category) == set(CATEGORIES)
    assert min(by_category.values()) >= 50, by_category


def test_every_vendor_is_complete(catalogue: Catalogue) -> None:
    """Category, name, a privacy policy, and something to recognise it by (hosts; self-hosted
    tools without a host of their own by file name or snippet)."""
    problems = []
    for vendor in catalogue.vendors.values():
        if vendor.category not in CATEGORIES or not vendor.name.strip():
            problems.append(f"{vendor.id}: category/name")
        if not re.match(r"https?://[^/\s]+\.[a-z]{2,}", vendor.privacy_url):
            problems.append(f"{vendor.id}: privacy_url {vendor.privacy_url!r}")
        if not vendor.hosts and not (vendor.file_names or vendor.signatures):
            problems.append(f"{vendor.id}: nothing to recognise it by")
    assert problems == []


def test_no_host_in_two_vendors_unless_a_path_tells_them_apart(catalogue: Catalogue) -> None:
    owners: dict[str, set[str]] = {}
    for vendor in catalogue.vendors.values():
        for entry in vendor.hosts:
            if "/" not in entry:
                owners.setdefault(entry, set()).add(vendor.id)
    assert {host: ids for host, ids in owners.items() if len(ids) > 1} == {}
    # And each entry once in the whole data set (the loader refuses duplicates as well).
    entries = Counter(entry for vendor in catalogue.vendors.values() for entry in vendor.hosts)
    assert [entry for entry, count in entries.items() if count > 1] == []


def test_the_data_files_are_split_by_class_and_all_loaded(catalogue: Catalogue) -> None:
    names = [name for name, _ in default_data_files()]
    assert names[0] == "vendors.toml" and "vendors-necessary.toml" in names
    loaded = sum(len(Catalogue.from_bytes(data, source=name).vendors) for name, data in default_data_files())
    assert loaded == len(catalogue.vendors)
    necessary_file = Catalogue.from_bytes(dict(default_data_files())["vendors-necessary.toml"])
    assert {vendor.category for vendor in necessary_file.vendors.values()} == {"necessary"}


@pytest.mark.parametrize(
    "url",
    [
        "https://code.jquery.com/jquery-3.7.1.min.js",
        "https://ajax.googleapis.com/ajax/libs/jquery/3.7.1/jquery.min.js",
        "https://cdnjs.cloudflare.com/ajax/libs/lodash.js/4.17.21/lodash.min.js",
        "https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/js/bootstrap.bundle.min.js",
        "https://unpkg.com/react@18/umd/react.production.min.js",
        "https://js.stripe.com/v3/",
        "https://js.braintreegateway.com/web/3.97.2/js/client.min.js",
        "https://www.paypal.com/sdk/js?client-id=sb",
        "https://checkoutshopper-live.adyen.com/checkoutshopper/sdk/5.0.0/adyen.js",
        "https://x.klarnacdn.net/kp/lib/v1/api.js",
        "https://www.google.com/recaptcha/api.js",
        "https://js.hcaptcha.com/1/api.js",
        "https://challenges.cloudflare.com/turnstile/v0/api.js",
        "https://cdn.shopify.com/s/files/1/0001/t/1/assets/theme.js",
        "https://static.parastorage.com/services/wix-thunderbolt/dist/main.js",
        "https://static1.squarespace.com/static/vta/5c5a519771c10ba3470d8101/scripts/site-bundle.js",
        "https://cdn11.bigcommerce.com/s-abc/stencil/1/js/theme-bundle.main.js",
        "https://consent.cookiebot.com/uc.js",
        "https://cdn.cookielaw.org/scripttemplates/otSDKStub.js",
        "https://fonts.googleapis.com/css2?family=Inter",
        "https://js.datadome.co/tags.js",
    ],
)
def test_known_necessary_services(catalogue: Catalogue, url: str) -> None:
    vendor = catalogue.vendor_for_url(url)
    assert vendor is not None and vendor.category == "necessary", (url, vendor and vendor.id)


@pytest.mark.parametrize(
    ("url", "vendor_id", "category"),
    [
        ("https://www.googletagmanager.com/gtag/js?id=G-ABC123", "google-analytics", "analytics"),
        ("https://www.googletagmanager.com/gtag/js?id=UA-12345-1", "google-analytics", "analytics"),
        ("https://www.googletagmanager.com/gtag/js?id=AW-123456789", "google-ads", "marketing"),
        ("https://www.googletagmanager.com/gtag/js?l=dataLayer&id=aw-123456789", "google-ads", "marketing"),
        ("https://www.googletagmanager.com/gtag/js?id=DC-1234567", "doubleclick", "marketing"),
        ("https://www.googletagmanager.com/gtag/js?id=GT-ABCD123", "google-ads", "marketing"),
        ("https://www.googletagmanager.com/gtag/js", "google-analytics", "analytics"),
        ("https://www.googletagmanager.com/gtm.js?id=GTM-ABC123", "google-tag-manager", "marketing"),
        ("https://www.googletagmanager.com/ns.html?id=GTM-ABC123", "google-tag-manager", "marketing"),
    ],
)
def test_tag_id_decides_between_google_vendors(catalogue: Catalogue, url: str, vendor_id: str, category: str) -> None:
    vendor = catalogue.vendor_for_url(url)
    assert vendor is not None and (vendor.id, vendor.category) == (vendor_id, category)


@pytest.mark.parametrize(
    ("script", "vendor_id"),
    [
        ("window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}gtag('js',new Date());gtag('config','G-AB12CD34');", "google-analytics"),
        ("function gtag(){dataLayer.push(arguments);}gtag('config','G-AB12CD34');gtag('config','AW-987654321');", "google-ads"),
        ("function gtag(){dataLayer.push(arguments);}gtag('event','conversion',{'send_to':'AW-987654321/AbC-dEf'});", "google-ads"),
        ("function gtag(){dataLayer.push(arguments);}gtag('config','DC-1234567');", "doubleclick"),
        # An Optimize container named in a GA config loads no tags: still analytics.
        ("function gtag(){dataLayer.push(arguments);}gtag('config','G-AB12CD34',{'optimize_id':'GTM-M55LXKC'});", "google-analytics"),
    ],
)
def test_inline_gtag_is_classified_by_its_ids(catalogue: Catalogue, script: str, vendor_id: str) -> None:
    vendor = catalogue.vendor_for_script(script)
    assert vendor is not None and vendor.id == vendor_id


def test_tag_manager_category_is_the_strictest_the_site_declares() -> None:
    assert tag_manager_category(make_site()) == "marketing"  # a site that says nothing
    assert tag_manager_category(make_site(tag_manager_loads=["analytics"])) == "analytics"
    assert tag_manager_category(make_site(tag_manager_loads=["analytics", "preferences"])) == "analytics"
    assert tag_manager_category(make_site(tag_manager_loads=["analytics", "marketing"])) == "marketing"
    assert strictest_category(["marketing", "social"]) == "social"  # a site's own category ranks above


def test_tag_managers_are_marked(catalogue: Catalogue) -> None:
    managers = {vendor.id for vendor in catalogue.vendors.values() if vendor.tag_manager}
    assert {"google-tag-manager", "tealium", "ensighten", "commanders-act"} <= managers


@pytest.mark.parametrize(
    ("path", "vendor_id"),
    [
        ("/page_files/gtm.js.Download", "google-tag-manager"),
        ("/page_files/fbevents.js.download", "meta-pixel"),
        ("/wp-content/plugins/x/analytics.min.js?ver=5.2", "google-analytics"),
        ("/assets/gtm(1).js", "google-tag-manager"),
        ("/assets/fbevents.3f9a8c1d.js", "meta-pixel"),
        ("/js/piwik.js.download", "matomo"),
        ("/js/hotjar-123456.js.Download", "hotjar"),
        ("/js/uwt.js.crdownload", "x-pixel"),
        ("/js/insight.min.js.Download", "linkedin-insight"),
        ("/js/ga.js.txt", "google-analytics"),
    ],
)
def test_saved_and_renamed_copies_are_recognised(catalogue: Catalogue, path: str, vendor_id: str) -> None:
    vendor = catalogue.vendor_for_url("https://shop.example" + path)
    assert vendor is not None and vendor.id == vendor_id


@pytest.mark.parametrize("path", ["/js/jquery.min.js", "/js/app.3f9a8c1d.js", "/js/download.js", "/js/gtm-helper.js", "/js/mygtm.js"])
def test_ordinary_file_names_are_not_trackers(catalogue: Catalogue, path: str) -> None:
    assert catalogue.vendor_for_url("https://shop.example" + path) is None


def test_stems() -> None:
    assert stems("gtm.js.download") == ["gtm.js.download", "gtm.js"]
    assert stems("analytics.min.js") == ["analytics.min.js", "analytics.js"]
    assert stems("fbevents.1a2b3c4d.min.js")[-1] == "fbevents.js"
    assert stems("jquery.js") == ["jquery.js"]


def test_library_signatures_recognise_a_copy_by_content(catalogue: Catalogue) -> None:
    matomo = "/*!!\n * Matomo - free/libre analytics platform\n *\n * JavaScript tracking client\n */\nvar a=1;"
    hotjar = "window.hjSiteSettings = window.hjSiteSettings || {\"site_id\":1};"
    assert (vendor := catalogue.vendor_for_library(matomo)) is not None and vendor.id == "matomo"
    assert (vendor := catalogue.vendor_for_library(hotjar)) is not None and vendor.id == "hotjar"
    assert catalogue.vendor_for_library("/*! jQuery v3.7.1 | (c) OpenJS Foundation */ !function(e,t){}") is None


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("www.example.co.uk", "example.co.uk"),
        ("a.b.example.com.au", "example.com.au"),
        ("user.github.io", "user.github.io"),
        ("shop.myshopify.com", "shop.myshopify.com"),
        ("www.city.kawasaki.jp", "city.kawasaki.jp"),
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
    ],
)
def test_site_of_follows_the_public_suffix_list(host: str, site: str) -> None:
    assert site_of(host) == site


def test_first_party_by_registrable_domain() -> None:
    assert is_first_party("https://static.example.co.uk/a.js", "www.example.co.uk")
    assert not is_first_party("https://other.co.uk/a.js", "www.example.co.uk")
    assert not is_first_party("https://bob.github.io/a.js", "alice.github.io")
    assert is_first_party("https://cdn.alice.github.io/a.js", "alice.github.io")
    assert not is_first_party("https://evil.blogspot.com/x.png", "good.blogspot.com")
