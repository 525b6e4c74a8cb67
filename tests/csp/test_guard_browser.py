"""In real Chromium: trackers injected at run time make zero requests without consent.

The test site's only trackers are added by its own scripts (GTM-style createElement,
innerHTML, insertAdjacentHTML, document.write, sendBeacon, new Image, fetch, XHR).
Each layer is tried alone and together: the guard alone (CSP off), the CSP alone in
enforce mode (no guard; unknown third parties refused, so the policy is an allowlist),
and both. Every request that leaves loopback is recorded and answered by a fake; a
request the browser's CSP stopped never leaves it and is not counted as made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from csp.csp_browser import (
    INJECTED,
    WAIT,
    SiteOptions,
    TrackerNet,
    launch,
    make_test_site,
    serve,
    settle,
    wait_for_js,
    wait_for_violations,
)
from csp.csp_fixtures import CATALOGUE, consent, make_site

pytestmark = pytest.mark.browser

NOTHING = dict.fromkeys(INJECTED, False)
EVERYTHING = dict.fromkeys(INJECTED, True)
MARKETING = ("innerHTML-img", "document.write", "insertAdjacentHTML")
ANALYTICS = ("gtm-createElement", "sendBeacon", "new-Image", "fetch", "xhr")

# Unknown third parties refused unless marketing is granted: the CSP is a real allowlist.
STRICT = {"unknown_third_party": "marketing"}
LAYERS = {
    "guard-alone": ({"csp": "off"}, True),
    "csp-alone": ({"csp": "enforce", **STRICT}, False),
    "both": ({"csp": "enforce", **STRICT}, True),
}


@asynccontextmanager
async def visit(site_changes: dict[str, Any], *, guard: bool, granted: tuple[str, ...] = (), net: TrackerNet | None = None,
                **options: Any) -> AsyncIterator[tuple[Any, TrackerNet, Any, Any]]:
    """Open the test site in Chromium; yields (page, net, violation registry, response)."""
    site = make_site(**site_changes)
    app, registry = make_test_site(
        SiteOptions(site=site, state_for=lambda request: consent(*granted), guard=guard, catalogue=CATALOGUE, **options)
    )
    async with serve(app) as url, launch() as browser:
        responses: list[Any] = []
        context, page, net = await _open(browser, url, net, responses)
        try:
            yield page, net, registry, responses[0]
        finally:
            await context.close()


async def _open(browser: Any, url: str, net: TrackerNet | None, responses: list[Any]) -> tuple[Any, Any, TrackerNet]:
    context = await browser.new_context()
    net = net or TrackerNet()
    await net.attach(context)
    page = await context.new_page()
    page.on("response", lambda response: responses.append(response) if response.url == url + "/" else None)
    await page.goto(url + "/", wait_until="load", timeout=WAIT * 1000)
    await wait_for_js(page, "document.getElementById('status').textContent.startsWith('ready')")
    await settle(page)
    await net.fenced()
    return context, page, net


async def assert_site_works(page: Any) -> None:
    # Both first-party scripts ran (the parser-inserted one and the deferred bundle) and
    # the bundle's own fetch to the site came back.
    assert await page.evaluate("window.__firstParty") == ["write", "app"]
    assert await page.text_content("#status") == "ready:pong"


@pytest.mark.parametrize("layer", list(LAYERS))
async def test_no_tracker_request_without_consent(layer: str) -> None:
    site_changes, guard = LAYERS[layer]
    async with visit(site_changes, guard=guard) as (page, net, registry, _):
        assert net.hits() == NOTHING, net.requests
        assert net.requests == []
        assert await page.evaluate("window.__trackersRan") is None
        await assert_site_works(page)
        if not guard:
            # The CSP stopped them in the browser, and the browser told the endpoint.
            assert net.csp_blocked
            assert await wait_for_violations(registry, directive="script-src-elem", host="www.googletagmanager.com") >= 1
            assert await wait_for_violations(registry, directive="img-src", host="www.facebook.com") >= 1
            assert await wait_for_violations(registry, directive="connect-src", host="www.google-analytics.com") >= 1


async def test_guard_keeps_blocked_elements_inert_and_restorable() -> None:
    async with visit({"csp": "off"}, guard=True) as (page, net, _, _response):
        gtm = await page.evaluate(
            """() => [...document.querySelectorAll('script[data-consent]')].map(s => ({
                type: s.getAttribute('type'), src: s.getAttribute('src'), category: s.dataset.consent,
                vendor: s.dataset.consentVendor, deferred: s.dataset.consentSrc}))"""
        )
        by_src = {entry["deferred"].split("?")[0]: entry for entry in gtm}
        assert by_src["https://www.googletagmanager.com/gtm.js"] == {
            "type": "text/plain", "src": None, "category": "analytics", "vendor": "google-tag-manager",
            "deferred": "https://www.googletagmanager.com/gtm.js?id=GTM-TEST",
        }
        assert by_src["https://connect.facebook.net/en_US/fbevents.js"]["vendor"] == "meta-pixel"
        assert by_src["https://connect.facebook.net/signals/config.js"]["category"] == "marketing"
        pixel = await page.evaluate(
            "() => { const i = document.querySelector('#slot img'); return [i.getAttribute('src'), i.dataset.consent, i.dataset.consentSrc]; }"
        )
        assert pixel == [None, "marketing", "https://www.facebook.com/tr?id=1&ev=PageView"]
        frame = await page.evaluate("() => document.querySelector('#slot iframe').dataset.consentSrc")
        assert frame == "https://www.googletagmanager.com/ns.html?id=GTM-TEST"
        blocked = await page.evaluate("() => window.__consentry_guard.blocked.map(b => b.via)")
        assert {"property", "insert", "beacon", "fetch", "xhr"} <= set(blocked)


@pytest.mark.parametrize("layer", list(LAYERS))
async def test_everything_runs_after_full_consent(layer: str) -> None:
    site_changes, guard = LAYERS[layer]
    async with visit(site_changes, guard=guard, granted=("preferences", "analytics", "marketing")) as (page, net, _, _r):
        assert await net.wait_for_hits(*INJECTED) == EVERYTHING, net.requests
        # gtm.js and fbevents.js execute (scripts added by insertAdjacentHTML never run, by spec).
        await wait_for_js(page, "window.__trackersRan >= 2")
        await assert_site_works(page)


@pytest.mark.parametrize("layer", list(LAYERS))
async def test_analytics_consent_lets_analytics_run_and_nothing_of_marketing(layer: str) -> None:
    site_changes, guard = LAYERS[layer]
    async with visit(site_changes, guard=guard, granted=("analytics",)) as (page, net, _, _r):
        hits = await net.wait_for_hits(*ANALYTICS)
        assert {name: hits[name] for name in ANALYTICS} == dict.fromkeys(ANALYTICS, True), net.requests
        assert {name: hits[name] for name in MARKETING} == dict.fromkeys(MARKETING, False), net.requests
        assert not [url for url in net.requests if "facebook" in url]


@pytest.mark.parametrize("layer", list(LAYERS))
async def test_an_allowed_tag_manager_cannot_load_a_refused_tracker(layer: str) -> None:
    # Why the policy has no 'strict-dynamic': GTM is allowed here, and what it loads must
    # still face the allowlist (CSP) and the guard.
    net = TrackerNet(scripts={"gtm.js": (
        "var s = document.createElement('script');"
        "s.src = 'https://connect.facebook.net/en_US/fbevents.js?via=gtm';"
        "document.head.appendChild(s);"
        "new Image().src = '/api/ping?fence=gtm';"
    )})
    site_changes, guard = LAYERS[layer]
    async with visit(site_changes, guard=guard, granted=("analytics",), net=net) as (page, net, _, _r):
        assert any("gtm.js" in url for url in net.routed), "GTM itself was consented and must load"
        await wait_for_js(page, "window.__trackersRan >= 1")
        await net.wait_seen("fence=gtm")
        assert not [url for url in net.requests if "via=gtm" in url]


async def test_guard_update_lifts_the_block_in_place() -> None:
    async with visit({"csp": "off"}, guard=True) as (page, net, _, _r):
        assert net.requests == []
        # What the consent runtime does after "Accept all": tell the guard, then activate.
        await page.evaluate(
            """() => {
                window.__consentry_guard.update(['necessary', 'preferences', 'analytics', 'marketing'], {});
                for (const old of document.querySelectorAll('script[data-consent-src]')) {
                    const s = document.createElement('script');
                    s.src = old.dataset.consentSrc;
                    old.replaceWith(s);
                }
                const img = document.querySelector('#slot img');
                img.src = img.dataset.consentSrc;
            }"""
        )
        await wait_for_js(page, "window.__trackersRan >= 3")
        hits = await net.wait_for_hits("gtm-createElement", "document.write", "insertAdjacentHTML", "innerHTML-img")
        assert hits["gtm-createElement"] and hits["document.write"] and hits["insertAdjacentHTML"] and hits["innerHTML-img"]
        # Per-vendor choices are honoured after an update too.
        await page.evaluate("() => window.__consentry_guard.update(['analytics', 'marketing'], {'google-analytics': false})")
        refused = await page.evaluate("() => window.__consentry_guard.refuses('https://www.google-analytics.com/g/collect')")
        assert refused == {"vendor": "google-analytics", "category": "analytics"}
        assert await page.evaluate("() => window.__consentry_guard.refuses('https://www.googletagmanager.com/gtm.js')") is None


async def test_report_mode_reports_without_blocking() -> None:
    async with visit({"csp": "report", **STRICT}, guard=False) as (page, net, registry, response):
        headers = await response.all_headers()
        assert "content-security-policy-report-only" in headers and "content-security-policy" not in headers
        assert (await net.wait_for_hits("gtm-createElement"))["gtm-createElement"]
        assert await wait_for_violations(registry, directive="script-src-elem", host="www.googletagmanager.com") >= 1
        assert await wait_for_violations(registry, directive="img-src", host="www.facebook.com") >= 1
        await assert_site_works(page)


async def test_site_with_its_own_strict_nonce_csp_keeps_working() -> None:
    upstream = "script-src 'nonce-SiteOwnNonce42' 'strict-dynamic'; object-src 'none'; base-uri 'none'"
    async with visit({"csp": "enforce", **STRICT}, guard=True, upstream_csp=upstream, upstream_nonce="SiteOwnNonce42") as (
        page, net, registry, response,
    ):
        policies = [h["value"] for h in await response.headers_array() if h["name"].lower() == "content-security-policy"]
        assert upstream in policies and len(policies) == 2, "the site's policy is sent unchanged beside ours"
        ours = next(p for p in policies if p != upstream)
        assert "'nonce-SiteOwnNonce42'" in ours
        await assert_site_works(page)
        # The guard ran under the site's policy (it carries the site's nonce) and did its job.
        assert await page.evaluate("typeof window.__consentry_guard.update") == "function"
        assert net.requests == []


async def test_site_with_its_own_strict_nonce_csp_gets_its_trackers_after_consent() -> None:
    upstream = "script-src 'nonce-SiteOwnNonce42' 'strict-dynamic'; object-src 'none'; base-uri 'none'"
    async with visit({"csp": "enforce", **STRICT}, guard=True, upstream_csp=upstream, upstream_nonce="SiteOwnNonce42",
                     granted=("analytics", "marketing")) as (page, net, _, _r):
        await assert_site_works(page)
        hits = await net.wait_for_hits("gtm-createElement", "sendBeacon", "innerHTML-img")
        assert hits["gtm-createElement"] and hits["sendBeacon"] and hits["innerHTML-img"], net.requests


async def test_guard_sees_through_url_spellings_the_url_parser_accepts() -> None:
    spellings = [
        "//www.facebook.com/tr?a=1",
        "https:\\\\www.facebook.com\\tr?b=1",
        "ht\ttps://www.facebook.com/tr?c=1",
        " \n//www.facebook.com/tr?d=1",
        "/\t/www.facebook.com/tr?e=1",
        "HTTPS://WWW.FACEBOOK.COM/tr?f=1",
        "https://www.facebook.com./tr?g=1",
        "https://user:pw@www.facebook.com:443/tr?h=1",
    ]
    async with visit({"csp": "off"}, guard=True) as (page, net, _, _r):
        await page.evaluate(
            """spellings => {
                for (const url of spellings) {
                    const img = document.createElement('img'); img.src = url; document.body.appendChild(img);
                    const other = document.createElement('img'); other.setAttribute('SRC', url); document.body.appendChild(other);
                }
                const set = document.createElement('img'); set.srcset = '/ok.png 1x, https://www.facebook.com/tr?i=1 2x';
                document.body.appendChild(set);
                const box = document.createElement('div'); document.body.appendChild(box);
                box.innerHTML = '<img src="https:&#x2F;&#x2F;www.facebook.com/tr?j=1"><img src="&#47;/www.facebook.com/tr?k=1">';
                box.insertAdjacentHTML('beforeend', '<img src="/\\t/www.facebook.com/tr?l=1">');
                const base = document.createElement('base'); base.href = 'https://www.facebook.com/'; document.head.appendChild(base);
                const relative = document.createElement('img'); relative.src = 'tr?m=1'; document.body.appendChild(relative);
                base.remove();
                new Image().src = '/api/ping?fence=spellings';
            }""",
            spellings,
        )
        await net.wait_seen("fence=spellings")
        assert [url for url in net.requests if "facebook" in url] == []
        blocked = await page.evaluate("() => window.__consentry_guard.blocked.filter(b => b.vendor === 'meta-pixel').length")
        assert blocked >= 2 * len(spellings) + 4
        # First-party URLs of every spelling still load.
        await page.evaluate("() => { const i = document.createElement('img'); i.src = '/api/ping?img=1'; document.body.appendChild(i); }")
        assert await page.evaluate("() => window.__consentry_guard.refuses('/api/ping') === null")
