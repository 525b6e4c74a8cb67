"""In real Chromium: the engine's inline-script judgement and the guard's stand-ins together.

A page whose first-party scripts call tracker functions unguarded, guarded and through
queues, next to the vendors' real loader snippets. Without consent: no request to any
tracker, no JavaScript error, and the first-party scripts ran. After the runtime's
steps (guard.update, activation, replay): the loader runs and receives the calls the
page made while the vendor was refused. Every request is intercepted; nothing leaves.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import pytest

from chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium
from proxy.consent import ConsentState
from proxy.csp import guard_script
from proxy.engine import Engine
from proxy.policy import default_config

pytestmark = pytest.mark.browser

PAGE = "https://shop.test/page"
FB_LOADER = (
    "!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments)"
    ":n.queue.push(arguments)};if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';n.queue=[];"
    "t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}"
    "(window, document,'script','https://connect.facebook.net/en_US/fbevents.js');fbq('init', '1');"
)
GTAG = ("window.dataLayer = window.dataLayer || [];function gtag(){dataLayer.push(arguments);}"
        "gtag('js', new Date());gtag('config', 'G-TEST1');")
DOCUMENT = f"""<!doctype html><html><head><meta charset=utf-8><title>t</title>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST1"></script>
<script>{GTAG}</script>
<script>{FB_LOADER}</script>
</head><body>
<form id=f><button id=buy type=button onclick="fbq('track', 'AddToCart'); window.__clicked = (window.__clicked || 0) + 1">Buy</button></form>
<script>
  // First-party code: unguarded calls, guarded calls, queues.
  window.__ran = [];
  if (window.fbq) fbq('track', 'ViewContent');
  typeof gtag === "function" && gtag('event', 'view_item');
  window.dataLayer = window.dataLayer || []; dataLayer.push({{event: 'page'}});
  fbq('track', 'Lead');
  ga('send', 'pageview');
  _paq.push(['trackEvent', 'a', 'b']);
  var id = ga.getAll()[0].get('clientId') + "";
  googletag.cmd.push(function () {{ googletag.display('ad'); }});
  var late = new Image(); late.width = 5;
  late.srcset = "/late1.png 1x, https://www.face" + "book.com/tr?id=1&ev=late 3x";  // built at run time: the guard's
  document.body.appendChild(late);
  window.__late = [late.getAttribute('srcset'), late.hasAttribute('data-consent-partial')];
  window.__ran.push('first-party');
</script>
<img src="/logo.png" srcset="/logo2.png 2x, https://www.facebook.com/tr?id=1&ev=img 3x" width=5 height=5>
</body></html>"""


def _tracker(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return not (host == "shop.test")


def _open(document: bytes, script: str | None = None) -> tuple[list[str], list[str], Any]:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            context = browser.new_context(device_scale_factor=3)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

            def handle(route: Any, request: Any) -> None:
                if request.url == PAGE:
                    route.fulfill(status=200, body=document, headers={"content-type": "text/html"})
                    return
                requests.append(request.url)
                if "fbevents.js" in request.url:
                    route.fulfill(status=200, body=b"window.__fbeventsLoaded = fbq.queue.map(function (a) { return a[1]; });",
                                  headers={"content-type": "text/javascript"})
                    return
                route.fulfill(status=200, body=b"")

            page.route("**/*", handle)
            page.goto(PAGE, wait_until="load", timeout=10_000)
            page.click("#buy")
            page.wait_for_timeout(300)
            result: Any = page.evaluate("() => ({ran: window.__ran, clicked: window.__clicked, late: window.__late})")
            if script is not None:
                result = page.evaluate(script)
                page.wait_for_timeout(500)
                result = page.evaluate("() => window.__fbeventsLoaded || null")
        finally:
            browser.close()
    return requests, errors, result


def _rewritten() -> bytes:
    os.environ.setdefault("CONSENTRY_SECRET", "s" * 40)
    site = default_config(upstream="http://127.0.0.1:1").sites["default"]
    state = ConsentState.simulated([])
    rewriter = Engine(site).rewriter(state, base_url=PAGE, inject=f"<script>{guard_script(site, state)}</script>".encode())
    return rewriter.feed(DOCUMENT.encode()) + rewriter.close()


def test_first_party_code_runs_and_nothing_is_sent_without_consent() -> None:
    require_chromium()
    rewritten = _rewritten()
    # The loaders are deferred; the first-party script and the click handler are not.
    assert rewritten.count(b'type="text/plain"') == 3, rewritten
    assert b"onclick=\"fbq('track', 'AddToCart')" in rewritten
    requests, errors, result = _open(rewritten)
    assert [url for url in requests if _tracker(url)] == []
    assert errors == []
    # A srcset page code sets at run time keeps its first-party candidate (the guard, granular too).
    assert result == {"ran": ["first-party"], "clicked": 1, "late": ["/late1.png 1x", True]}
    # The first-party image candidates still load.
    assert any(url.endswith(("/logo2.png", "/logo.png")) for url in requests)


def test_unrewritten_page_is_the_judge() -> None:
    require_chromium()
    requests, _, _ = _open(DOCUMENT.encode())
    assert any("connect.facebook.net" in url for url in requests)


def test_after_consent_the_loader_gets_the_calls_the_page_made() -> None:
    require_chromium()
    activate = """() => {
        window.__consentry_guard.update(['necessary', 'analytics', 'marketing'], {});
        for (const old of document.querySelectorAll('script[type="text/plain"][data-consent]')) {
            const s = document.createElement('script');
            if (old.dataset.consentSrc) s.src = old.dataset.consentSrc; else s.text = old.text;
            old.replaceWith(s);
        }
        window.__consentry_guard.replay();
    }"""
    requests, errors, loaded = _open(_rewritten(), activate)
    assert any("connect.facebook.net/en_US/fbevents.js" in url for url in requests)
    # fbq('init') from the activated snippet, then the page's own calls made before consent.
    assert loaded is not None and loaded[0] == "1" and "Lead" in loaded and "AddToCart" in loaded, loaded
    assert errors == []


def test_loader_deep_in_a_huge_inline_script_sends_nothing() -> None:
    """A tracker loader after the scanner's 256 KiB window: the live script is cut unable
    to run (none of it runs, not even its first-party start), the rest is inert."""
    require_chromium()
    filler = "".join(f"window.__part{index} = function (x) {{ return x + {index}; }};\n" for index in range(9000))
    assert len(filler) > 300 * 1024
    document = (f"<!doctype html><html><head><meta charset=utf-8><title>t</title></head><body>"
                f"<button id=buy type=button onclick=\"window.__clicked = 1\">Buy</button>"
                f"<script>window.__started = true;\n{filler}{FB_LOADER}\nwindow.__ended = true;</script>"
                f"<script>window.__ran = ['after'];</script></body></html>").encode()
    requests, _, _ = _open(document)
    assert any("connect.facebook.net" in url for url in requests)  # unrewritten: the judge works
    os.environ.setdefault("CONSENTRY_SECRET", "s" * 40)
    site = default_config(upstream="http://127.0.0.1:1").sites["default"]
    rewriter = Engine(site).rewriter(ConsentState.simulated([]), base_url=PAGE)  # no guard: the markup alone
    rewritten = rewriter.feed(document) + rewriter.close()
    assert b'data-consent-cut="marketing"' in rewritten
    requests, errors, result = _open(rewritten)
    assert [url for url in requests if _tracker(url)] == []
    assert result["ran"] == ["after"] and result["clicked"] == 1
    # The one error is the cut script's: it does not parse, so it does not run.
    assert len(errors) == 1 and ("SyntaxError" in errors[0] or "Invalid or unexpected token" in errors[0]), errors
