"""The no-JS preferences page at GET /_consent/: a plain form that tells the whole story."""

from __future__ import annotations

import html5lib

from proxy.consent import ConsentState
from proxy.web import render_preferences_page
from web_harness import harness_vendor, make_site

VENDORS = [
    harness_vendor("google-analytics", "Google Analytics", "analytics", "https://policies.google.com/privacy",
                  {"_ga": "2 years", "_gid": "24 hours"}),
    harness_vendor("meta-pixel", "Meta Pixel", "marketing", "https://www.facebook.com/privacy/policy/", {"_fbp": "90 days"}),
    harness_vendor("youtube-embed", "YouTube <b>", "marketing", "https://policies.google.com/privacy", {}, embed=True),
]


def render(state: ConsentState, **site_overrides: object) -> object:
    text = render_preferences_page(make_site(**site_overrides), state, lang="en", return_to="/shop", vendors=VENDORS)
    assert text.startswith("<!DOCTYPE html>")
    return html5lib.parse(text, namespaceHTMLElements=False)


def checkboxes(tree: object) -> dict[str, object]:
    return {box.get("value") or box.get("id"): box for box in tree.iter("input") if box.get("type") == "checkbox"}


def test_one_form_posting_to_the_consent_path_with_three_equal_actions() -> None:
    tree = render(ConsentState())
    forms = tree.findall(".//form")
    assert len(forms) == 1
    form = forms[0]
    assert form.get("method") == "post" and form.get("action") == "/_consent/"
    actions = [(b.get("name"), b.get("value")) for b in form.iter("button")]
    # "save" first: Enter in a checkbox submits with the first button, which must never be "accept all".
    assert actions == [("action", "save"), ("action", "reject_all"), ("action", "accept_all")]
    assert len({b.get("class") for b in form.iter("button")}) == 1, "equal weight"
    assert form.find(".//input[@name='return_to']").get("value") == "/shop"


def test_nothing_pre_ticked_for_a_new_visitor() -> None:
    boxes = checkboxes(render(ConsentState()))
    assert {name for name, box in boxes.items() if box.get("name") == "category"} == {"preferences", "analytics", "marketing"}
    assert not [name for name, box in boxes.items() if box.get("name") == "category" and box.get("checked") is not None]
    necessary = boxes["consentry-cat-necessary"]
    assert necessary.get("checked") is not None and necessary.get("disabled") is not None and necessary.get("name") is None


def test_previous_grants_are_ticked() -> None:
    state = ConsentState(categories=frozenset({"necessary", "analytics"}), decided=True, source="cookie")
    boxes = checkboxes(render(state))
    assert boxes["analytics"].get("checked") is not None
    assert boxes["marketing"].get("checked") is None


def test_descriptions_vendors_privacy_links_and_lifetimes() -> None:
    tree = render(ConsentState())
    text = "".join(tree.find("body").itertext())
    assert "Google Analytics" in text and "_ga (2 years)" in text and "_gid (24 hours)" in text
    assert "Meta Pixel" in text and "_fbp (90 days)" in text
    assert "YouTube <b>" in text, "vendor names are escaped, not markup"
    links = {a.get("href") for a in tree.iter("a")}
    assert "https://policies.google.com/privacy" in links and "https://www.facebook.com/privacy/policy/" in links
    assert "/privacy" in links, "the site's privacy policy"
    assert "/shop" in links, "a way back"
    categories = tree.findall(".//div[@class='consentry-category']")
    assert all(c.find("p[@class='consentry-description']").text for c in categories)
    analytics = [c for c in categories if c.find(".//input[@value='analytics']") is not None][0]
    assert "Google Analytics" in "".join(analytics.itertext()) and "Meta Pixel" not in "".join(analytics.itertext())


def test_gpc_is_explained_and_marketing_locked_when_honoured() -> None:
    tree = render(ConsentState(gpc=True))
    text = "".join(tree.find("body").itertext())
    assert "Global Privacy Control" in text
    assert checkboxes(tree)["marketing"].get("disabled") is not None
    honoured = "".join(render(ConsentState()).find("body").itertext())
    assert "We honour Global Privacy Control" in honoured
    not_honoured = "".join(render(ConsentState(), honor_gpc=False).find("body").itertext())
    assert "Global Privacy Control" not in not_honoured


def test_unsafe_return_to_is_replaced() -> None:
    text = render_preferences_page(make_site(), ConsentState(), lang="en", return_to="https://evil.example/", vendors=[])
    tree = html5lib.parse(text, namespaceHTMLElements=False)
    assert tree.find(".//input[@name='return_to']").get("value") == "/"


def test_page_language_and_texts() -> None:
    text = render_preferences_page(make_site(), ConsentState(), lang="it", return_to="/", vendors=[])
    tree = html5lib.parse(text, namespaceHTMLElements=False)
    assert tree.get("lang") == "it"
    assert "Rifiuta tutto" in [b.text for b in tree.iter("button")]
