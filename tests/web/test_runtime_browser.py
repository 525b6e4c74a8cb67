"""consent.js in a real Chromium against hand-deferred markup (no proxy needed).

The pages hold exactly what the rewriter leaves for a visitor without consent
(DESIGN.md's table), so these tests pin down the runtime's half of the contract:
activation in place, script order, preserved attributes, every restorable attribute,
embed placeholders, and that refused categories stay inert.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from web_browser import WAIT_MS, TrackerNet, launch, new_page, screenshot_path
from web_harness import harness_vendor, lib_body, make_harness, make_site, serve, sri

pytestmark = pytest.mark.browser

ORDER_PAGE = """<!DOCTYPE html><html lang="en"><head><title>order</title>
<script type="text/plain" data-consent="analytics" data-consent-src="/fp/lib.js?name=A&amp;delay=400"></script>
<script type="text/plain" data-consent="analytics">window.order.push('after-A:' + (window.libA ? 'ok' : 'missing'));</script>
<script type="text/plain" data-consent="analytics" data-consent-src="/fp/lib.js?name=D" defer></script>
<script type="text/plain" data-consent="analytics" data-consent-src="/fp/lib.js?name=B&amp;delay=200"></script>
<script type="text/plain" data-consent="analytics" data-consent-type="module">window.order.push('module');</script>
<script type="text/plain" data-consent="analytics" data-consent-src="/fp/lib.js?name=S&amp;delay=600" async></script>
</head><body>
<script type="text/plain" data-consent="analytics">window.order.push('inline-last'); document.write('<p id="written">written</p>');</script>
<script type="text/plain" data-consent="marketing" data-consent-src="/fp/lib.js?name=M"></script>
<script type="text/plain" data-consent="analytics" data-consent-src="/fp/lib.js?name=I" integrity="INTEGRITY" crossorigin="anonymous" referrerpolicy="no-referrer"></script>
<script type="text/plain" data-consent="analytics" data-consent-src="/fp/lib.js?name=X" integrity="sha384-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"></script>
<img id="img" alt="" data-consent="analytics" data-consent-src="/fp/pixel.gif?img" data-consent-srcset="/fp/pixel.gif?srcset 2x">
<img id="lazy" alt="" class="lazy" data-consent="analytics" data-consent-data-src="/fp/lazy.gif">
<iframe id="frame" title="f" data-consent="analytics" data-consent-src="/fp/frame.html"></iframe>
<a id="pinged" href="#here" data-consent="analytics" data-consent-ping="/fp/ping">ping</a>
<link id="sheet" rel="stylesheet" data-consent="analytics" data-consent-href="/fp/style.css">
<div id="styled" data-consent="analytics" data-consent-style="color: rgb(4, 5, 6)">styled</div>
<img id="mkt" alt="" data-consent="marketing" data-consent-src="/fp/pixel.gif?marketing">
<iframe id="yt" width="560" height="315" title="video" data-consent="marketing" data-consent-vendor="youtube-embed" data-consent-src="/fp/frame.html?yt"></iframe>
<p id="inline-ran">no</p>
</body></html>"""

VENDORS = [
    harness_vendor("youtube-embed", "YouTube", "marketing", cookie_lifetimes={"VISITOR_INFO1_LIVE": "6 months"}, embed=True),
    harness_vendor("google-analytics", "Google Analytics", "analytics", cookie_lifetimes={"_ga": "2 years"}),
]


@pytest.fixture
async def harness() -> AsyncIterator[tuple[Any, str]]:
    page = ORDER_PAGE.replace("INTEGRITY", sri(lib_body("I")))
    app = make_harness({"order": page}, vendors=VENDORS)
    runner, url = await serve(app)
    yield app, url
    await runner.cleanup()


async def wait_for_order(page: Any, count: int) -> list[str]:
    await page.wait_for_function(f"(window.order || []).length >= {count}", timeout=WAIT_MS)
    return await page.evaluate("window.order")


async def test_save_analytics_activates_in_order_and_keeps_marketing_inert(harness: tuple[Any, str]) -> None:
    app, url = harness
    net = TrackerNet()
    async with launch() as browser:
        context, page, errors = await new_page(browser, net)
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        await page.goto(f"{url}/page/order")
        await page.wait_for_selector(".consentry-banner", state="visible")
        assert await page.evaluate("window.order") is None, "nothing may run before consent"
        assert not [u for u in fetched if "/fp/" in u], "no deferred resource may load before consent"

        await page.get_by_role("button", name="Choose").click()
        await page.locator("#consentry-js-cat-analytics").check()
        await page.get_by_role("button", name="Save choices").click()

        order = await wait_for_order(page, 8)
        # Blocking scripts in document order, each after the previous external one;
        # async whenever it arrives; defer/module after all blocking ones, in order.
        blocking = [name for name in order if name not in ("S",)]
        assert blocking == ["A", "after-A:ok", "B", "inline-last", "I", "D", "module"], order
        assert "S" in order
        assert "M" not in order and "X" not in order, "marketing and a bad integrity must not run"

        attributes = await page.evaluate("""() => {
            const s = document.querySelector('script[src*="name=I"]');
            return [s.integrity, s.crossOrigin, s.referrerPolicy, s.type];
        }""")
        assert attributes[:3] == [sri(lib_body("I")), "anonymous", "no-referrer"]
        assert attributes[3] == ""

        restored = await page.evaluate("""() => ({
            img: document.getElementById('img').getAttribute('src'),
            srcset: document.getElementById('img').getAttribute('srcset'),
            lazy: document.getElementById('lazy').getAttribute('data-src'),
            frame: document.getElementById('frame').getAttribute('src'),
            ping: document.getElementById('pinged').getAttribute('ping'),
            sheet: document.getElementById('sheet').getAttribute('href'),
            style: getComputedStyle(document.getElementById('styled')).color,
            mkt: document.getElementById('mkt').getAttribute('src'),
            written: !!document.getElementById('written'),
            title: document.title,
        })""")
        assert restored["img"] == "/fp/pixel.gif?img" and restored["srcset"] == "/fp/pixel.gif?srcset 2x"
        assert restored["lazy"] == "/fp/lazy.gif"
        assert restored["frame"] == "/fp/frame.html"
        assert restored["ping"] == "/fp/ping"
        assert restored["sheet"] == "/fp/style.css"
        assert restored["style"] == "rgb(4, 5, 6)"
        assert restored["mkt"] is None, "a marketing image must stay inert"
        assert restored["written"] and restored["title"] == "order", "document.write must not wipe the page"
        await page.wait_for_function("getComputedStyle(document.body).outlineColor === 'rgb(1, 2, 3)'", timeout=WAIT_MS)

        assert not net.requests, f"the harness page has no third party: {net.requests}"
        assert not errors, errors
        await context.close()


async def test_accept_all_runs_marketing_and_reject_all_runs_nothing(harness: tuple[Any, str]) -> None:
    _, url = harness
    net = TrackerNet()
    async with launch() as browser:
        context, page, errors = await new_page(browser, net)
        await page.goto(f"{url}/page/order")
        await page.get_by_role("button", name="Reject all").click()
        await page.wait_for_selector(".consentry-settings", state="visible")
        assert await page.locator(".consentry-banner").is_hidden()
        assert await page.evaluate("window.order") is None
        assert await page.locator("#img").get_attribute("src") is None

        # Change of mind through the persistent control: everything runs, in place.
        await page.locator(".consentry-settings").click()
        await page.get_by_role("dialog", name="Privacy settings").get_by_role("button", name="Accept all").click()
        order = await wait_for_order(page, 9)
        assert "M" in order and "A" in order
        assert await page.locator("#mkt").get_attribute("src") == "/fp/pixel.gif?marketing"
        assert not errors, errors
        await context.close()


async def test_embed_placeholder_load_once_and_always_allow(harness: tuple[Any, str]) -> None:
    app, url = harness
    net = TrackerNet()
    async with launch() as browser:
        context, page, errors = await new_page(browser, net)
        await page.goto(f"{url}/page/order")
        holder = page.locator(".consentry-embed").first
        await holder.wait_for(state="visible")
        assert "YouTube" in await holder.inner_text()
        assert await page.locator("#yt").is_hidden()

        await holder.get_by_role("button", name="Load once").click()
        await page.wait_for_function("document.getElementById('yt').getAttribute('src') === '/fp/frame.html?yt'", timeout=WAIT_MS)
        assert await page.locator("#yt").is_visible()
        assert await page.locator(".consentry-embed").count() == 0
        assert await page.locator("#mkt").get_attribute("src") is None, "load once is for that embed only"

        # A new page view: the embed is inert again; "always allow" stores a vendor consent.
        await page.reload()
        await page.locator(".consentry-embed").get_by_role("button", name="Always allow YouTube").click()
        await page.wait_for_function("document.getElementById('yt').getAttribute('src') === '/fp/frame.html?yt'", timeout=WAIT_MS)
        from web_harness import POSTS_KEY
        assert app[POSTS_KEY][-1]["vendors"] == {"youtube-embed": True}
        assert await page.locator("#mkt").get_attribute("src") is None, "other marketing stays refused"
        assert not errors, errors
        await context.close()


async def test_second_layer_lists_vendors_with_privacy_links_and_lifetimes(harness: tuple[Any, str]) -> None:
    _, url = harness
    async with launch() as browser:
        context, page, _ = await new_page(browser, TrackerNet())
        await page.goto(f"{url}/page/order")
        await page.get_by_role("button", name="Choose").click()
        dialog = page.get_by_role("dialog", name="Privacy settings")
        await dialog.wait_for()
        for name in ("preferences", "analytics", "marketing"):
            assert not await page.locator(f"#consentry-js-cat-{name}").is_checked(), "no pre-ticked boxes"
        assert await page.locator("#consentry-js-cat-necessary").is_disabled()
        await dialog.locator(".consentry-vendor-slot[data-for=analytics] summary").click()
        text = await dialog.locator(".consentry-vendor-slot[data-for=analytics]").inner_text()
        assert "Google Analytics" in text and "_ga (2 years)" in text
        link = dialog.locator(".consentry-vendor-slot[data-for=analytics] a")
        assert await link.get_attribute("href") == "https://vendor.example/privacy"
        await context.close()


@pytest.mark.parametrize("locale", ["de-DE", "fr-FR", "nl-NL"])
async def test_banner_speaks_the_visitors_language(locale: str) -> None:
    from proxy.web import texts_for

    site = make_site()
    app = make_harness({"p": "<!DOCTYPE html><html><head><title>t</title></head><body><p>x</p></body></html>"}, site=site)
    runner, url = await serve(app)
    try:
        async with launch() as browser:
            context, page, _ = await new_page(browser, TrackerNet(), locale=locale)
            await page.goto(f"{url}/page/p")
            texts = texts_for(site, locale[:2])
            banner = page.get_by_role("dialog", name=texts["title"])
            await banner.wait_for()
            for key in ("accept_all", "reject_all", "choose"):
                assert await banner.get_by_role("button", name=texts[key], exact=True).is_visible()
            assert texts["accept_all"] != texts_for(site, "en")["accept_all"]
            await context.close()
    finally:
        await runner.cleanup()


SIMPLE_PAGE = """<!DOCTYPE html><html lang="en"><head><title>simple</title></head><body>
<p>content</p><img id="img" alt="" data-consent="analytics" data-consent-src="/fp/pixel.gif?img">
</body></html>"""


@pytest.mark.parametrize("overrides", [{"mode": "strip"}, {"csp": "enforce"}])
async def test_strip_mode_and_enforced_csp_reload_after_consent(overrides: dict[str, str]) -> None:
    app = make_harness({"p": SIMPLE_PAGE}, site=make_site(**overrides))
    runner, url = await serve(app)
    try:
        async with launch() as browser:
            context, page, errors = await new_page(browser, TrackerNet())
            await page.goto(f"{url}/page/p")
            await page.evaluate("window.__same_page = true")
            async with page.expect_navigation(timeout=WAIT_MS):
                await page.get_by_role("button", name="Accept all").click()
            await page.wait_for_load_state("load")
            assert await page.evaluate("window.__same_page") is None
            assert not errors, errors
            await context.close()
    finally:
        await runner.cleanup()


def _luminance(rgb: str) -> float:
    values = [int(v) / 255 for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    linear = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in values]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


async def test_default_colours_meet_wcag_aa_and_theme_recolours() -> None:
    pairs_js = """() => {
        const s = e => getComputedStyle(document.querySelector(e));
        const bannerBg = s('.consentry-banner').backgroundColor;
        return [
            [s('.consentry-button').color, s('.consentry-button').backgroundColor],
            [s('.consentry-title').color, bannerBg],
            [s('.consentry-intro').color, bannerBg],
            [s('.consentry-intro a').color, bannerBg],
        ];
    }"""
    for theme, expected_button in (({}, None), ({"accent": "#004400"}, "rgb(0, 68, 0)")):
        site = make_site(banner={"privacy_policy_url": "/privacy", "theme": theme})
        app = make_harness({"p": SIMPLE_PAGE}, site=site)
        runner, url = await serve(app)
        try:
            async with launch() as browser:
                context, page, _ = await new_page(browser, TrackerNet())
                await page.goto(f"{url}/page/p")
                await page.locator(".consentry-banner").wait_for()
                for foreground, background in await page.evaluate(pairs_js):
                    assert contrast(foreground, background) >= 4.5, (foreground, background)
                if expected_button:
                    assert await page.locator(".consentry-button").first.evaluate(
                        "e => getComputedStyle(e).backgroundColor") == expected_button
                await page.get_by_role("button", name="Choose").click()
                description = page.locator(".consentry-description").first
                colours = await description.evaluate(
                    "e => [getComputedStyle(e).color, getComputedStyle(document.querySelector('.consentry-prefs')).backgroundColor]")
                assert contrast(*colours) >= 4.5, colours
                await context.close()
        finally:
            await runner.cleanup()


async def test_a_vendor_the_site_never_allows_stays_inert_after_accept_all() -> None:
    site = make_site(vendors={"youtube-embed": {"allow": "never"}})
    page_text = ORDER_PAGE.replace("INTEGRITY", sri(lib_body("I")))
    app = make_harness({"order": page_text}, site=site, vendors=VENDORS)
    runner, url = await serve(app)
    try:
        async with launch() as browser:
            context, page, errors = await new_page(browser, TrackerNet())
            await page.goto(f"{url}/page/order")
            await page.get_by_role("button", name="Accept all").click()
            await wait_for_order(page, 9)
            assert await page.locator("#mkt").get_attribute("src") == "/fp/pixel.gif?marketing"
            assert await page.locator("#yt").get_attribute("src") is None
            assert await page.locator(".consentry-embed").count() == 0, "no click-to-load for a vendor never allowed"
            assert not errors, errors
            await context.close()
    finally:
        await runner.cleanup()


async def test_no_javascript_banner_form_posts_and_the_page_follows() -> None:
    from web_harness import POSTS_KEY

    app = make_harness({"p": SIMPLE_PAGE.replace("<p>content</p>", "<p>content</p><noscript><img id='ns' alt='' data-consent='analytics' data-consent-src='/fp/pixel.gif?ns'></noscript>")})
    runner, url = await serve(app)
    try:
        async with launch() as browser:
            context, page, _ = await new_page(browser, TrackerNet(), java_script_enabled=False)
            await page.goto(f"{url}/page/p?from=here")
            form = page.locator("form.consentry-noscript")
            await form.wait_for()
            assert await form.is_visible()
            assert await page.locator(".consentry-banner[role=dialog]").count() == 0, "no JS, no JS banner"
            await page.screenshot(path=screenshot_path("banner-no-js.png"))
            await form.get_by_role("button", name="Reject all").click()
            await page.wait_for_url(f"{url}/page/p?from=here")
            assert app[POSTS_KEY][-1] == {"form": True, "action": "reject_all", "categories": []}
            # Decided: only a settings link is left, to the preferences page, returning here.
            assert await page.locator("form.consentry-noscript").count() == 0
            link = page.get_by_role("link", name="Privacy settings")
            assert await link.get_attribute("href") == "/_consent/?return_to=/page/p%3Ffrom%3Dhere"
            await context.close()
    finally:
        await runner.cleanup()


async def test_with_javascript_the_no_js_form_stays_hidden() -> None:
    app = make_harness({"p": SIMPLE_PAGE})
    runner, url = await serve(app)
    try:
        async with launch() as browser:
            context, page, _ = await new_page(browser, TrackerNet())
            await page.goto(f"{url}/page/p")
            await page.locator(".consentry-banner[role=dialog]").wait_for()
            assert await page.locator("form.consentry-noscript").count() == 0
            await context.close()
    finally:
        await runner.cleanup()


async def test_escape_on_the_first_layer_decides_nothing() -> None:
    from web_harness import POSTS_KEY

    app = make_harness({"p": SIMPLE_PAGE})
    runner, url = await serve(app)
    try:
        async with launch() as browser:
            context, page, _ = await new_page(browser, TrackerNet())
            await page.goto(f"{url}/page/p")
            banner = page.locator(".consentry-banner")
            await banner.wait_for()
            assert await banner.evaluate("e => e.contains(document.activeElement)")
            await page.keyboard.press("Escape")
            assert not await banner.evaluate("e => e.contains(document.activeElement)"), "Escape leaves the banner"
            assert await banner.is_visible(), "no choice was made, so the banner stays"
            assert app[POSTS_KEY] == []
            assert await page.locator("#img").get_attribute("src") is None
            await context.close()
    finally:
        await runner.cleanup()
