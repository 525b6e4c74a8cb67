"""Browser harness for the CSP and guard tests: Chromium, a fake tracker network, a test site.

`launch()` starts Debian's chromium through Playwright (skipping with a reason when it
is absent, failing when CI=true). `TrackerNet` routes every non-loopback request to a
tiny fake and records it, so a test can count what a page asked of trackers.
`test_site(...)` is a small aiohttp site whose only trackers are injected at run time
by its own first-party scripts (GTM-style createElement, innerHTML, document.write,
sendBeacon, new Image, fetch, XHR); the guard and the CSP are put in by the test exactly
as the proxy would, with the same functions (`proxy.csp`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


import chromium
from chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium  # noqa: F401  (re-exported for the tests)
from aiohttp import web
from prometheus_client import CollectorRegistry

from proxy import csp
from proxy.server import csp_routes

WAIT = 10.0  # seconds: the bound on every wait for the page or for reports

FENCES = ("/api/ping?fence=beacon", "/api/ping?fence=img")

# The URL markers each injection method requests when nothing stops it.
INJECTED = {
    "gtm-createElement": "www.googletagmanager.com/gtm.js",
    "innerHTML-img": "www.facebook.com/tr",
    "innerHTML-iframe": "www.googletagmanager.com/ns.html",
    "document.write": "connect.facebook.net/en_US/fbevents.js",
    "sendBeacon": "www.google-analytics.com/g/collect?v=2",
    "new-Image": "www.google-analytics.com/collect?v=1",
    "fetch": "www.google-analytics.com/g/collect?fetch=1",
    "xhr": "www.googletagmanager.com/xhr",
    "insertAdjacentHTML": "connect.facebook.net/signals/config.js",
}


@asynccontextmanager
async def launch() -> AsyncIterator[Any]:
    async with chromium.launch(timeout_ms=WAIT * 3000) as browser:
        yield browser


@dataclass
class TrackerNet:
    """Every request that leaves loopback: recorded, and answered by a fake.

    A request the browser's CSP check refused still shows up as a request event, then
    fails with ``csp`` without leaving the browser; it does not count as made. Anything
    else counts, including a request still pending (counting it errs towards failing).
    """

    outcome: dict[Any, str | None] = field(default_factory=dict)   # request -> None (pending), "ok" or failure text
    routed: list[str] = field(default_factory=list)
    everything: list[str] = field(default_factory=list)   # every request URL, loopback included
    scripts: dict[str, str] = field(default_factory=dict)   # URL marker -> body of that fake tracker script

    async def attach(self, context: Any) -> None:
        context.on("request", self._seen)
        context.on("requestfinished", lambda request: self._done(request, "ok"))
        context.on("requestfailed", lambda request: self._done(request, request.failure or "failed"))
        await context.route("**/*", self._answer)

    def _seen(self, request: Any) -> None:
        self.everything.append(request.url)
        if not _loopback(request.url):
            self.outcome.setdefault(request, None)

    async def wait_until(self, done: Callable[[], bool]) -> bool:
        """Poll `done` (bounded by WAIT): requests surface asynchronously, beacons last."""
        deadline = asyncio.get_running_loop().time() + WAIT
        while not done():
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def fenced(self) -> None:
        """Wait for the site's first-party fence requests, sent after its tracker injections.

        A beacon and an image to the site itself go out right after the trackers were
        injected; once both surfaced, a tracker request made before them had its chance
        to surface too, so "no tracker request" is a result rather than a race.
        """
        assert await self.wait_until(
            lambda: all(any(marker in url for url in self.everything) for marker in FENCES)
        ), f"fence requests never arrived: {self.everything}"
        await self.quiet()

    async def wait_seen(self, marker: str) -> None:
        """Wait (bounded) for a request whose URL contains `marker` (a fence), then for quiet."""
        assert await self.wait_until(lambda: any(marker in url for url in self.everything)), f"{marker} never requested"
        await self.quiet()

    async def wait_for_hits(self, *names: str) -> dict[str, bool]:
        """Wait (bounded) until the named injection methods reached the network; return all hits."""
        await self.wait_until(lambda: all(self.hits()[name] for name in names))
        await self.quiet()
        return self.hits()

    def _done(self, request: Any, result: str) -> None:
        if request in self.outcome:
            self.outcome[request] = result

    @property
    def requests(self) -> list[str]:
        """Tracker requests the page made (not the ones its CSP stopped in the browser)."""
        return [request.url for request, result in self.outcome.items() if result is None or "csp" not in result]

    @property
    def csp_blocked(self) -> list[str]:
        return [request.url for request, result in self.outcome.items() if result is not None and "csp" in result]

    async def quiet(self) -> None:
        """Wait (bounded) until every tracker request seen has finished or failed."""
        deadline = asyncio.get_running_loop().time() + WAIT
        while any(result is None for result in self.outcome.values()) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)

    async def _answer(self, route: Any) -> None:
        url = route.request.url
        if _loopback(url):
            await route.continue_()
            return
        self.routed.append(url)
        path = urlsplit(url).path
        cors = {"Access-Control-Allow-Origin": "*"}
        if path.endswith(".js"):
            # A tracker script that proves it ran (and may load more, as tag managers do).
            body = "window.__trackersRan = (window.__trackersRan || 0) + 1;"
            body += "".join(extra for marker, extra in self.scripts.items() if marker in url)
            await route.fulfill(status=200, body=body, content_type="application/javascript", headers=cors)
        elif route.request.resource_type == "image":
            await route.fulfill(status=200, body=_GIF, content_type="image/gif", headers=cors)
        else:
            await route.fulfill(status=200, body="", content_type="text/html", headers=cors)

    def hits(self) -> dict[str, bool]:
        """Which injection methods reached the network."""
        made = self.requests
        return {name: any(marker in url for url in made) for name, marker in INJECTED.items()}


_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def _loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost")


# -- the test site -------------------------------------------------------------------------

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title>
{head}<script{nonce}>window.__firstParty = [];</script>
<script{nonce} src="/write.js"></script>
<script{nonce} src="/app.js" defer></script>
</head><body><h1>Shop</h1><div id="slot"></div><div id="more"></div><p id="status">loading</p></body></html>
"""

# A first-party script that document.write()s a tracker while the page parses.
WRITE_JS = """document.write('<script src="https://connect.facebook.net/en_US/fbevents.js"><\\/script>');
window.__firstParty.push('write');
"""

# The site's own bundle: after load it injects trackers every way page scripts do.
APP_JS = """function injectTrackers() {
  (function (w, d, s, l, i) {
    w[l] = w[l] || []; w[l].push({'gtm.start': new Date().getTime(), event: 'gtm.js'});
    var f = d.getElementsByTagName(s)[0], j = d.createElement(s);
    j.async = true; j.src = 'https://www.googletagmanager.com/gtm.js?id=' + i;
    f.parentNode.insertBefore(j, f);
  })(window, document, 'script', 'dataLayer', 'GTM-TEST');
  document.getElementById('slot').innerHTML =
    '<img alt="" src="https://www.facebook.com/tr?id=1&ev=PageView">' +
    '<iframe src="https://www.googletagmanager.com/ns.html?id=GTM-TEST"></iframe>';
  document.getElementById('more').insertAdjacentHTML('beforeend',
    '<script src="https://connect.facebook.net/signals/config.js"><\\/script><img src="https://connect.facebook.net/signals/config.js">');
  navigator.sendBeacon('https://www.google-analytics.com/g/collect?v=2&tid=G-TEST', 'payload');
  new Image().src = 'https://www.google-analytics.com/collect?v=1&t=pageview';
  fetch('https://www.google-analytics.com/g/collect?fetch=1', {method: 'POST', mode: 'no-cors'}).catch(function () {});
  var x = new XMLHttpRequest(); x.open('GET', 'https://www.googletagmanager.com/xhr'); x.send();
  // Fences: first-party requests made the same ways, after every injection above.
  navigator.sendBeacon('/api/ping?fence=beacon', 'fence');
  new Image().src = '/api/ping?fence=img';
}
window.addEventListener('load', function () {
  injectTrackers();
  // The site's own features keep working: a first-party fetch and DOM update.
  fetch('/api/ping').then(function (r) { return r.text(); }).then(function (t) {
    window.__firstParty.push('app');
    document.getElementById('status').textContent = 'ready:' + t;
  });
});
"""


@dataclass
class SiteOptions:
    site: Any                              # the site policy csp.build_csp / guard_script read
    state_for: Callable[[web.Request], Any]  # the visitor's consent for one request
    guard: bool = True                     # inject the guard first in <head>
    upstream_csp: str | None = None        # the site's own policy, sent unchanged
    upstream_nonce: str | None = None      # the nonce the site itself puts on its scripts
    catalogue: Any = None
    script_nonces: bool = True             # False: a plain legacy page (the proxy adds nonces itself)


def make_test_site(options: SiteOptions) -> tuple[web.Application, CollectorRegistry]:
    """The aiohttp app of the test site with the guard and our CSP put in as the proxy does."""
    registry = CollectorRegistry()
    app = web.Application()
    csp_routes.register(app, registry=registry, consent_paths=[options.site.consent_path])

    async def page(request: web.Request) -> web.Response:
        state = options.state_for(request)
        nonce = csp.nonce_for(options.upstream_csp) if options.upstream_csp else csp.new_nonce()
        head = ""
        if options.guard:
            head = f'<script nonce="{nonce}">{csp.guard_script(options.site, state, catalogue=options.catalogue)}</script>\n'
        page_nonce = f' nonce="{options.upstream_nonce or nonce}"' if options.script_nonces else ""
        response = web.Response(text=PAGE.format(head=head, nonce=page_nonce), content_type="text/html")
        if options.upstream_csp:
            response.headers.add("Content-Security-Policy", options.upstream_csp)
        built = csp.build_csp(options.site, state, upstream_csp=options.upstream_csp, nonce=nonce, catalogue=options.catalogue)
        if built is not None:
            response.headers.add(*built)
        return response

    def script(text: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(text=text, content_type="application/javascript")

        return handler

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="pong")

    app.router.add_get("/", page)
    app.router.add_get("/write.js", script(WRITE_JS))
    app.router.add_get("/app.js", script(APP_JS))
    app.router.add_route("*", "/api/ping", ping)
    return app, registry


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def open_page(browser: Any, url: str, *, net: TrackerNet | None = None) -> tuple[Any, Any, TrackerNet]:
    """A fresh context and page with the fake tracker network; waits until the site's bundle ran."""
    context = await browser.new_context()
    net = net or TrackerNet()
    await net.attach(context)
    page = await context.new_page()
    await page.goto(url, wait_until="load", timeout=WAIT * 1000)
    await wait_for_js(page, "document.getElementById('status').textContent.startsWith('ready')")
    await settle(page)
    await net.fenced()
    return context, page, net


async def settle(page: Any) -> None:
    """Let run-time injections and their requests start (two animation frames and a macrotask)."""
    await page.evaluate(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 50))))"
    )
    await asyncio.sleep(0)


async def wait_for_js(page: Any, expression: str) -> None:
    """Poll a JavaScript expression until it is truthy, bounded by WAIT.

    Not ``page.wait_for_function``: it evaluates its predicate with eval inside the
    page, which a site's own strict CSP (no 'unsafe-eval') rightly refuses; evaluate
    goes through the DevTools protocol, outside the page's CSP.
    """
    from playwright.async_api import Error as PlaywrightError

    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        try:
            if await page.evaluate(expression):
                return
        except PlaywrightError as error:
            # The page is navigating (a reload after consent): ask the next document.
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still false after {WAIT}s: {expression}")
        await asyncio.sleep(0.02)


def violation_count(registry: CollectorRegistry, **labels: str) -> float:
    total = 0.0
    for metric in registry.collect():
        if metric.name != "consentry_csp_violations":
            continue
        for sample in metric.samples:
            if sample.name.endswith("_total") and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def wait_for_violations(registry: CollectorRegistry, minimum: float = 1, **labels: str) -> float:
    """Reports are posted asynchronously by the browser: poll, bounded by WAIT."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        count = violation_count(registry, **labels)
        if count >= minimum or asyncio.get_running_loop().time() > deadline:
            return count
        await asyncio.sleep(0.05)
