"""vendor_for_cookie: exact names, wildcard patterns, specificity, and names that must not match."""

import pytest

from proxy.catalogue import Catalogue


@pytest.mark.parametrize(
    ("name", "vendor_id"),
    [
        ("_ga", "google-analytics"),
        ("_ga_ABC123XYZ", "google-analytics"),
        ("_gid", "google-analytics"),
        ("_gat", "google-analytics"),
        ("_gat_UA-1234-1", "google-analytics"),
        ("__utma", "google-analytics"),
        ("__utmz", "google-analytics"),
        ("__utmxyz", "google-analytics"),
        ("_fbp", "meta-pixel"),
        ("_fbc", "meta-pixel"),
        ("_gcl_au", "google-ads"),
        ("_gcl_aw", "google-ads"),
        ("_hjSessionUser_123", "hotjar"),
        ("_hjid", "hotjar"),
        ("_clck", "microsoft-clarity"),
        ("_clsk", "microsoft-clarity"),
        ("li_fat_id", "linkedin-insight"),
        ("_uetsid", "microsoft-uet"),
        ("_uetvid", "microsoft-uet"),
        ("_pin_unauth", "pinterest-tag"),
        ("_tt_enable_cookie", "tiktok-pixel"),
        ("_ttp", "tiktok-pixel"),
        ("__hstc", "hubspot"),
        ("hubspotutk", "hubspot"),
        ("_ym_uid", "yandex-metrica"),
        ("_ym_d", "yandex-metrica"),
        ("mp_abc_mixpanel", "mixpanel"),
        ("ajs_anonymous_id", "segment"),
        ("_pk_id.1.1fff", "matomo"),
        ("_pk_ses.1.1fff", "matomo"),
        ("__atuvc", "addthis"),
        ("__qca", "quantcast"),
        ("__stripe_mid", "stripe"),
    ],
)
def test_tracker_cookies(catalogue: Catalogue, name: str, vendor_id: str) -> None:
    vendor = catalogue.vendor_for_cookie(name)
    assert vendor is not None and vendor.id == vendor_id


@pytest.mark.parametrize(
    "name",
    ["sessionid", "csrftoken", "PHPSESSID", "consentry", "_g", "ga", "_gaX", "fbp", "_fb", "cart", "wp-settings-1", "_GA"],
)
def test_ordinary_cookies_have_no_vendor(catalogue: Catalogue, name: str) -> None:
    assert catalogue.vendor_for_cookie(name) is None


def test_cookie_names_are_case_sensitive_as_browsers_treat_them(catalogue: Catalogue) -> None:
    assert catalogue.vendor_for_cookie("_fbp") is not None
    assert catalogue.vendor_for_cookie("_FBP") is None


def test_most_specific_pattern_wins() -> None:
    catalogue = Catalogue.from_dict(
        {
            "vendor": [
                {"id": "broad", "name": "Broad", "category": "analytics", "hosts": ["a.test"], "cookies": ["_x*"]},
                {"id": "narrow", "name": "Narrow", "category": "marketing", "hosts": ["b.test"], "cookies": ["_xyz_*"]},
                {"id": "exact", "name": "Exact", "category": "necessary", "hosts": ["c.test"], "cookies": ["_xyz_1"]},
            ]
        }
    )
    assert catalogue.vendor_for_cookie("_xa").id == "broad"  # type: ignore[union-attr]
    assert catalogue.vendor_for_cookie("_xyz_2").id == "narrow"  # type: ignore[union-attr]
    assert catalogue.vendor_for_cookie("_xyz_1").id == "exact"  # type: ignore[union-attr]
    assert catalogue.vendor_for_cookie("_y") is None


def test_regex_characters_in_cookie_names_are_literal() -> None:
    catalogue = Catalogue.from_dict(
        {"vendor": [{"id": "dots", "name": "Dots", "category": "analytics", "hosts": ["a.test"], "cookies": ["_ce.s", "a+b*"]}]}
    )
    assert catalogue.vendor_for_cookie("_ce.s") is not None
    assert catalogue.vendor_for_cookie("_cexs") is None
    assert catalogue.vendor_for_cookie("a+b1") is not None
    assert catalogue.vendor_for_cookie("aab1") is None
