"""In real Chromium: hostile pages of every fetch-path class send nothing to a tracker.

Each page is rewritten by the engine with no consent (fed in random chunk sizes, the
guard injected as the proxy does), opened with JavaScript on, and every request is
intercepted: a request to a catalogued tracker is a leak. The unrewritten pages are the
judge's control: most of them do fetch their tracker.
"""

from __future__ import annotations

import base64
import os
import random
from typing import Any

import pytest

from chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium
from proxy.catalogue import Catalogue
from proxy.consent import ConsentState
from proxy.csp import guard_script
from proxy.engine import Engine
from proxy.policy import default_config

pytestmark = pytest.mark.browser

PAGE = "https://shop.test/page"
PIXEL = "https://www.facebook.com/tr?id=1"
LOADER = "https://connect.facebook.net/en_US/fbevents.js"
GA = "https://www.google-analytics.com/collect?v=1"
HOSTILE = [
    f'<iframe src="data:text/html,<img src={PIXEL}&amp;x=1>"></iframe>',
    '<iframe src="data:text/html;base64,' + base64.b64encode(f"<img src={PIXEL}&x=2>".encode()).decode() + '"></iframe>',
    f'<object data="data:text/html,<img src={PIXEL}&amp;x=3>" type="text/html"></object>',
    f'<embed src="data:text/html,<img src={PIXEL}&amp;x=4>" type="text/html">',
    f"<script src=\"data:text/javascript,new Image().src='{PIXEL}&x=5'\"></script>",
    f'<link rel=stylesheet href="data:text/css,body{{background:url({PIXEL}&x=6)}}">',
    f"<iframe src=\"javascript:'<img src={PIXEL}&x=7>'\"></iframe>",
    f'<script type=importmap>{{"imports": {{"t": "{LOADER}?x=8"}}}}</script><script type=module>import "t";</script>',
    f'<script type=module>import "{LOADER}?x=9";</script>',
    f'<svg width=9 height=9><rect width=9 height=9 fill="url({PIXEL}&amp;x=10#p)"/></svg>',
    f'<svg width=9 height=9><image width=5 height=5><set attributeName="href" to="{PIXEL}&amp;x=11"/></image></svg>',
    f'<svg><style>@import "{PIXEL}&amp;x=12";</style></svg>',
    f'<svg><style>&#64;import "{PIXEL}&amp;x=13";</style></svg>',
    '<base href="https://www.facebook.com/"><img src="tr?id=1&x=14">',
    '<template><base href="/"></template><base href="https://www.facebook.com/"><img src="tr?id=1&x=15">',
    f'<img src=/ok.gif onload="fetch(\'{PIXEL}&x=16\')">',
    f'<img class=lazy src=/ok.gif data-original="{PIXEL}&x=17"><script>document.querySelectorAll("[data-original]").forEach(function (i) {{ i.src = i.dataset.original; }});</script>',
    f'<iframe srcdoc="<script>new Image().src=\'{PIXEL}&amp;x=18\'</script>"></iframe>',
    f'<iframe></iframe><script>var f = document.querySelector("iframe"); f.contentDocument.write("<img src={PIXEL}&x=19>"); f.contentDocument.close();</script>',
    '<img src="\\\\www.facebook.com\\tr?id=1&x=20">',
    '<img src="https://ＷＷＷ．ＦＡＣＥＢＯＯＫ．ＣＯＭ/tr?id=1&x=21">',
    '<img src="https://www.face\tbook.com/tr?id=1&x=22">',
    f'<meta http-equiv=refresh content="0; url=\'{PIXEL}&x=23\'">',
    f'<img src="/a.png" srcset="/a2.png 2x, {PIXEL}&x=24 3x">',
    f'<video src="/v.mp4" poster="{PIXEL}&x=25"></video>',
    f'<script>var i = document.createElement("iframe"); document.body.appendChild(i); i.contentWindow.eval("new Image().src=\'{PIXEL}&x=26\'");</script>',
]
# URLs put together at run time: no static judgement can see them, the guard must (and
# must reach into about:blank, srcdoc and javascript: frames).
FACE = "https://www.face' + 'book.com/tr?id=1"
RUNTIME = [
    f"<script>new Image().src = '{FACE}&x=27';</script>",
    f'<script>var i = document.createElement("iframe"); document.body.appendChild(i); i.contentWindow.eval("new Image().src=\'{FACE}&x=28\'");</script>',
    f"<iframe srcdoc=\"<script>new Image().src='{FACE}&amp;x=29'</script>\"></iframe>",
    f'<script>var w = document.createElement("iframe"); document.body.appendChild(w); var d = w.contentDocument; d.open(); d.write("<img src=" + \'{FACE}&x=30\' + ">"); d.close();</script>',
    f'<script>var f = document.createElement("div"); f.innerHTML = "<iframe></iframe>"; document.body.appendChild(f); f.firstChild.contentWindow.fetch(\'{FACE}&x=31\');</script>',
]


def _tracker(url: str) -> bool:
    vendor = Catalogue.default().vendor_for_url(url)
    return vendor is not None and vendor.category != "necessary"


def _rewrite(document: bytes, rng: random.Random) -> bytes:
    os.environ.setdefault("CONSENTRY_SECRET", "s" * 40)
    site = default_config(upstream="http://127.0.0.1:1").sites["default"]
    state = ConsentState.simulated([])
    inject = f"<script>{guard_script(site, state)}</script>".encode()
    rewriter = Engine(site).rewriter(state, base_url=PAGE, inject=inject, encoding="utf-8")
    out, position = [], 0
    while position < len(document):
        size = rng.randint(1, 97)
        out.append(rewriter.feed(document[position:position + size]))
        position += size
    out.append(rewriter.close())
    return b"".join(out)


def _leaks(documents: list[bytes]) -> list[list[str]]:
    from playwright.sync_api import sync_playwright

    found: list[list[str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            context = browser.new_context(device_scale_factor=3)
            for document in documents:
                seen: list[str] = []

                def handle(route: Any, request: Any, document: bytes = document, seen: list[str] = seen) -> None:
                    if request.url == PAGE:
                        route.fulfill(status=200, body=document, headers={"content-type": "text/html; charset=utf-8"})
                        return
                    if _tracker(request.url):
                        seen.append(request.url)
                    route.fulfill(status=200, body=b"")

                page = context.new_page()
                page.route("**/*", handle)
                page.goto(PAGE, wait_until="load", timeout=10_000)
                page.wait_for_timeout(300)
                page.close()
                found.append(seen)
        finally:
            browser.close()
    return found


def test_hostile_fetch_paths_send_nothing_to_trackers() -> None:
    require_chromium()
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    documents = [f"<!doctype html><html><head><title>t</title></head><body>{snippet}</body></html>".encode()
                 for snippet in HOSTILE]
    before = _leaks(documents)
    assert sum(1 for urls in before if urls) >= len(HOSTILE) - 6, [(s, b) for s, b in zip(HOSTILE, before) if not b]
    after = _leaks([_rewrite(document, rng) for document in documents])
    assert [(snippet, urls) for snippet, urls in zip(HOSTILE, after) if urls] == [], f"seed {seed}"


def test_runtime_urls_are_stopped_by_the_guard_in_frames_too() -> None:
    require_chromium()
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    documents = [f"<!doctype html><html><head><title>t</title></head><body>{snippet}</body></html>".encode()
                 for snippet in RUNTIME]
    before = _leaks(documents)
    assert all(before), [(s, b) for s, b in zip(RUNTIME, before) if not b]
    after = _leaks([_rewrite(document, rng) for document in documents])
    assert [(snippet, urls) for snippet, urls in zip(RUNTIME, after) if urls] == [], f"seed {seed}"
