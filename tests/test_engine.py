"""The engine: site rules and vendor overrides over the catalogue, consent over both."""

from __future__ import annotations

from typing import Any

import pytest
from factories import make_state

import factories
from proxy.consent import ConsentState
from proxy.engine import Engine, Report
from proxy.policy import SitePolicy


NONE = make_state()
ALL = make_state({"preferences", "analytics", "marketing"})
ANALYTICS = make_state({"analytics"})


def make_site(**overrides: Any) -> SitePolicy:
    return factories.make_site(**{"site_id": "shop", "hosts": ["shop.example"], **overrides})


def rewrite(html: bytes, state: ConsentState, site: SitePolicy | None = None, **options: Any) -> tuple[bytes, Report]:
    report = Report()
    rewriter = Engine(site or make_site()).rewriter(state, base_url="https://shop.example/", report=report, **options)
    return rewriter.feed(html) + rewriter.close(), report


GA = b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
PIXEL = b"<script>fbq('init', '1'); fbq('track', 'PageView');</script>"
YOUTUBE = b'<iframe src="https://www.youtube.com/embed/x"></iframe>'


def test_refused_analytics_script_is_deferred_with_vendor() -> None:
    out, report = rewrite(GA, NONE)
    assert b'type="text/plain"' in out
    assert b'data-consent="analytics"' in out
    assert b'data-consent-src="https://www.googletagmanager.com/gtag/js?id=G-1"' in out
    assert b" src=" not in out
    assert [(e.action, e.category) for e in report.entries] == [("defer", "analytics")]


def test_granted_category_keeps_bytes() -> None:
    page = GA + PIXEL + YOUTUBE
    out, report = rewrite(page, ALL)
    assert out == page
    assert {e.action for e in report.entries} == {"keep"}


def test_inline_signature_is_classified() -> None:
    out, _ = rewrite(PIXEL, ANALYTICS)
    assert b'data-consent="marketing"' in out and b'type="text/plain"' in out


def test_strip_mode_removes_element_and_content() -> None:
    out, _ = rewrite(b"<p>a</p>" + PIXEL + b"<p>b</p>", NONE, mode="strip")
    assert out == b"<p>a</p><p>b</p>"


def test_site_rule_beats_catalogue() -> None:
    rule = {"category": "analytics", "vendor": "own-stats", "host": "stats.shop.example"}
    site = make_site(rules=[rule])
    out, report = rewrite(b'<img src="https://stats.shop.example/p.gif">', NONE, site)
    assert b'data-consent-src="https://stats.shop.example/p.gif"' in out
    assert report.entries[0].vendor == "own-stats"


def test_vendor_override_always_and_never() -> None:
    always = make_site(vendors={"youtube-embed": {"allow": "always"}})
    assert rewrite(YOUTUBE, NONE, always)[0] == YOUTUBE
    never = make_site(vendors={"google-analytics": {"allow": "never"}})
    out, _ = rewrite(GA, ALL, never)
    assert b"data-consent-src" in out


def test_vendor_override_moves_category() -> None:
    site = make_site(vendors={"youtube-embed": {"category": "preferences"}})
    assert rewrite(YOUTUBE, make_state({"preferences"}), site)[0] == YOUTUBE
    assert b'data-consent="preferences"' in rewrite(YOUTUBE, NONE, site)[0]


def test_unknown_third_party_follows_policy() -> None:
    img = b'<img src="https://cdn.unknown-widgets.test/w.png">'
    out, report = rewrite(img, NONE)
    assert out == img and report.entries[0].vendor is None
    out, _ = rewrite(img, NONE, make_site(unknown_third_party="marketing"))
    assert b'data-consent="marketing"' in out


def test_first_party_and_necessary_stay() -> None:
    page = b'<script src="/static/app.js"></script><script src="https://js.stripe.com/v3/"></script><img src="https://img.shop.example/a.png">'
    out, _ = rewrite(page, NONE, make_site(unknown_third_party="marketing"))
    assert out == page


def test_author_marked_markup_is_activated_on_consent() -> None:
    marked = b'<script type="text/plain" data-category="analytics" src="https://www.google-analytics.com/analytics.js"></script>'
    kept, _ = rewrite(marked, NONE)
    assert kept == marked
    activated, _ = rewrite(marked, ANALYTICS)
    assert b"text/plain" not in activated and b'src="https://www.google-analytics.com/analytics.js"' in activated


def test_author_mark_on_live_element_is_enforced() -> None:
    marked = b'<img data-consent="marketing" src="/own-pixel.gif">'
    out, _ = rewrite(marked, NONE)
    assert b'data-consent-src="/own-pixel.gif"' in out


def test_vendor_override_in_cookie_grants_one_vendor() -> None:
    state = make_state(vendors={"youtube-embed": True})
    assert rewrite(YOUTUBE, state)[0] == YOUTUBE


def test_nonce_added_to_kept_scripts_only() -> None:
    out, _ = rewrite(b"<script>var a=1;</script>" + PIXEL, NONE, nonce="abc123")
    assert out.count(b'nonce="abc123"') == 1
    assert out.startswith(b'<script nonce="abc123">') or b'nonce="abc123">var a=1;' in out


def test_link_header_filtering() -> None:
    engine = Engine(make_site())
    value = '</app.css>; rel=preload; as=style, <https://www.google-analytics.com>; rel=preconnect, <https://fonts.gstatic.com>; rel=preconnect'
    assert engine.filter_link_header(value, NONE, "shop.example") == "</app.css>; rel=preload; as=style, <https://fonts.gstatic.com>; rel=preconnect"
    assert engine.filter_link_header(value, ALL, "shop.example") == value.replace(", ", ", ")
    assert engine.filter_link_header("<https://connect.facebook.net/x.js>; rel=preload", NONE) is None


@pytest.mark.parametrize(("name", "refused"), [("_ga", True), ("_ga_ABC123", True), ("_fbp", True), ("session", False), ("csrftoken", False)])
def test_refused_cookies(name: str, refused: bool) -> None:
    engine = Engine(make_site())
    assert engine.refused_cookie(name, NONE) is refused
    assert engine.refused_cookie(name, ALL) is False


def test_strip_cookies_off_keeps_every_cookie() -> None:
    assert Engine(make_site(strip_cookies=False)).refused_cookie("_ga", NONE) is False


def test_etag_suffix_differs_by_consent_only() -> None:
    engine = Engine(make_site())
    assert engine.etag_suffix(NONE) == engine.etag_suffix(make_state())
    assert engine.etag_suffix(NONE) != engine.etag_suffix(ANALYTICS)
    assert engine.etag_suffix(NONE) != engine.etag_suffix(make_state(vendors={"youtube-embed": True}))


def test_refuses_url() -> None:
    engine = Engine(make_site())
    found = engine.refuses_url("https://www.google-analytics.com/g/collect?v=2", NONE, "shop.example")
    assert found is not None and found.category == "analytics"
    assert engine.refuses_url("https://www.google-analytics.com/g/collect?v=2", ANALYTICS, "shop.example") is None
    assert engine.refuses_url("https://shop.example/api", NONE, "shop.example") is None


def test_report_names_what_classified_each_element() -> None:
    rule = {"category": "analytics", "host": "stats.shop.example"}
    page = b'<img src="https://stats.shop.example/p.gif"><img src="https://cdn.unknown.test/a.png">' + GA
    _, report = rewrite(page, NONE, make_site(rules=[rule]))
    assert [entry.source for entry in report.entries] == ["rule", "unknown", "catalogue"]


def test_author_mark_lists_need_every_category() -> None:
    marked = b'<script type="text/plain" data-cookieconsent="statistics, marketing" src="/stats.js"></script>'
    assert rewrite(marked, ANALYTICS)[0] == marked
    assert b"text/plain" not in rewrite(marked, ALL)[0]


def test_consent_library_names_on_other_elements_are_not_marks() -> None:
    page = b'<img data-category="gallery" src="/a.jpg"><a data-category="nav" href="/x">x</a>'
    assert rewrite(page, NONE)[0] == page


def test_cookiebot_ignore_is_not_a_category() -> None:
    """Cookiebot's "ignore" means "not mine to block": neither a category nor a reason to activate."""
    page = b'<script type="text/plain" data-cookieconsent="ignore">var a = 1;</script><script data-cookieconsent="ignore" src="/app.js"></script>'
    assert rewrite(page, NONE)[0] == page
    assert rewrite(page, ALL)[0] == page


def test_deferred_ping_is_restored_on_consent() -> None:
    deferred, _ = rewrite(b'<a href="/" ping="https://www.facebook.com/tr?id=1">x</a>', NONE)
    assert b"data-consent-ping" in deferred and b" ping=" not in deferred
    restored, _ = rewrite(deferred, ALL)
    assert b' ping="https://www.facebook.com/tr?id=1"' in restored


def test_full_consent_keeps_ambiguous_noscript_bytes_and_no_consent_defuses_them() -> None:
    page = b'<noscript><p title="</noscript><img src=https://www.facebook.com/tr?id=1>">x</p></noscript>'
    assert rewrite(page, ALL)[0] == page
    out, _ = rewrite(page, NONE)
    assert out != page and b"</noscript><img" not in out


@pytest.mark.parametrize(
    ("url", "first_party"),
    [
        ("https://cdn.shop.example.co.uk/a.png", True),
        ("https://shop.example.co.uk/a.png", True),
        ("https://other.co.uk/a.png", False),
        ("https://someone-else.github.io/a.png", False),
        ("/a.png", True),
    ],
)
def test_first_party_uses_the_catalogues_same_site_rule(url: str, first_party: bool) -> None:
    engine = Engine(make_site(hosts=["www.shop.example.co.uk", "me.github.io"], unknown_third_party="marketing"))
    found = engine.classify_url(url, "www.shop.example.co.uk")
    assert (found is None) is first_party


def test_full_consent_fast_path_keeps_bytes_and_still_activates_author_marks() -> None:
    marked = b'<script type="text/plain" data-category="analytics" src="https://www.google-analytics.com/analytics.js"></script>'
    page = GA + PIXEL + YOUTUBE + marked
    full, report = rewrite(page, ALL)
    fast, fast_report = rewrite(page, ALL, fast_full_consent=True)
    assert fast == full and b"text/plain" not in fast
    # Only the author-marked element was looked at: the others were copied unseen.
    assert len(fast_report.entries) == 1 and len(report.entries) == 4
    # Not full consent, or a nonce to add: the fast path does not apply.
    assert rewrite(page, ANALYTICS, fast_full_consent=True) == rewrite(page, ANALYTICS)
    assert b"nonce=" in rewrite(GA, ALL, fast_full_consent=True, nonce="n0nce")[0]
