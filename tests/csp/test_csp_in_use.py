"""A strict site's consent CSP as a host allowlist under the header cap (issue 12, deliverable 6).

The whole known-necessary list does not fit a response header, so a page the proxy has
read gets 'self', its own site, the necessary services the site's pages use (whole
vendors) and the consented vendors; a page it has not read gets the scheme sources. What
a policy admits is checked with an independent CSP3 source matcher (`admits`).
"""

from __future__ import annotations

import logging

import pytest

from csp.csp_fixtures import admits, consent, make_site
from proxy import csp
from proxy.catalogue import Catalogue
from proxy.csp import policy as policy_module
from proxy.csp.in_use import MAX_PAGES, MAX_VENDORS, NecessaryInUse

CATALOGUE = Catalogue.default()
STRICT = {"unknown_third_party": "marketing", "hosts": ()}
PAGE = "https://www.shop.example.co.uk/checkout"


def policy(necessary: frozenset[str] | None, *, page_host: str | None = "www.shop.example.co.uk", granted: tuple[str, ...] = (),
           **site: object) -> tuple[str, dict[str, list[str]]]:
    built = csp.build_csp(make_site(**{**STRICT, **site}), consent(*granted), upstream_csp=None, nonce="n0nce",
                          catalogue=CATALOGUE, necessary=necessary, page_host=page_host)
    assert built is not None
    return built[1], csp.parse_policy(built[1])[0]


def allowlist_bytes(directives: dict[str, list[str]]) -> int:
    return sum(len(s) + 1 for name in ("default-src", "script-src") for s in directives[name] if not s.startswith("'"))


def test_the_whole_necessary_list_does_not_fit_so_an_unread_page_gets_schemes(caplog: pytest.LogCaptureFixture) -> None:
    policy_module._note_unread.cache_clear()
    with caplog.at_level(logging.INFO, logger="proxy.csp.policy"):
        _, directives = policy(None)
    assert "https:" in directives["default-src"] and "https:" in directives["script-src"]
    assert "scheme sources before" in caplog.text


def test_a_read_page_gets_an_allowlist_of_the_necessary_services_it_uses() -> None:
    text, directives = policy(frozenset({"stripe", "jsdelivr"}))
    assert "https:" not in directives["default-src"] and "http:" not in directives["script-src"]
    for directive, url in [
        ("script-src-elem", "https://js.stripe.com/v3/"),
        ("frame-src", "https://js.stripe.com/v3/elements-inner.html"),
        ("frame-src", "https://hooks.stripe.com/redirect"),
        ("connect-src", "https://api.stripe.com/v1/tokens"),
        ("connect-src", "https://m.stripe.network/6"),
        ("script-src-elem", "https://cdn.jsdelivr.net/npm/jquery@3/dist/jquery.min.js"),
        # The page's own site by the Public Suffix List: its apex and every subdomain.
        ("script-src-elem", "https://static.shop.example.co.uk/app.js"),
        ("img-src", "https://shop.example.co.uk/logo.png"),
        ("img-src", "https://a.b.shop.example.co.uk/logo.png"),
    ]:
        assert admits(directives, directive, url, page=PAGE), (directive, url)
    for directive, url in [
        ("script-src-elem", "https://unknown-widget.example/loader.js"),   # unknown: refused in strict mode
        ("img-src", "https://other.co.uk/pixel.gif"),
        ("script-src-elem", "https://www.paypal.com/sdk/js"),     # necessary, but no page of this site uses it
        ("script-src-elem", "https://www.googletagmanager.com/gtm.js"),   # refused marketing
        ("connect-src", "https://www.google-analytics.com/g/collect"),
    ]:
        assert not admits(directives, directive, url, page=PAGE), (directive, url)
    assert len(text) < 2048, len(text)


def test_a_consent_whose_vendors_pass_the_cap_gets_schemes() -> None:
    # Consented vendors are admitted whole (a consented tag manager loads vendors no markup
    # names); the shipped catalogue's 182 analytics vendors alone pass the cap, so a visitor
    # who granted analytics on a strict site gets the schemes and the guard's unknown-host
    # check (tests/csp/test_csp_policy.py checks consented vendors admitted with a small catalogue).
    _, directives = policy(frozenset({"stripe"}), granted=("analytics",))
    assert "https:" in directives["script-src"] and "'nonce-n0nce'" in directives["script-src"]


def test_a_page_host_that_is_not_a_plain_dns_name_adds_nothing() -> None:
    # The Host header is the visitor's: nothing of it may reach the header but a checked name.
    text, directives = policy(frozenset({"stripe"}), page_host="evil.example;script-src *")
    assert "evil" not in text and ";script-src *" not in text
    _, directives = policy(frozenset({"stripe"}), page_host="127.0.0.1:8080")
    assert not admits(directives, "img-src", "https://127.0.0.2/x.png", page="https://127.0.0.1:8080/")
    # Public suffixes below the domain belong to others: only the page's own host ('self').
    _, directives = policy(frozenset({"stripe"}), page_host="www.amazonaws.com")
    assert not admits(directives, "img-src", "https://bucket.s3.amazonaws.com/x.png", page="https://www.amazonaws.com/")


def test_an_unknown_vendor_id_admits_nothing() -> None:
    _, plain = policy(frozenset())
    _, odd = policy(frozenset({"no-such-vendor", "doubleclick"}))   # doubleclick is marketing, refused
    assert plain == odd


def test_too_many_necessary_services_in_use_fall_back_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    everything = frozenset(v.id for v in CATALOGUE.vendors.values() if v.category == "necessary")
    policy_module._warn_large.cache_clear()
    with caplog.at_level(logging.WARNING, logger="proxy.csp.policy"):
        _, directives = policy(everything)
        policy(everything)
    assert "https:" in directives["script-src"]
    assert caplog.text.count("guard alone") == 1


@pytest.mark.parametrize("granted", [(), ("analytics",), ("preferences",)])
def test_the_allowlist_never_passes_the_cap(granted: tuple[str, ...]) -> None:
    used = frozenset(sorted(v.id for v in CATALOGUE.vendors.values() if v.category == "necessary")[:40])
    text, directives = policy(used, granted=granted)
    if "https:" not in directives["default-src"]:
        assert allowlist_bytes(directives) <= policy_module.MAX_ALLOWLIST_BYTES
    assert len(text) < 8 * 1024 - 500


def test_in_use_is_bounded_and_needs_the_page_read() -> None:
    seen = NecessaryInUse()
    assert seen.for_page("/") is None
    seen.record("/", ["stripe"])
    assert seen.for_page("/") == {"stripe"} and seen.for_page("/other") is None
    seen.record("/other", ["jsdelivr"])
    assert seen.for_page("/") == {"stripe", "jsdelivr"}   # the site's union, once the page was read
    for n in range(MAX_PAGES + 10):
        seen.record(f"/p{n}", [f"v{n}"])
    assert seen.for_page("/") is None   # forgotten, least recently seen first
    assert len(seen.vendors) == MAX_VENDORS
