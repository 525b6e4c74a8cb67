"""Cookie plumbing: reading our cookie, the Set-Cookie we send, withdrawal's expiries."""

from __future__ import annotations


import pytest
from consent.consent_helpers import make_site

from proxy.consent import consent_cookie_header, cookie_values, domain_variants, expire_cookie_headers
from proxy.policy import SitePolicy


def attributes(header: str) -> tuple[str, dict[str, str]]:
    first, *rest = [part.strip() for part in header.split(";")]
    attrs = {}
    for part in rest:
        key, _, value = part.partition("=")
        attrs[key.lower()] = value
    return first, attrs


def test_cookie_values_finds_every_value_across_headers() -> None:
    headers = ['a=1; consentry="x.y.z"; b=2', "consentry=second", "consentryx=no; xconsentry=no", "noequals"]
    assert cookie_values(headers, "consentry") == ["x.y.z", "second"]
    assert cookie_values([], "consentry") == []


@pytest.mark.parametrize("secure", [True, False])
def test_consent_cookie_header_has_the_designed_attributes(secure: bool) -> None:
    site = make_site(cookie_name="shop_consent", lifetime_days=90)
    pair, attrs = attributes(consent_cookie_header("TOKEN", site=site, secure=secure))
    assert pair == "shop_consent=TOKEN"
    assert attrs["max-age"] == str(90 * 86400)
    assert attrs["path"] == "/"
    assert "httponly" in attrs
    assert attrs["samesite"] == "Lax"
    assert ("secure" in attrs) is secure
    assert "domain" not in attrs  # host-only: a sibling subdomain cannot read or shadow it


def test_consent_cookie_header_max_age_override(site: SitePolicy) -> None:
    _, attrs = attributes(consent_cookie_header("T", site=site, secure=False, max_age=42))
    assert attrs["max-age"] == "42"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.shop.example.com", [None, "www.shop.example.com", "shop.example.com", "example.com"]),
        ("Example.COM:8443", [None, "example.com"]),
        ("example.com.", [None, "example.com"]),
        ("shop.example.co.uk", [None, "shop.example.co.uk", "example.co.uk"]),
        ("localhost", [None]),
        ("localhost:8080", [None]),
        ("127.0.0.1:8080", [None]),
        ("[::1]:8080", [None]),
        ("::1", [None]),
    ],
)
def test_domain_variants_never_include_a_public_suffix(host: str, expected: list[str | None]) -> None:
    assert domain_variants(host) == expected


def test_expire_headers_cover_host_and_every_parent_domain() -> None:
    headers = expire_cookie_headers(
        ["_ga", "_ga_ABC123", "_fbp", "session", "consentry"],
        host="www.shop.example.com",
        secure=True,
        refused_categories=["analytics"],
        keep=["consentry"],
    )
    by_cookie: dict[str, list[dict[str, str]]] = {}
    for header in headers:
        pair, attrs = attributes(header)
        name, _, value = pair.partition("=")
        assert value == ""
        assert attrs["max-age"] == "0" and attrs["path"] == "/" and "secure" in attrs
        by_cookie.setdefault(name, []).append(attrs)
    assert set(by_cookie) == {"_ga", "_ga_ABC123"}  # _fbp is marketing (not refused), session unknown
    for attrs_list in by_cookie.values():
        assert sorted(attrs.get("domain", "") for attrs in attrs_list) == [
            "",
            "example.com",
            "shop.example.com",
            "www.shop.example.com",
        ]


def test_expire_headers_follow_a_callers_refusal_rule() -> None:
    # The server passes the engine's per-site view (vendor overrides included).
    headers = expire_cookie_headers(
        ["_ga", "custom_tracker", "_ga"], host="example.com", is_refused=lambda name: name == "custom_tracker"
    )
    assert [attributes(header)[0] for header in headers] == ["custom_tracker=", "custom_tracker="]
    assert all("secure" not in attributes(header)[1] for header in headers)


def test_expire_headers_never_touch_necessary_or_forged_names() -> None:
    headers = expire_cookie_headers(
        ["_ga", "bad;name", "x=y", "_ga\r\nSet-Cookie: evil=1"],
        host="example.com",
        refused_categories=["necessary", "analytics"],
    )
    assert {attributes(header)[0] for header in headers} == {"_ga="}
    assert expire_cookie_headers(["_ga"], host="example.com", refused_categories=["necessary"]) == []


def test_prefixed_cookies_get_the_attributes_browsers_require() -> None:
    headers = expire_cookie_headers(
        ["__Host-tracker", "__Secure-tracker"], host="a.example.com", is_refused=lambda name: True
    )
    host_prefixed = [h for h in headers if h.startswith("__Host-")]
    assert len(host_prefixed) == 1 and "Domain" not in host_prefixed[0] and "Secure" in host_prefixed[0]
    assert all("Secure" in h for h in headers if h.startswith("__Secure-"))
