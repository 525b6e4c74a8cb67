"""The bundled demo: a realistic legacy site full of catalogued trackers, and the proxy in front of it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from urllib.parse import urljoin, urlsplit

import aiohttp
import html5lib
import pytest

from proxy.demo import DemoServers, run_demo, start_demo
from proxy.demo.site import PAGES

TIMEOUT = aiohttp.ClientTimeout(total=10)
# Attributes through which markup makes a browser fetch without any script running.
FETCHING = {"script": ("src",), "img": ("src", "srcset"), "iframe": ("src",), "link": ("href",),
            "source": ("src", "srcset"), "embed": ("src",), "video": ("src", "poster"), "audio": ("src",),
            "a": ("ping",), "object": ("data",)}


@pytest.fixture
async def demo() -> AsyncIterator[DemoServers]:
    servers = await start_demo()
    yield servers
    await servers.close()


async def fetch(url: str, **kwargs: object) -> tuple[int, str, str]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        async with session.request(kwargs.pop("method", "GET"), url, **kwargs) as response:  # type: ignore[arg-type]
            return response.status, response.headers.get("Content-Type", ""), await response.text()


def live_urls(document: str, base: str) -> list[str]:
    """Every URL the parsed page would fetch on its own (scripts with JS off excluded: they don't run)."""
    tree = html5lib.parse(document, namespaceHTMLElements=False)
    urls = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag == "script" and (element.get("type") or "text/javascript").lower() in ("text/plain", "application/json"):
            continue
        if element.tag == "link" and element.get("rel") and "stylesheet" not in element.get("rel") \
                and not {"preload", "preconnect", "prefetch", "dns-prefetch", "modulepreload", "icon"} & set(element.get("rel").split()):
            continue
        for attribute in FETCHING.get(element.tag, ()):
            value = element.get(attribute)
            if value:
                urls.extend(urljoin(base, part.strip().split(" ")[0]) for part in value.split(","))
    return urls


def third_party(urls: list[str]) -> list[str]:
    return [u for u in urls if urlsplit(u).hostname not in ("127.0.0.1", "localhost")]


async def test_pages_assets_and_their_trackers(demo: DemoServers) -> None:
    from proxy.catalogue import Catalogue

    catalogue = Catalogue.default()
    vendors: set[str] = set()
    for path in PAGES:
        status, content_type, text = await fetch(demo.site_url.rstrip("/") + path)
        assert status == 200 and content_type.startswith("text/html"), path
        for url in third_party(live_urls(text, demo.site_url)) + re.findall(r"https://[a-z0-9.-]+/[^'\"\s)]*", text):
            vendor = catalogue.vendor_for_url(url)
            if vendor is not None:
                vendors.add(vendor.id if hasattr(vendor, "id") else str(vendor))
    # The demo is only worth running if it carries the trackers the README promises.
    for expected in ("google-analytics", "google-tag-manager", "meta-pixel", "linkedin-insight", "hotjar",
                     "microsoft-clarity", "tiktok-pixel", "pinterest-tag"):
        assert any(expected in v for v in vendors), (expected, sorted(vendors))
    for name, kind in (("site.css", "text/css"), ("site.js", "text/javascript"), ("logo.svg", "image/svg+xml")):
        status, content_type, _ = await fetch(f"{demo.site_url}static/{name}")
        assert status == 200 and content_type.startswith(kind)
    for name in ("..%2F__init__.py", ".hidden.css", "missing.css", "site.py"):
        status, _, _ = await fetch(f"{demo.site_url}static/{name}")
        assert status == 404, name


@pytest.mark.parametrize(("opt_in", "expected"), [(True, "will get our monthly"), (False, "did not tick the box")])
async def test_newsletter_form_respects_the_opt_in(demo: DemoServers, opt_in: bool, expected: str) -> None:
    status, _, form_page = await fetch(demo.site_url + "newsletter")
    checkbox = html5lib.parse(form_page, namespaceHTMLElements=False).find(".//input[@name='opt_in']")
    assert checkbox is not None and checkbox.get("checked") is None, "the opt-in is never pre-ticked"
    data = {"email": "visitor@example.org", **({"opt_in": "yes"} if opt_in else {})}
    status, _, text = await fetch(demo.site_url + "newsletter", method="POST", data=data)
    assert status == 200 and expected in text


async def test_through_the_proxy_no_tracker_is_live_before_consent(demo: DemoServers) -> None:
    for path in PAGES:
        direct = (await fetch(demo.site_url.rstrip("/") + path))[2]
        status, _, proxied = await fetch(demo.proxy_url.rstrip("/") + path)
        assert status == 200
        assert third_party(live_urls(proxied, demo.proxy_url)) == [], path
        if third_party(live_urls(direct, demo.site_url)):
            assert 'id="consentry-state"' in proxied and "/_consent/consent.js" in proxied, path
    # The first-party page content and assets are untouched.
    _, _, proxied = await fetch(demo.proxy_url)
    assert "Roasted on Tuesday" in proxied and '<script src="/static/site.js" defer' in proxied


async def test_run_demo_announces_urls_and_stops_when_cancelled() -> None:
    lines: list[str] = []
    task = asyncio.create_task(run_demo(lines.append))
    async with asyncio.timeout(10):
        while not any("Press Ctrl+C" in line for line in lines):
            await asyncio.sleep(0.02)
    urls = [m.group(0) for line in lines for m in [re.search(r"http://127\.0\.0\.1:\d+/", line)] if m]
    assert len(set(urls)) == 2, lines
    proxy_url = [line for line in lines if "Through Consentry" in line][0].split()[-1]
    status, _, text = await fetch(proxy_url)
    assert status == 200 and "consentry-state" in text
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(proxy_url)
