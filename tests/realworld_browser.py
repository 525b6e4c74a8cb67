"""The shared Chromium harness for the real pages in ../shared/realworld.

Each page is opened by a real Chromium at its own site's address (SOURCES.md), exactly
as a visitor would get it from the proxy: the page's own URL is answered with the bytes
the engine produced for a consent state (plus the consent CSP header and the head
snippet with the guard, as ``proxy/server/html_body.py`` sends them), or with the
unrewritten bytes. Every other request is intercepted by Playwright routing, recorded
(URL, resource type) and answered with an empty response of the right kind: nothing
leaves the machine, and nothing from a third party runs.

Used by the tests (``tests/test_realworld_browser.py``, and the console-error checks)
and by ``bench/realworld_report.py``, which prints the per-page table::

    async with browser_session() as session:
        visit = await session.visit(page, consent="none")      # or "all", or None (unrewritten)
        visit.requests, visit.console_errors, visit.page_errors, visit.handlers

Visits are bounded in time: the load event (or ``LOAD_TIMEOUT_MS``), then a short settle
for timers that page code starts on load.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from proxy.catalogue import Catalogue
from proxy.engine import Engine

PAGES_DIR = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "pages"
SOURCES = PAGES_DIR.parent / "SOURCES.md"
PAGES: list[Path] = sorted(PAGES_DIR.glob("*.html")) if PAGES_DIR.is_dir() else []

LOAD_TIMEOUT_MS = 15_000
SETTLE_MS = 800
NONCE = "realworldnonce0000000000"

# Bodies for intercepted requests: valid and empty for their kind, so nothing errors
# because of a malformed stand-in (a script answered with HTML would).
_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
_STAND_INS: dict[str, tuple[str, bytes]] = {
    "script": ("application/javascript", b""),
    "stylesheet": ("text/css", b""),
    "image": ("image/gif", _GIF),
    "document": ("text/html", b"<!doctype html><title></title>"),
    "font": ("font/woff2", b""),
    "media": ("video/mp4", b""),
    "xhr": ("application/json", b"{}"),
    "fetch": ("application/json", b"{}"),
}

# Records the elements page code gives handlers (addEventListener, on* properties),
# read back after load; installed before any page script.
_HANDLER_PROBE = r"""
(() => {
  const seen = new Set();
  window.__rw_handlers = seen;
  const path = (el) => {
    if (!(el instanceof Element)) return null;
    const parts = [];
    for (let e = el; e && e.nodeType === 1 && parts.length < 6; e = e.parentElement) {
      let part = e.localName;
      if (e.id) { parts.unshift(part + '#' + e.id); break; }
      const parent = e.parentElement;
      if (parent) part += ':nth-child(' + (Array.prototype.indexOf.call(parent.children, e) + 1) + ')';
      parts.unshift(part);
    }
    return parts.join('>');
  };
  const record = (el, type) => {
    if (!(el instanceof Element)) return;
    const tag = el.localName;
    if (!['form', 'button', 'input', 'select', 'textarea', 'a'].includes(tag)) return;
    const p = path(el);
    if (p) seen.add(p + ' ' + type);
  };
  // CSP violations (blocked URL, directive), as the page sees them.
  const violations = [];
  window.__rw_violations = violations;
  document.addEventListener('securitypolicyviolation', (e) => {
    if (violations.length < 500) violations.push([String(e.blockedURI), String(e.effectiveDirective)]);
  }, true);
  const add = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    try { record(this, type); } catch (e) {}
    return add.call(this, type, listener, options);
  };
})();
"""


@cache
def _site_urls() -> dict[str, str]:
    found: dict[str, str] = {}
    if not SOURCES.exists():
        return found
    for line in SOURCES.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`([^`]+\.html)`", line)
        if match:
            found[match.group(1)] = line.rstrip(" |").rsplit("|", 1)[-1].strip()
    return found


def site_url(page: Path) -> str:
    """The page's own address (SOURCES.md `site`): its base URL and origin in the browser."""
    return _site_urls().get(page.name, "https://example.test/")


def page_host(page: Path) -> str:
    return (urlsplit(site_url(page)).hostname or "").lower()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def make_site(**policy: Any) -> Any:
    """A real SitePolicy (validated as a policy file would be); ``policy`` adds site keys."""
    from proxy.policy.keyring import quiet_random_secret, zero_config_key
    from proxy.policy.loader import build_config

    data = {"upstream": "http://127.0.0.1:9", "csp": "enforce", **policy}
    quiet = quiet_random_secret.set(True)  # no consent cookie is signed here
    try:
        key = zero_config_key()
    finally:
        quiet_random_secret.reset(quiet)
    return build_config({"sites": {"default": data}}, name="<realworld>", keys=[key]).sites["default"]


@dataclass(frozen=True, slots=True)
class Rendered:
    """What the proxy would send for one page: body and the extra response headers."""

    body: bytes
    headers: tuple[tuple[str, str], ...]


def render(
    page: Path, consent: str | None, site: Any = None, catalogue: Catalogue | None = None, *,
    guard: bool = True, read_before: bool = False,
) -> Rendered:
    """The page as the proxy serves it for `consent` ("none", "all", "a,b"); None: unrewritten.

    ``read_before``: as the proxy serves a page it has rewritten before (the second
    visitor): a strict site's consent CSP then admits the necessary services the page
    was seen to use (``proxy.csp.in_use``), as ``proxy/server/html_body.py`` does.
    ``guard=False`` leaves the guard out (the CSP alone).
    """
    data = page.read_bytes()
    if consent is None:
        return Rendered(data, ())
    from proxy.consent import ConsentState
    from proxy.csp import build_csp
    from proxy.csp.in_use import NecessaryInUse
    from proxy.engine import Report
    from proxy.web import head_snippet

    site = site if site is not None else make_site()
    state = ConsentState.simulated(consent, all_categories=tuple(site.categories))
    engine = Engine(site, catalogue)
    in_use = NecessaryInUse()
    if read_before:
        report = Report()
        earlier = engine.rewriter(state, base_url=site_url(page), nonce=NONCE, report=report)
        earlier.feed(data)
        earlier.close()
        in_use.record("/", {e.vendor for e in report.entries if e.vendor and e.category == "necessary"})
    headers: list[tuple[str, str]] = []
    built = build_csp(site, state, upstream_csp=None, nonce=NONCE, catalogue=catalogue,
                      necessary=in_use.for_page("/"), page_host=page_host(page))
    if built is not None:
        headers.append(built)
    inject = head_snippet(site, state, lang="en", nonce=NONCE, page_host=page_host(page))
    if not guard:
        inject = re.sub(rb'<script src="[^"]*/guard\.js\?[^"]*"[^>]*></script>', b"", inject, count=1)
    rewriter = engine.rewriter(state, base_url=site_url(page), nonce=NONCE, inject=inject)
    return Rendered(rewriter.feed(data) + rewriter.close(), tuple(headers))


@dataclass(slots=True)
class Request:
    url: str
    resource_type: str
    host: str


@dataclass(slots=True)
class Visit:
    page: str
    consent: str | None
    requests: list[Request] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    handlers: set[str] = field(default_factory=set)
    timed_out: bool = False
    violations: list[tuple[str, str]] = field(default_factory=list)   # (blocked URL, directive)
    csp: str = ""   # the consent CSP the page was served with

    def third_party(self, own_host: str, catalogue: Catalogue | None = None) -> list[Request]:
        catalogue = catalogue or Catalogue.default()
        return [r for r in self.requests if r.host and not catalogue.first_party(r.url, own_host)]


@dataclass(frozen=True, slots=True)
class Judged:
    """A request seen from the catalogue: who serves it and whether it is a tracker."""

    request: Request
    vendor: str | None
    category: str | None

    @property
    def tracker(self) -> bool:
        return self.category is not None and self.category != "necessary"


def judge(visit: Visit, own_host: str, catalogue: Catalogue | None = None) -> list[Judged]:
    """Each third-party request of `visit` with the catalogue's vendor and category."""
    catalogue = catalogue or Catalogue.default()
    judged = []
    for request in visit.third_party(own_host, catalogue):
        vendor = catalogue.vendor_for_url(request.url)
        judged.append(Judged(request, vendor.id if vendor else None, vendor.category if vendor else None))
    return judged


class BrowserSession:
    """One Chromium; each visit gets a fresh context (no cookies or cache carried over)."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser

    async def visit(
        self,
        page: Path,
        consent: str | None,
        *,
        site: Any = None,
        catalogue: Catalogue | None = None,
        rendered: Rendered | None = None,
        guard: bool = True,
        read_before: bool = False,
    ) -> Visit:
        url = site_url(page)
        site = site if site is not None else make_site()
        rendered = rendered or render(page, consent, site, catalogue, guard=guard, read_before=read_before)
        visit = Visit(page.name, consent, csp=next((v for _, v in rendered.headers), ""))
        context = await self.browser.new_context(service_workers="block", java_script_enabled=True)
        try:
            await context.add_init_script(_HANDLER_PROBE)
            own_origin = _origin(url)
            consent_prefix = own_origin + "/_consent/"

            async def handle(route: Any) -> None:
                request = route.request
                req_url = request.url
                if request.is_navigation_request() and req_url.split("#", 1)[0] == url.split("#", 1)[0] and request.frame == tab.main_frame:
                    headers = {"content-type": "text/html", **{k.lower(): v for k, v in rendered.headers}}
                    await route.fulfill(status=200, headers=headers, body=rendered.body)
                    return
                visit.requests.append(Request(req_url, request.resource_type, (urlsplit(req_url).hostname or "").lower()))
                if req_url.startswith(consent_prefix):
                    served = _consent_asset(site, req_url[len(consent_prefix):], catalogue)
                    if served is not None:
                        await route.fulfill(status=served.status, headers=served.headers, body=served.body)
                        return
                content_type, body = _STAND_INS.get(request.resource_type, ("text/plain", b""))
                await route.fulfill(status=200, headers={"content-type": content_type, "access-control-allow-origin": "*"}, body=body)

            await context.route("**/*", handle)
            tab = await context.new_page()
            tab.on("console", lambda msg: visit.console_errors.append(msg.text) if msg.type == "error" else None)
            tab.on("pageerror", lambda error: visit.page_errors.append(str(error)))
            try:
                await tab.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
            except Exception:  # a page whose load event never comes is measured as far as it got
                visit.timed_out = True
            await tab.wait_for_timeout(SETTLE_MS)
            try:
                visit.handlers = set(await tab.evaluate("Array.from(window.__rw_handlers || [])"))
                visit.violations = [tuple(v) for v in await tab.evaluate("window.__rw_violations || []")]
            except Exception:
                visit.handlers = set()
        finally:
            await context.close()
        return visit


def _consent_asset(site: Any, rest: str, catalogue: Catalogue | None = None) -> Any:
    """The consent path's files as the server answers them: the site's guard with its vendor
    table baked in (the packaged file alone guards nothing), the banner's files."""
    from types import SimpleNamespace
    from urllib.parse import parse_qsl

    from proxy.web.assets import asset_reply

    name, _, query = rest.partition("?")
    if name == "guard.js" and catalogue is not None:
        from proxy.csp.guard import site_guard

        source, _ = site_guard(site, catalogue=catalogue)
        return SimpleNamespace(status=200, headers={"content-type": "text/javascript"}, body=source.encode("utf-8"))
    return asset_reply(site, name, dict(parse_qsl(query)), {})


@asynccontextmanager
async def browser_session(timeout_ms: float = 30_000) -> AsyncIterator[BrowserSession]:
    from chromium import launch

    async with launch(timeout_ms) as browser:
        yield BrowserSession(browser)


@dataclass(frozen=True, slots=True)
class PageFigures:
    """One row of the report: what Chromium fetched from whom for one page and state."""

    page: str
    consent: str | None
    requests: int
    tracker_requests: int
    third_party_hosts: tuple[str, ...]
    tracker_hosts: tuple[str, ...]
    unknown_hosts: tuple[str, ...]
    console_errors: int
    page_errors: int
    handlers: int


def figures(visit: Visit, own_host: str, catalogue: Catalogue | None = None) -> PageFigures:
    judged = judge(visit, own_host, catalogue)
    return PageFigures(
        page=visit.page,
        consent=visit.consent,
        requests=len(visit.requests),
        tracker_requests=sum(1 for j in judged if j.tracker),
        third_party_hosts=tuple(sorted({j.request.host for j in judged})),
        tracker_hosts=tuple(sorted({j.request.host for j in judged if j.tracker})),
        unknown_hosts=tuple(sorted({j.request.host for j in judged if j.vendor is None})),
        console_errors=len(visit.console_errors),
        page_errors=len(visit.page_errors),
        handlers=len(visit.handlers),
    )


async def visit_all(
    pages: Iterable[Path], consents: Iterable[str | None], *, site: Any = None, catalogue: Catalogue | None = None
) -> dict[tuple[str, str | None], Visit]:
    """Every page in every consent state, one browser, one visit at a time (the machine is small)."""
    results: dict[tuple[str, str | None], Visit] = {}
    consents = list(consents)
    async with browser_session() as session:
        for page in pages:
            for consent in consents:
                results[(page.name, consent)] = await session.visit(page, consent, site=site, catalogue=catalogue)
    return results

