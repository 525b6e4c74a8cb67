"""Issue 6's scenarios in a real Chromium: the demo site served through the real proxy.

Every request that leaves loopback is intercepted, recorded and answered by a fake
(web_browser.TrackerNet), so "zero tracker requests" is measured, not assumed. Tests
wait on conditions (bounded by WAIT_MS), never on durations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from proxy.demo import DemoServers, start_demo
from web_browser import WAIT_MS, TrackerNet, launch, new_page, screenshot_path

pytestmark = pytest.mark.browser

# The trackers the demo's home page starts by itself with JavaScript on (the original page).
HOME_ANALYTICS = ("googletagmanager.com/gtm.js", "googletagmanager.com/gtag/js", "google-analytics.com/analytics.js",
                  "static.hotjar.com", "clarity.ms/tag")
HOME_MARKETING = ("connect.facebook.net/en_US/fbevents.js", "snap.licdn.com")


@pytest.fixture
async def demo() -> AsyncIterator[DemoServers]:
    servers = await start_demo()
    yield servers
    await servers.close()


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll a Python-side condition (e.g. recorded requests), bounded by WAIT_MS."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_MS / 1000
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def settle(page: Any) -> None:
    """Wait until the page and everything it started has loaded."""
    await page.wait_for_load_state("networkidle", timeout=WAIT_MS)


async def cookie_names(context: Any) -> set[str]:
    return {cookie["name"] for cookie in await context.cookies()}


async def wait_for_cookies(context: Any, names: set[str]) -> None:
    """A tracker sets its cookie when its script has run, some time after it was fetched."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_MS / 1000
    while not names <= await cookie_names(context):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for cookies {sorted(names)}; have {sorted(await cookie_names(context))}")
        await asyncio.sleep(0.05)


async def first_visit(browser: Any, url: str, net: TrackerNet, **options: Any) -> tuple[Any, Any, list[str]]:
    context, page, errors = await new_page(browser, net, **options)
    await page.goto(url)
    await page.get_by_role("dialog", name="Your privacy").wait_for()
    await settle(page)
    return context, page, errors


async def test_first_visit_shows_banner_and_makes_zero_tracker_requests(demo: DemoServers) -> None:
    net = TrackerNet()
    async with launch() as browser:
        context, page, errors = await first_visit(browser, demo.proxy_url, net)
        assert net.requests == [], f"tracker requests before consent: {net.requests}"
        # The page stays usable behind the banner (no cookie wall): its own script ran, links work.
        assert await page.get_attribute("html", "data-site-js") == "ran"
        banner = page.get_by_role("dialog", name="Your privacy")
        buttons = [banner.get_by_role("button", name=name, exact=True) for name in ("Accept all", "Reject all", "Choose")]
        boxes = [await button.bounding_box() for button in buttons]
        assert all(boxes), "all three choices are visible"
        # Equal weight: same size and the same colours for the three choices.
        assert len({(round(b["width"]), round(b["height"])) for b in boxes}) == 1, boxes
        styles = [await b.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color, getComputedStyle(e).fontWeight]") for b in buttons]
        assert len({tuple(s) for s in styles}) == 1, styles
        await page.screenshot(path=screenshot_path("banner-first-layer.png"))

        await banner.get_by_role("button", name="Choose").click()
        dialog = page.get_by_role("dialog", name="Privacy settings")
        await dialog.wait_for()
        for name in ("preferences", "analytics", "marketing"):
            assert not await page.locator(f"#consentry-js-cat-{name}").is_checked(), "no pre-ticked boxes"
        # The vendors actually on this page, with privacy links and cookie lifetimes.
        marketing = dialog.locator(".consentry-vendor-slot[data-for=marketing]")
        await marketing.locator("summary").click()
        text = await marketing.inner_text()
        assert "Meta" in text and "LinkedIn" in text
        assert await marketing.locator("a[href^='https://']").count() >= 2
        analytics = dialog.locator(".consentry-vendor-slot[data-for=analytics]")
        await analytics.locator("summary").click()
        assert "_ga" in await analytics.inner_text()
        await page.screenshot(path=screenshot_path("banner-second-layer.png"))
        await settle(page)
        assert net.requests == [], f"tracker requests while choosing: {net.requests}"
        assert not errors, errors
        await context.close()


async def test_reject_all_keeps_zero_requests_hides_banner_keeps_settings(demo: DemoServers) -> None:
    net = TrackerNet()
    async with launch() as browser:
        context, page, errors = await first_visit(browser, demo.proxy_url, net)
        await page.get_by_role("button", name="Reject all").click()
        settings = page.get_by_role("button", name="Privacy settings")
        await settings.wait_for()
        assert await page.locator(".consentry-banner").is_hidden()
        for path in ("", "shop", "visit"):
            await page.goto(demo.proxy_url + path)
            await settle(page)
            assert await page.get_by_role("button", name="Privacy settings").is_visible()
            assert await page.locator(".consentry-banner").is_hidden(), "a decided visitor is not asked again"
        # The embeds on /visit wait behind a click-to-load placeholder naming the vendor.
        holders = page.locator(".consentry-embed")
        await holders.first.wait_for()
        names = " ".join(await holders.all_inner_texts())
        assert "YouTube" in names and "Vimeo" in names
        await page.screenshot(path=screenshot_path("embed-placeholders.png"), full_page=True)
        await settle(page)
        assert net.requests == [], f"tracker requests after Reject all: {net.requests}"
        assert not errors, errors
        await context.close()


async def test_analytics_only_starts_analytics_in_place_and_nothing_of_marketing(demo: DemoServers) -> None:
    net = TrackerNet()
    async with launch() as browser:
        context, page, errors = await first_visit(browser, demo.proxy_url, net)
        await page.evaluate("window.__same_page = true")
        await page.get_by_role("button", name="Choose").click()
        await page.get_by_label("Analytics").check()
        await page.get_by_role("button", name="Save choices").click()
        await wait_until(lambda: all(net.hit(f) for f in HOME_ANALYTICS), "every analytics tag")
        await settle(page)
        assert await page.evaluate("window.__same_page") is True, "activated in place, without a reload"
        assert await page.get_attribute("html", "data-ga-ready") == "yes"
        assert net.urls("marketing") == [], net.urls("marketing")
        assert "_ga" in await cookie_names(context)
        # Google Consent Mode: the runtime sent "update" after the decision.
        updates = await page.evaluate("""() => (window.dataLayer || []).map(a => Array.from(a))
            .filter(a => a[0] === 'consent' && a[1] === 'update').map(a => a[2])""")
        assert updates and updates[-1]["analytics_storage"] == "granted" and updates[-1]["ad_storage"] == "denied"
        # The next page is served with analytics live and marketing still inert.
        net.requests.clear()
        await page.goto(demo.proxy_url + "shop")
        await settle(page)
        assert net.urls("marketing") == [], net.urls("marketing")
        assert not errors, errors
        await context.close()


async def test_accept_all_makes_every_request_of_the_original_page(demo: DemoServers) -> None:
    async with launch() as browser:
        original = TrackerNet()
        context, page, _ = await new_page(browser, original)
        await page.goto(demo.site_url)
        await settle(page)
        await context.close()
        expected = {url for url, _ in original.requests}
        assert all(any(f in url for url in expected) for f in HOME_ANALYTICS + HOME_MARKETING), expected

        net = TrackerNet()
        context, page, errors = await first_visit(browser, demo.proxy_url, net)
        await page.evaluate("window.__same_page = true")
        await page.get_by_role("button", name="Accept all").click()
        await wait_until(lambda: expected <= {url for url, _ in net.requests}, "the original page's tracker requests")
        assert await page.evaluate("window.__same_page") is True
        # The inline `ga('create' ...)` needs analytics.js: it ran after it.
        assert await page.get_attribute("html", "data-ga-ready") == "yes"
        await settle(page)
        await wait_for_cookies(context, {"_ga", "_fbp"})
        assert not errors, errors

        # Embeds load in place too once marketing is granted.
        await page.goto(demo.proxy_url + "visit")
        await wait_until(lambda: net.hit("youtube.com/embed") and net.hit("player.vimeo.com") and net.hit("google.com/maps"),
                         "the embeds")
        assert await page.locator(".consentry-embed").count() == 0
        await context.close()


async def test_withdrawal_reloads_and_tracker_cookies_are_gone(demo: DemoServers) -> None:
    net = TrackerNet()
    async with launch() as browser:
        context, page, errors = await first_visit(browser, demo.proxy_url, net)
        await page.get_by_role("button", name="Accept all").click()
        await wait_until(lambda: net.hit("fbevents.js") and net.hit("analytics.js"), "trackers after Accept all")
        await settle(page)
        await wait_for_cookies(context, {"_ga", "_fbp"})
        await page.evaluate("window.__same_page = true")

        await page.get_by_role("button", name="Privacy settings").click()
        async with page.expect_navigation(timeout=WAIT_MS):
            await page.get_by_role("dialog", name="Privacy settings").get_by_role("button", name="Reject all").click()
        await settle(page)
        assert await page.evaluate("window.__same_page") is None, "withdrawal reloads the page"
        names = await cookie_names(context)
        assert "_ga" not in names and "_fbp" not in names, names
        net.requests.clear()
        await page.reload()
        await settle(page)
        assert net.requests == [], net.requests
        assert not errors, errors
        await context.close()


async def test_keyboard_only(demo: DemoServers) -> None:
    net = TrackerNet()
    async with launch() as browser:
        context, page, errors = await first_visit(browser, demo.proxy_url, net)
        active = "() => document.activeElement && (document.activeElement.getAttribute('aria-labelledby') || document.activeElement.textContent.trim())"
        # Focus moved into the banner on arrival.
        assert await page.evaluate(active) == "consentry-title"
        await page.keyboard.press("Tab")
        assert await page.evaluate(active) == "Accept all"
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", "focus must be visible"
        await page.keyboard.press("Tab")
        await page.keyboard.press("Tab")
        assert await page.evaluate(active) == "Choose"
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Privacy settings")
        await dialog.wait_for()
        # Focus is trapped in the modal second layer: many Tabs never leave it.
        inside = "() => document.querySelector('.consentry-prefs').contains(document.activeElement)"
        for _ in range(25):
            await page.keyboard.press("Tab")
            assert await page.evaluate(inside)
        for _ in range(5):
            await page.keyboard.press("Shift+Tab")
            assert await page.evaluate(inside)
        # Escape closes it and gives focus back to the button that opened it.
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="hidden")
        assert await page.evaluate(active) == "Choose"
        await page.keyboard.press("Enter")
        await dialog.wait_for()
        analytics = page.locator("#consentry-js-cat-analytics")
        while not await analytics.evaluate("e => e === document.activeElement"):
            await page.keyboard.press("Tab")
        await page.keyboard.press("Space")
        assert await analytics.is_checked()
        while await page.evaluate(active) != "Save choices":
            await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await wait_until(lambda: net.hit("analytics.js"), "analytics after a keyboard decision")
        assert await page.evaluate(active) == "Privacy settings", "focus lands on the settings control"
        await settle(page)
        assert net.urls("marketing") == []
        assert not errors, errors
        await context.close()


async def test_without_javascript_the_plain_form_works(demo: DemoServers) -> None:
    net = TrackerNet()
    async with launch() as browser:
        context, page, _ = await new_page(browser, net, java_script_enabled=False)
        await page.goto(demo.proxy_url)
        await settle(page)
        # With scripting off the <noscript> pixels are live markup: they must be inert too.
        assert net.requests == [], net.requests
        await page.get_by_role("link", name="Cookie settings").click()
        await page.get_by_role("heading", name="Privacy settings").wait_for()
        await page.screenshot(path=screenshot_path("preferences-page-no-js.png"), full_page=True)
        assert not await page.get_by_label("Analytics").is_checked()
        await page.get_by_label("Analytics").check()
        await page.get_by_role("button", name="Save choices").click()
        await page.wait_for_url(demo.proxy_url)
        await settle(page)
        # The consented page: the GTM <noscript> iframe (analytics) loads, the Meta pixel (marketing) does not.
        assert net.hit("googletagmanager.com/ns.html"), net.requests
        assert net.urls("marketing") == [], net.urls("marketing")
        await context.close()


async def test_policy_version_bump_shows_the_banner_again(tmp_path: Path) -> None:
    from proxy.policy import ConfigHolder

    config_file = tmp_path / "consentry.toml"
    secret = "k" * 48

    def write(version: str, upstream: str, receipts_url: str) -> None:
        config_file.write_text(
            f'[consent]\nkeys = [{{ kid = "default", alg = "HS256", secret = "{secret}" }}]\n'
            f'[receipts]\nurl = "{receipts_url}"\n'
            f'[sites."default"]\nupstream = "{upstream}"\npolicy_version = "{version}"\n'
        )

    holders: list[Any] = []

    def make_holder(upstream: str, receipts_url: str) -> Any:
        write("1", upstream, receipts_url)
        holders.append((ConfigHolder(config_file), upstream, receipts_url))
        return holders[0][0]

    servers = await start_demo(holder=make_holder)
    try:
        net = TrackerNet()
        async with launch() as browser:
            context, page, errors = await first_visit(browser, servers.proxy_url, net)
            await page.get_by_role("button", name="Accept all").click()
            await wait_until(lambda: net.hit("analytics.js"), "trackers after Accept all")
            await page.reload()
            await settle(page)
            assert await page.locator(".consentry-banner").is_hidden(), "same policy: no banner"

            holder, upstream, receipts_url = holders[0]
            write("2", upstream, receipts_url)
            assert holder.reload() == []
            net.requests.clear()
            await page.reload()
            await page.get_by_role("dialog", name="Your privacy").wait_for()
            await settle(page)
            assert net.requests == [], "consent given to an older policy counts for nothing"
            assert not errors, errors
            await context.close()
    finally:
        await servers.close()


async def test_global_privacy_control_keeps_marketing_off(demo: DemoServers) -> None:
    net = TrackerNet()
    async with launch() as browser:
        context, page, errors = await first_visit(browser, demo.proxy_url, net, extra_http_headers={"Sec-GPC": "1"})
        await page.get_by_role("button", name="Choose").click()
        marketing = page.locator("#consentry-js-cat-marketing")
        assert await marketing.is_disabled() and not await marketing.is_checked()
        assert "Global Privacy Control" in await page.get_by_role("dialog", name="Privacy settings").inner_text()
        await page.get_by_role("dialog", name="Privacy settings").get_by_role("button", name="Accept all").click()
        await wait_until(lambda: net.hit("analytics.js"), "analytics after Accept all")
        await settle(page)
        assert net.urls("marketing") == [], net.urls("marketing")
        net.requests.clear()
        await page.goto(demo.proxy_url + "shop")
        await settle(page)
        assert net.urls("marketing") == [], net.urls("marketing")
        assert not errors, errors
        await context.close()
