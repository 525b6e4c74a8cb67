"""head_snippet / body_snippet: what the proxy inserts into every page, checked as a browser parses it."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.consent import ConsentState
from proxy.web import asset_reply, body_snippet, google_consent, head_snippet, json_for_script, safe_return_to
from proxy.web.assets import CACHE_FOREVER
from web_harness import harness_vendor, make_site

UNDECIDED = ConsentState()


def decided(*categories: str, gpc: bool = False) -> ConsentState:
    return ConsentState(categories=frozenset({"necessary", *categories}), decided=True, source="cookie", gpc=gpc)


def parse(document: str) -> object:
    return html5lib.parse(document, namespaceHTMLElements=False)


def state_json(snippet: bytes) -> dict[str, object]:
    """The visitor's state the page itself carries."""
    tree = parse("<!DOCTYPE html><html><head>" + snippet.decode("ascii") + "</head><body></body></html>")
    node = tree.find(".//script[@id='consentry-state']")
    assert node is not None
    return json.loads(node.text)


def runtime_data(site: object, snippet: bytes) -> dict[str, object]:
    """What consent.js works from: the site.js file the snippet names, under the page's state."""
    tree = parse("<!DOCTYPE html><html><head>" + snippet.decode("ascii") + "</head><body></body></html>")
    src = next(s.get("src") for s in tree.iter("script") if "/site.js?" in (s.get("src") or ""))
    path, _, query = src.partition("?")
    reply = asset_reply(site, path.rsplit("/", 1)[1], dict(parse_qsl(query)), {})
    assert reply is not None and reply.status == 200
    assert reply.headers["Cache-Control"] == CACHE_FOREVER, "the page names the current version"
    text = reply.body.decode("ascii")
    prefix = "window.__consentry_site="
    assert text.startswith(prefix) and text.endswith(";")
    shared = json.loads(text[len(prefix):-1])
    visitor = state_json(snippet)
    assert not set(shared) & set(visitor), "each key has one home"
    return {**shared, **visitor}


def test_snippet_is_ascii_and_everything_stays_in_head() -> None:
    site = make_site(google_consent_mode="basic")
    snippet = head_snippet(site, UNDECIDED, lang="fr", nonce="n0nce", vendors=[harness_vendor("ga", "Gä Analytics", "analytics")])
    snippet.decode("ascii")  # raises if not ASCII
    tree = parse("<!DOCTYPE html><html><head>" + snippet.decode("ascii") + "<title>t</title></head><body><p>x</p></body></html>")
    head = tree.find("head")
    # The parser kept every inserted element (and the page's own title) in <head>.
    assert head.find("title") is not None
    assert [el.tag for el in head if el.tag in ("script", "link")][-3:] == ["link", "script", "script"]
    scripts = head.findall("script")
    assert all(s.get("nonce") == "n0nce" for s in scripts if s.get("type") != "application/json")
    assert re.fullmatch(r"/_consent/consent\.css\?v=[0-9a-f]{16}", head.find("link").get("href"))
    site_js, runtime = [s for s in scripts if s.get("src") and s.get("defer") is not None]
    assert re.fullmatch(r"/_consent/site\.js\?lang=fr&v=[0-9a-f]{16}", site_js.get("src"))
    assert re.fullmatch(r"/_consent/consent\.js\?v=[0-9a-f]{16}", runtime.get("src"))
    data = runtime_data(site, snippet)
    assert data["lang"] == "fr" and data["texts"]["accept_all"] == "Tout accepter"
    assert data["vendors"][0]["name"] == "Gä Analytics"


def test_guard_comes_first_then_consent_mode_then_state() -> None:
    site = make_site(google_consent_mode="advanced")
    text = head_snippet(site, UNDECIDED, lang="en", nonce="abc", vendors=[]).decode("ascii")
    guard = text.find("/_consent/guard.js?v=")
    consent_default = text.find("gtag('consent','default'")
    state = text.find('id="consentry-state"')
    assert 0 < guard < consent_default < state, (guard, consent_default, state)
    assert re.match(r'<script src="/_consent/guard\.js\?v=[0-9a-f]{16}" data-state=\'[^\']*\' nonce="abc"></script>', text)


def test_no_consent_mode_script_when_off() -> None:
    text = head_snippet(make_site(google_consent_mode="off"), UNDECIDED, lang="en", nonce=None).decode()
    assert "gtag(" not in text
    assert "nonce=" not in text


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (UNDECIDED, {"analytics_storage": "denied", "ad_storage": "denied", "functionality_storage": "denied"}),
        (decided("analytics"), {"analytics_storage": "granted", "ad_storage": "denied", "ad_user_data": "denied"}),
        (decided("marketing", "preferences"), {"ad_storage": "granted", "ad_personalization": "granted",
                                               "personalization_storage": "granted", "analytics_storage": "denied"}),
        (decided("marketing", gpc=True), {"ad_storage": "denied", "ad_user_data": "denied"}),
    ],
)
def test_google_consent_defaults_follow_the_server_side_state(state: ConsentState, expected: dict[str, str]) -> None:
    site = make_site(google_consent_mode="basic")
    values = google_consent(site, state)
    assert values["security_storage"] == "granted"
    for key, value in expected.items():
        assert values[key] == value, key
    text = head_snippet(site, state, lang="en", nonce=None).decode()
    emitted = json.loads(re.search(r"gtag\('consent','default',(\{.*?\})\);", text).group(1))
    assert {k: v for k, v in emitted.items() if k != "wait_for_update"} == values
    assert emitted["wait_for_update"] > 0


def test_state_json_reflects_the_decision_and_gpc() -> None:
    site = make_site()
    data = runtime_data(site, head_snippet(site, decided("analytics", gpc=True), lang="en", nonce=None))
    assert data["decided"] is True and data["gpc"] is True
    assert data["granted"] == ["analytics", "necessary"]
    categories = {c["name"]: c for c in data["categories"]}
    assert list(categories)[0] == "necessary" and categories["necessary"]["required"]
    assert "granted" not in categories["analytics"], "what is granted is the visitor's, in the page"


def test_site_text_overrides_and_theme_reach_the_runtime() -> None:
    site = make_site(banner={"texts": {"nl": {"title": "Koekjes?", "message": "Mag het?"}},
                             "theme": {"accent": "#004400", "bg": "#fffff0"}})
    data = runtime_data(site, head_snippet(site, UNDECIDED, lang="nl", nonce=None))
    assert data["texts"]["title"] == "Koekjes?"
    assert data["texts"]["intro"] == "Mag het?", "the policy file's 'message' is the banner's intro"
    assert data["texts"]["reject_all"] == "Alles weigeren"
    assert data["theme"] == {"--consentry-accent": "#004400", "--consentry-bg": "#fffff0"}


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_state_json_cannot_break_out_of_its_script(evil: str) -> None:
    # (A policy file's texts are never empty and its link is a path or an http(s) URL.)
    site = make_site(banner={"texts": {"en": {"title": "t" + evil, "intro": "</script><script>alert(1)</script>" + evil}},
                             "privacy_policy_url": "/p?" + evil})
    snippet = head_snippet(site, UNDECIDED, lang="en", nonce=None)
    text = snippet.decode("ascii")
    body = text.split('id="consentry-state">', 1)[1].split("</script>", 1)[0]
    assert "<" not in body and ">" not in body and "&" not in body
    tree = parse("<!DOCTYPE html><html><head>" + text + "</head><body></body></html>")
    assert len(tree.findall(".//script[@id='consentry-state']")) == 1
    # The site's texts travel in site.js, pure ASCII JSON with no way out of its script.
    data = runtime_data(site, snippet)
    assert data["texts"]["title"] == "t" + evil and data["privacy_policy_url"] == "/p?" + evil


def test_json_for_script_escapes_line_separators() -> None:
    out = json_for_script({"a": "\u2028\u2029<!--"})
    assert "\u2028" not in out and "\u2029" not in out and "<" not in out
    assert json.loads(out) == {"a": "\u2028\u2029<!--"}


def parse_without_scripting(document: str) -> object:
    return html5lib.HTMLParser(namespaceHTMLElements=False).parse(document, scripting=False)


def test_body_snippet_no_js_banner_is_a_form_posting_to_the_consent_path() -> None:
    snippet = body_snippet(make_site(), UNDECIDED, lang="de", return_to="/shop?x=1").decode("ascii")
    # Parsed as a browser with JavaScript off does: <noscript> content is markup there.
    tree = parse_without_scripting("<!DOCTYPE html><html><head><title>t</title></head><body>" + snippet + "<p>x</p></body></html>")
    form = tree.find("body/noscript/form")
    assert form is not None and tree.find("head/title") is not None
    assert form.get("method") == "post" and form.get("action") == "/_consent/"
    buttons = {b.get("value"): b.text for b in form.iter("button")}
    assert buttons == {"accept_all": "Alle akzeptieren", "reject_all": "Alle ablehnen"}
    assert form.find(".//input[@name='return_to']").get("value") == "/shop?x=1"
    assert form.find(".//a").get("href") == "/_consent/?return_to=/shop%3Fx%3D1"


def test_why_the_form_cannot_live_in_the_head_snippet() -> None:
    # The same markup right after <head> ends the head early: the page's own <title>
    # (and every meta/link after it) would be pulled into <body>.
    snippet = body_snippet(make_site(), UNDECIDED, lang="en").decode("ascii")
    tree = parse_without_scripting("<!DOCTYPE html><html><head>" + snippet + "<title>t</title></head><body></body></html>")
    assert tree.find("head/title") is None and tree.find("body/title") is not None


def test_body_snippet_after_a_decision_is_only_a_settings_link() -> None:
    text = body_snippet(make_site(), decided("analytics"), lang="en", return_to="/a").decode()
    assert "<form" not in text and 'href="/_consent/?return_to=/a"' in text
    site = make_site(banner={"enabled": False})
    assert body_snippet(site, UNDECIDED, lang="en") == b""


@pytest.mark.parametrize(
    ("value", "expected"),
    [("/shop?a=1", "/shop?a=1"), ("//evil.example/", "/"), ("https://evil.example/", "/"), ("/\\evil", "/"),
     ("", "/"), (None, "/"), ("/a\nb", "/"), ("javascript:alert(1)", "/")],
)
def test_return_to_stays_on_the_site(value: str | None, expected: str) -> None:
    assert safe_return_to(value) == expected


def test_banner_disabled_is_passed_to_the_runtime() -> None:
    site = make_site(banner={"enabled": False})
    assert runtime_data(site, head_snippet(site, UNDECIDED, lang="en", nonce=None))["show_banner"] is False
