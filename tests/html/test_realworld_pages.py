"""The 36 real pages of ../shared/realworld: byte identity, chunking, nothing refused stays live.

The judge is html5lib (tests/live_trackers.py), read with scripting on and off. The
decide function here is deliberately simple (a host list and inline signatures): the
point is the markup layer, not the catalogue.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from html_helpers import keep_all, run, run_random_chunks
from live_trackers import live_things
from proxy.html import KEEP, Action, Decision, Element, Rewriter

PAGES_DIR = Path(__file__).resolve().parents[3] / "shared" / "realworld" / "pages"
PAGES = sorted(PAGES_DIR.glob("*.html")) if PAGES_DIR.is_dir() else []
if not PAGES:
    pytestmark = pytest.mark.skip(reason=f"real-world pages not found at {PAGES_DIR}")

TRACKER_HOSTS = ("google-analytics.com", "googletagmanager.com", "doubleclick.net", "googlesyndication.com",
                 "facebook.net", "facebook.com", "connect.facebook.net", "hotjar.com", "clarity.ms",
                 "linkedin.com", "licdn.com", "twitter.com", "platform.twitter.com", "yandex.ru", "mc.yandex.ru",
                 "addthis.com", "sharethis.com", "disqus.com", "youtube.com", "youtube-nocookie.com",
                 "vimeo.com", "dailymotion.com", "soundcloud.com", "instagram.com", "pinterest.com",
                 "scorecardresearch.com", "quantserve.com", "chartbeat.com", "hs-scripts.com", "hubspot.com")
SIGNATURES = ("google-analytics.com", "googletagmanager", "_gaq", "gtag(", "fbq(", "urchinTracker", "yaCounter",
              "hotjar", "ga('create'", "_paq")


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip() if "//" in url else "").hostname or "").lower()
    except ValueError:
        return ""


def is_refused(url: str) -> bool:
    host = _host(url)
    return any(host == h or host.endswith("." + h) for h in TRACKER_HOSTS)


def has_signature(text: str) -> bool:
    return any(signature in text for signature in SIGNATURES)


def make_decide(action: Action):
    def decide(element: Element) -> Decision:
        if any(is_refused(url.url) for url in element.urls):
            return Decision(action, "marketing")
        if element.text and (has_signature(element.text) or any(h in element.text for h in TRACKER_HOSTS)):
            return Decision(action, "analytics")
        return KEEP
    return decide


def _refused_live(document: bytes, encoding: str) -> list[str]:
    found = []
    for scripting in (True, False):
        for thing in live_things(document, scripting=scripting, encoding=encoding):
            value = thing.value
            if thing.kind == "url" and is_refused(value if "//" in value else ""):
                found.append(f"{thing.tag} {value[:80]}")
            elif thing.kind == "script" and (has_signature(value) or any(h in value for h in TRACKER_HOSTS)):
                found.append(f"{thing.tag} script {value[:80]!r}")
    return found


def _kept(document: bytes, encoding: str) -> Counter[tuple[str, str, str]]:
    """Live things that are not refused: these must survive the rewrite.

    <style> blocks are left out: a block is deferred as a whole when any of its URLs is
    refused, so its other URLs go with it (by design, DESIGN.md's table works per element).
    """
    kept: Counter[tuple[str, str, str]] = Counter()
    for thing in live_things(document, scripting=True, encoding=encoding):
        if thing.tag == "style" and thing.kind == "url":
            continue
        if thing.kind == "url" and is_refused(thing.value if "//" in thing.value else ""):
            continue
        if thing.kind == "script" and (has_signature(thing.value) or any(h in thing.value for h in TRACKER_HOSTS)):
            continue
        kept[(thing.kind, thing.tag, thing.value)] += 1
    return kept


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name[:2])
def test_keep_all_is_byte_identical_in_any_chunking(page: Path) -> None:
    data = page.read_bytes()
    seed = random.randrange(10**6)
    print(f"seed={seed}")
    assert run_random_chunks(data, lambda: keep_all, seed=seed, trials=2) == data


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name[:2])
def test_defer_leaves_nothing_refused_live_and_keeps_the_rest(page: Path) -> None:
    data = page.read_bytes()
    rewriter = Rewriter(make_decide(Action.DEFER))
    out = rewriter.feed(data) + rewriter.close()
    encoding = rewriter.encoding or "utf-8"
    assert _refused_live(out, encoding) == []
    assert _kept(out, encoding) == _kept(data, encoding)
    seed = random.randrange(10**6)
    print(f"seed={seed}")
    assert run_random_chunks(data, lambda: make_decide(Action.DEFER), seed=seed, trials=1) == out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name[:2])
def test_strip_leaves_nothing_refused_live(page: Path) -> None:
    data = page.read_bytes()
    rewriter = Rewriter(make_decide(Action.STRIP))
    out = rewriter.feed(data) + rewriter.close()
    assert _refused_live(out, rewriter.encoding or "utf-8") == []
    assert len(out) < len(data) or _refused_live(data, rewriter.encoding or "utf-8") == []


def test_the_pages_do_carry_trackers() -> None:
    # Guard against a judge that sees nothing: most pages have live trackers before.
    with_trackers = 0
    for page in PAGES:
        data = page.read_bytes()
        rewriter = Rewriter(keep_all)
        run(data, keep_all)
        rewriter.feed(data[:4096])
        if _refused_live(data, rewriter.encoding or "utf-8"):
            with_trackers += 1
    assert with_trackers >= 20
