"""In real Chromium, through the real proxy: the guard and the CSP the proxy adds stop run-time trackers.

The upstream is the same legacy test site as in test_guard_browser.py, but plain: no
guard, no policy, no nonces. Consentry (``proxy.server.start_servers`` with the shipped
catalogue) puts the guard first in ``<head>``, adds its nonce to the scripts it keeps
and sends the consent CSP; the browser's reports come back to the proxy's endpoint and
show on the admin ``/metrics``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from csp.csp_browser import INJECTED, WAIT, SiteOptions, TrackerNet, launch, make_test_site, serve, settle, wait_for_js
from csp.csp_fixtures import consent, make_site

pytestmark = pytest.mark.browser

os.environ.setdefault("CONSENTRY_SECRET", "test-secret-for-consentry-csp-tests-0123456789")


@dataclasses.dataclass
class Proxied:
    url: str
    admin_url: str
    config: Any

    def cookie(self, categories: list[str]) -> dict[str, str]:
        from proxy.consent import KeyRing, issue_token

        site = self.config.sites["default"]
        token, _ = issue_token(KeyRing.from_specs(self.config.consent.keys), site=site, categories=categories)
        return {"name": site.cookie_name, "value": token, "url": self.url}


@asynccontextmanager
async def proxied_site(tmp_path: Any, *, upstream_csp: str | None = None, **site_changes: Any) -> AsyncIterator[Proxied]:
    from proxy.policy import default_config
    from proxy.receipts import open_store
    from proxy.server import start_servers

    options = SiteOptions(
        site=make_site(csp="off"), state_for=lambda request: consent(), guard=False,
        upstream_csp=upstream_csp, upstream_nonce="SiteOwnNonce42" if upstream_csp else None,
        script_nonces=upstream_csp is not None,
    )
    upstream_app, _ = make_test_site(options)
    async with serve(upstream_app) as upstream_url:
        config = default_config(upstream=upstream_url)
        site = config.sites["default"].model_copy(update=site_changes)
        config = dataclasses.replace(config, sites={"default": site})
        store = await open_store(f"sqlite:///{tmp_path}/receipts.db")
        servers = await start_servers(config, listen=("127.0.0.1", 0), admin_listen=("127.0.0.1", 0), receipts=store)
        try:
            host, port = servers.public_address
            admin_host, admin_port = servers.admin_address
            yield Proxied(f"http://{host}:{port}", f"http://{admin_host}:{admin_port}", config)
        finally:
            await servers.close()
            await store.close()


async def browse(proxied: Proxied, *, granted: list[str] | None = None) -> tuple[dict[str, bool], TrackerNet, Any, Any]:
    """Open the page through the proxy in a fresh context; returns (hits, net, page, context)."""
    async with launch() as browser:
        context = await browser.new_context()
        if granted is not None:
            await context.add_cookies([proxied.cookie(granted)])
        net = TrackerNet()
        await net.attach(context)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(proxied.url + "/", wait_until="load", timeout=WAIT * 1000)
        await wait_for_js(page, "document.getElementById('status').textContent.startsWith('ready')")
        await settle(page)
        if granted:
            await net.wait_for_hits(*INJECTED)
        await net.fenced()
        assert await page.evaluate("window.__firstParty") == ["write", "app"]
        assert await page.evaluate("typeof window.__consentry_guard") == "object"
        assert errors == []
        result = net.hits(), net, await page.evaluate("window.__trackersRan"), await guard_comes_first(proxied, granted)
        await context.close()
        return result


async def guard_comes_first(proxied: Proxied, granted: list[str] | None) -> bool:
    """In the bytes the proxy sends, the guard is the first script of the page."""
    headers = {"Cookie": "{name}={value}".format(**proxied.cookie(granted))} if granted is not None else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as session:
        async with session.get(proxied.url + "/", headers=headers) as response:
            body = await response.text()
        head = body[body.index("<head>") + len("<head>"):]
        if not head.startswith("<script"):
            return False
        first = head[: head.index("</script>")]
        # Inline (the stub when nothing can be refused) or the site's cacheable guard file.
        found = re.match(r'<script src="([^"]+/guard\.js\?v=[0-9a-f]+)"', first)
        if found is None:
            return "__consentry_guard" in first
        async with session.get(proxied.url + found.group(1)) as response:
            return response.status == 200 and "__consentry_guard" in await response.text()


async def metrics_text(proxied: Proxied, *, until: str) -> str:
    """The admin /metrics text, polled (bounded by WAIT) until it contains `until`."""
    deadline = asyncio.get_running_loop().time() + WAIT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as session:
        while True:
            async with session.get(proxied.admin_url + "/metrics") as response:
                text = await response.text()
            if until in text or asyncio.get_running_loop().time() > deadline:
                return text
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("csp_mode", ["off", "report", "enforce"])
async def test_proxy_stops_run_time_trackers_without_consent(tmp_path: Any, csp_mode: str) -> None:
    async with proxied_site(tmp_path, csp=csp_mode, unknown_third_party="marketing") as proxied:
        hits, net, ran, guard_first = await browse(proxied)
        assert hits == dict.fromkeys(INJECTED, False), net.requests
        assert net.requests == [] and ran is None
        assert guard_first, "the guard must be the first element in <head>"


async def test_proxy_lets_everything_run_after_consent(tmp_path: Any) -> None:
    async with proxied_site(tmp_path, csp="enforce", unknown_third_party="marketing") as proxied:
        hits, net, ran, _ = await browse(proxied, granted=["preferences", "analytics", "marketing"])
        assert hits == dict.fromkeys(INJECTED, True), net.requests
        assert ran >= 1


async def test_proxy_csp_alone_is_reported_to_its_metrics(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The proxy always sends the guard; without it (a browser extension stripping inline
    # scripts, a guard bug) the enforced CSP still holds, and the browser says so.
    import proxy.web.snippet as snippet
    from proxy import csp

    monkeypatch.setattr(snippet, "_guard_markup", lambda site, state, nonce, consent_path, page_host=None: "")
    # With report-to, Chromium sends reports through the Reporting API only, batched;
    # headless Chromium here never delivered them (75 s, --short-reporting-delay), so
    # this test sends report-uri alone, which every browser delivers at once.
    monkeypatch.setattr(csp, "csp_headers", lambda site, state, **kw: [csp.build_csp(site, state, **kw)])
    # The shipped known-necessary list does not fit the header cap, so a strict site's page
    # gets a host allowlist once the proxy has read it (the necessary services it uses);
    # a first request, as a crawler or an earlier visitor would make, reads it.
    async with proxied_site(tmp_path, csp="enforce", unknown_third_party="marketing") as proxied:
        async with aiohttp.ClientSession() as session:
            async with session.get(proxied.url + "/") as response:
                assert "https:" in response.headers["Content-Security-Policy"]   # not read yet
                await response.read()
            async with session.get(proxied.url + "/") as response:
                assert "https:" not in response.headers["Content-Security-Policy"]
                await response.read()
        async with launch() as browser:
            context = await browser.new_context()
            net = TrackerNet()
            await net.attach(context)
            page = await context.new_page()
            await page.goto(proxied.url + "/", wait_until="load", timeout=WAIT * 1000)
            await wait_for_js(page, "document.getElementById('status').textContent.startsWith('ready')")
            assert await page.evaluate("typeof window.__consentry_guard") == "undefined"
            await settle(page)
            await net.fenced()
            assert net.requests == [] and net.csp_blocked
            # The browser posts its reports while the page is open.
            line = 'consentry_csp_violations_total{directive="script-src-elem",host="www.googletagmanager.com"}'
            assert line in await metrics_text(proxied, until=line)
            await context.close()


async def test_site_with_its_own_strict_nonce_csp_keeps_working_behind_the_proxy(tmp_path: Any) -> None:
    upstream = "script-src 'nonce-SiteOwnNonce42' 'strict-dynamic'; object-src 'none'; base-uri 'none'"
    async with proxied_site(tmp_path, upstream_csp=upstream, csp="enforce", unknown_third_party="marketing") as proxied:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as session:
            async with session.get(proxied.url + "/") as response:
                policies = response.headers.getall("Content-Security-Policy")
                body = await response.text()
        assert upstream in policies and len(policies) == 2, policies
        assert "'nonce-SiteOwnNonce42'" in next(p for p in policies if p != upstream)
        assert body.count('nonce="SiteOwnNonce42"') >= 4  # the site's three scripts and our guard
        hits, net, _, guard_first = await browse(proxied)
        assert hits == dict.fromkeys(INJECTED, False), net.requests
        assert guard_first


@pytest.mark.parametrize("csp_mode", ["off", "report", "enforce"])
async def test_accept_all_in_the_banner_brings_the_blocked_trackers_to_life(tmp_path: Any, csp_mode: str) -> None:
    # The consent runtime tells the guard first, then activates in place (or reloads
    # under an enforced CSP, which cannot widen for a decision made after it).
    async with proxied_site(tmp_path, csp=csp_mode, unknown_third_party="marketing") as proxied, launch() as browser:
        context = await browser.new_context()
        net = TrackerNet()
        await net.attach(context)
        page = await context.new_page()
        await page.goto(proxied.url + "/", wait_until="load", timeout=WAIT * 1000)
        await wait_for_js(page, "document.getElementById('status').textContent.startsWith('ready')")
        await settle(page)
        await net.fenced()
        assert net.requests == []
        await page.click('button[data-action="accept_all"]', timeout=WAIT * 1000)
        await wait_for_js(page, "(window.__trackersRan || 0) >= 2")
        hits = await net.wait_for_hits("gtm-createElement", "document.write", "innerHTML-img")
        for method in ("gtm-createElement", "document.write", "innerHTML-img"):
            assert hits[method], (method, net.requests)
        await context.close()
