"""In a real browser (Chromium via Playwright): nothing refused is requested after a rewrite.

Every request is intercepted (the document itself is served from the interception, so
nothing leaves the machine): requests to the refused hosts are recorded and answered
empty. The real pages are loaded with JavaScript off (what markup alone fetches, the
<noscript> reading included); the hostile snippets with JavaScript on.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from html_helpers import Recorder, run
from proxy.html import Action, Rewriter

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 10_000
PAGES_DIR = Path(__file__).resolve().parents[3] / "shared" / "realworld" / "pages"
PAGES = sorted(PAGES_DIR.glob("*.html")) if PAGES_DIR.is_dir() else []
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def _require_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing and CI=true: the browser tests must run in CI")
    print(f"SKIP: {CHROMIUM} not installed (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} not installed")


def _requests(documents: list[bytes], *, javascript: bool, refused) -> list[list[str]]:
    """For each document, the refused URLs Chromium asked for while loading it."""
    from playwright.sync_api import sync_playwright

    found: list[list[str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=WAIT_MS * 3)
        try:
            context = browser.new_context(java_script_enabled=javascript)
            for document in documents:
                seen: list[str] = []

                def handle(route, request, document=document, seen=seen) -> None:  # noqa: ANN001
                    url = request.url
                    if url == "https://site.test/page":
                        route.fulfill(status=200, body=document, headers={"content-type": "text/html"})
                        return
                    if refused(url):
                        seen.append(url)
                    body = GIF if request.resource_type == "image" else b""
                    route.fulfill(status=200, body=body)

                page = context.new_page()
                page.route("**/*", handle)
                page.goto("https://site.test/page", wait_until="load", timeout=WAIT_MS)
                page.wait_for_timeout(200)  # late fetches (refresh, lazy) get their chance
                page.close()
                found.append(seen)
        finally:
            browser.close()
    return found


def _tracker_test(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "tracker.test" or host.endswith(".tracker.test")


SNIPPETS = [
    b'<img src="https://tracker.test/1.gif">',
    b"<script src=https://tracker.test/2.js></script>",
    b"<iframe src=//tracker.test/3></iframe>",
    b'<link rel=stylesheet href="https://tracker.test/4.css">',
    b'<link rel=preload as=image href="https://tracker.test/5.png">',
    b'<div style="width:9px;height:9px;background:url(https://tracker.test/6.png)">x</div>',
    b"<style>body{background:url(https://tracker.test/7.png)}</style>",
    b"<style>@import 'https://tracker.test/8.css';</style>",
    b'<p style="background:\\75 rl(https://tracker.test/9.png)">e</p>',
    b'<img srcset="https://tracker.test/10.png 1x">',
    b'<picture><source srcset="https://tracker.test/11.png"><img src=/ok.gif></picture>',
    b'<video poster="https://tracker.test/12.png"></video>',
    b'<object data="https://tracker.test/13.png" type=image/png></object>',
    b'<embed src="https://tracker.test/14.png" type=image/png>',
    b'<input type=image src="https://tracker.test/15.png">',
    b'<svg><image href="https://tracker.test/16.png" width=5 height=5 /></svg>',
    b'<meta http-equiv=refresh content="0;url=https://tracker.test/17">',
    b'<table background="https://tracker.test/18.png"><tr><td>t</td></tr></table>',
    b'<img src=/ok.gif onload="new Image().src=\'https://tracker.test/19.gif?\'+trackerSignature">',
    b"<noscript><img src=https://tracker.test/20.gif></noscript>",
    b'<p title="</noscript>x"></p><script>var s="</script><img src=https://tracker.test/21.gif>";</script>',
    b"<script><!--<script></script><img src=https://tracker.test/22.gif>--></script>",
    b"<svg><style><img src=https://tracker.test/23.gif></style></svg>",
    b'<iframe srcdoc="<img src=https://tracker.test/24.gif>"></iframe>',
    b'<IMG SRC="https&#58;//tracker.test/25.gif">',
]


def test_hostile_snippets_fetch_nothing_refused_with_javascript() -> None:
    _require_chromium()
    documents = [b"<!doctype html><body>" + snippet for snippet in SNIPPETS]
    before = _requests(documents, javascript=True, refused=_tracker_test)
    # The judge works: unrewritten, (almost) every snippet fetches its tracker.
    assert sum(1 for urls in before if urls) >= len(SNIPPETS) - 4, before
    for mode in (Action.DEFER, Action.STRIP):
        rewritten = [run(document, Recorder(mode), encoding="utf-8") for document in documents]
        after = _requests(rewritten, javascript=True, refused=_tracker_test)
        assert after == [[] for _ in documents], [(s, a) for s, a in zip(SNIPPETS, after) if a]


@pytest.mark.skipif(not PAGES, reason=f"real-world pages not found at {PAGES_DIR}")
def test_real_pages_fetch_nothing_refused_without_javascript() -> None:
    _require_chromium()
    from test_realworld_pages import is_refused, make_decide

    rewritten = []
    for page in PAGES:
        rewriter = Rewriter(make_decide(Action.DEFER))
        rewritten.append(rewriter.feed(page.read_bytes()) + rewriter.close())
    after = _requests(rewritten, javascript=False, refused=is_refused)
    leaks = {page.name: urls for page, urls in zip(PAGES, after) if urls}
    assert leaks == {}
    # The judge works: without the rewrite, the same browser does fetch trackers.
    before = _requests([page.read_bytes() for page in PAGES[:12]], javascript=False, refused=is_refused)
    assert sum(1 for urls in before if urls) >= 4


def test_long_bodies_fetch_nothing_refused_after_their_first_window() -> None:
    """A tracker after the first 256 KiB of an inline script or style (the cap) stays dead."""
    _require_chromium()
    from test_long_bodies import CUT_STYLE, STRIDE, css_filler, filler

    late_loader = (b'new Image().src = "https://tracker.test/late-script.gif";'
                   b' typeof trackerSignature == "function" && trackerSignature();\n')
    straddling = (css_filler(STRIDE - 70) + b'body{background:url("https://tracker.test/straddle-' + b"a" * 9000
                  + b'.png")}\n' + css_filler(2000) + b".z{background:url(https://tracker.test/z.png)}")
    documents = [
        b"<!doctype html><body><script>" + filler(300 * 1024) + late_loader + filler(1000) + b"</script><p>x</p>",
        b"<!doctype html><body><style>" + css_filler(300 * 1024)
        + b"body{background:url(https://tracker.test/late-style.png)}</style><p>x</p>",
        b"<!doctype html><body><style>" + straddling + b"</style><p>x</p>",
    ]
    before = _requests(documents, javascript=True, refused=_tracker_test)
    assert all(before), before  # unrewritten, each one fetches its tracker
    for mode in (Action.DEFER, Action.STRIP):
        rewritten = [run(document, Recorder(mode), encoding="utf-8") for document in documents]
        assert all(len(out) < len(document) + 200 for out, document in zip(rewritten, documents))
        assert _requests(rewritten, javascript=True, refused=_tracker_test) == [[] for _ in documents]
    # The cut's closing bytes matter: without them the url() the cut divides is fetched.
    cut = run(documents[2], Recorder(), encoding="utf-8")
    assert CUT_STYLE in cut
    bare = _requests([cut.replace(CUT_STYLE, b"</style>", 1)], javascript=True, refused=_tracker_test)
    assert bare[0] and bare[0][0].startswith("https://tracker.test/straddle-a"), bare
