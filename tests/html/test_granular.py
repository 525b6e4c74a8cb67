"""Granular edits: only the refused URLs of an element are neutralised, the rest stays live.

A ``Decision`` with ``refused`` set drops one srcset/imagesrcset candidate or one ping
target, moves a tracker poster or lazy-load attribute, and keeps the first-party rest of
the element; the full original waits in ``data-consent-*`` for the runtime to restore.
Checked whole and split, and read back with html5lib (an independent WHATWG parser).
"""

from __future__ import annotations

import html5lib
import pytest

from html_helpers import is_tracker_url, run_split
from proxy.html import KEEP, Action, Decision, Element


class Granular:
    """Refuses exactly the tracker.test URLs of an element, keeping the rest live."""

    def __init__(self, action: Action = Action.DEFER) -> None:
        self.action = action

    def __call__(self, element: Element) -> Decision:
        refused = frozenset(url for url in element.urls if is_tracker_url(url.url))
        if not refused:
            return KEEP
        partial = refused if len(refused) < len(element.urls) else None
        return Decision(self.action, "marketing", "tracker-vendor", refused=partial)


MARK = ' data-consent="marketing" data-consent-vendor="tracker-vendor" data-consent-partial'
CASES = {
    "one srcset candidate": (
        '<img src="/a.png" srcset="/a2.png 2x, https://tracker.test/b.png 3x, /a4.png 4x" alt=x>',
        {"src": "/a.png", "srcset": "/a2.png 2x, /a4.png 4x",
         "data-consent-srcset": "/a2.png 2x, https://tracker.test/b.png 3x, /a4.png 4x"},
        {"src": "/a.png", "srcset": "/a2.png 2x, /a4.png 4x"}),
    "srcset candidate with a comma in its URL and width descriptors": (
        '<img srcset="/x,1.png 100w,https://tracker.test/t.png 200w">',
        {"srcset": "/x,1.png 100w", "data-consent-srcset": "/x,1.png 100w,https://tracker.test/t.png 200w"},
        {"srcset": "/x,1.png 100w"}),
    "source in picture": (
        '<picture><source srcset="https://tracker.test/s.webp 1x, /s2.webp 2x"><img src=/x></picture>',
        {"srcset": "/s2.webp 2x", "data-consent-srcset": "https://tracker.test/s.webp 1x, /s2.webp 2x"},
        {"srcset": "/s2.webp 2x"}),
    "link imagesrcset": (
        '<link rel=preload as=image href=/h.png imagesrcset="/i.png 1x, https://tracker.test/i.png 2x">',
        {"href": "/h.png", "imagesrcset": "/i.png 1x", "data-consent-imagesrcset": "/i.png 1x, https://tracker.test/i.png 2x"},
        {"href": "/h.png", "imagesrcset": "/i.png 1x"}),
    "one ping target": (
        '<a href="/next" ping="/own https://tracker.test/p /own2">go</a>',
        {"href": "/next", "ping": "/own /own2", "data-consent-ping": "/own https://tracker.test/p /own2"},
        {"href": "/next", "ping": "/own /own2"}),
    "tracker poster, first-party video": (
        '<video src="/v.mp4" poster="https://tracker.test/p.jpg" controls></video>',
        {"src": "/v.mp4", "data-consent-poster": "https://tracker.test/p.jpg", "controls": ""},
        {"src": "/v.mp4", "controls": ""}),
    "tracker lazy source, first-party placeholder": (
        '<img src="/blank.gif" data-src="https://tracker.test/l.png" class=lazy>',
        {"src": "/blank.gif", "data-consent-data-src": "https://tracker.test/l.png", "class": "lazy"},
        {"src": "/blank.gif", "class": "lazy"}),
    "character references in the list": (
        '<img src=/a.png srcset="/b.png 2x,https&#58;//tracker.test/c.png 3x">',
        {"src": "/a.png", "srcset": "/b.png 2x", "data-consent-srcset": "/b.png 2x,https://tracker.test/c.png 3x"},
        {"src": "/a.png", "srcset": "/b.png 2x"}),
}


def _attributes(document: bytes, tag: str) -> dict[str, str]:
    tree = html5lib.parse(document, namespaceHTMLElements=False, transport_encoding="utf-8")
    element = tree.find(f".//{tag}")
    assert element is not None, document
    return dict(element.attrib)


@pytest.mark.parametrize("name", list(CASES))
def test_defer_keeps_the_first_party_rest(name: str) -> None:
    source, deferred, _ = CASES[name]
    tag = source[1:].split()[0].split(">")[0]
    if tag == "picture":
        tag = "source"
    out = run_split(source.encode(), Granular)
    attributes = _attributes(out, tag)
    expected = {**deferred, "data-consent": "marketing", "data-consent-vendor": "tracker-vendor",
                "data-consent-partial": ""}
    for key, value in _attributes(source.encode(), tag).items():
        if key not in expected and not any(key == k.removeprefix("data-consent-") for k in deferred):
            expected[key] = value
    assert attributes == expected
    # Nothing refused is live: every live attribute value is free of tracker URLs.
    live = {key: value for key, value in attributes.items() if not key.startswith("data-consent")}
    assert not any("tracker.test" in value for value in live.values()), live


@pytest.mark.parametrize("name", list(CASES))
def test_strip_drops_only_the_refused_urls(name: str) -> None:
    source, _, stripped = CASES[name]
    tag = source[1:].split()[0].split(">")[0]
    if tag == "picture":
        tag = "source"
    out = run_split(source.encode(), lambda: Granular(Action.STRIP))
    attributes = _attributes(out, tag)
    assert {key: value for key, value in attributes.items() if key in stripped or "tracker" in value} == stripped
    assert not any(key.startswith("data-consent") for key in attributes)


def test_every_url_refused_falls_back_to_the_whole_element() -> None:
    out = run_split(b'<img src="https://tracker.test/a.png" srcset="https://tracker.test/b.png 2x">', Granular)
    assert out == (b'<img data-consent-src="https://tracker.test/a.png" data-consent-srcset="https://tracker.test/b.png 2x"'
                   b' data-consent="marketing" data-consent-vendor="tracker-vendor">')


def test_scripts_are_never_partial() -> None:
    def decide(element: Element) -> Decision:
        refused = frozenset(url for url in element.urls if is_tracker_url(url.url))
        return Decision(Action.DEFER, "marketing", refused=refused) if refused else KEEP

    out = run_split(b'<script src="https://tracker.test/a.js" href="/x"></script>', lambda: decide)
    assert b'type="text/plain"' in out and b" src=" not in out


def test_activation_restores_the_original_and_drops_the_partial_marker() -> None:
    deferred = run_split(CASES["one srcset candidate"][0].encode(), Granular)

    def activate(element: Element) -> Decision:
        return Decision(Action.ACTIVATE, "marketing") if "data-consent" in element.attrs else KEEP

    restored = run_split(deferred, lambda: activate)
    attributes = _attributes(restored, "img")
    assert attributes["srcset"] == "/a2.png 2x, https://tracker.test/b.png 3x, /a4.png 4x"
    assert not any(key.startswith("data-consent-") and key != "data-consent-vendor" for key in attributes), attributes
