"""Browser helpers for the banner tests: Chromium via Playwright and a fake tracker network.

`launch()` starts Debian's chromium (skipping with a printed reason when it is absent,
failing when CI=true). `TrackerNet` intercepts every request that leaves loopback,
records it and answers with a small fake that behaves like the real tracker where the
page depends on it: analytics.js defines `ga`, gtag.js and analytics.js set `_ga` on the
first-party domain, fbevents.js sets `_fbp`; every fake script records that it ran in
`window.__trackers`. No test here ever reaches the internet.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


import chromium
from chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium  # noqa: F401  (re-exported for the tests)

WAIT_MS = 10_000   # the bound on every wait for the page, in milliseconds
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

# Hosts of the demo's trackers by the category DESIGN.md gives them (GTM and GA: analytics;
# ads, pixels and embeds: marketing).
ANALYTICS_HOSTS = ("googletagmanager.com", "google-analytics.com", "hotjar.com", "clarity.ms")
MARKETING_HOSTS = (
    "facebook.net", "facebook.com", "licdn.com", "linkedin.com", "tiktok.com", "pinimg.com", "pinterest.com",
    "ads-twitter.com", "twitter.com", "doubleclick.net", "googleadservices.com", "youtube.com",
    "vimeo.com", "google.com", "instagram.com",
)

GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


@asynccontextmanager
async def launch() -> AsyncIterator[Any]:
    async with chromium.launch(timeout_ms=WAIT_MS * 3) as browser:
        yield browser


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_loopback(url: str) -> bool:
    return host_of(url) in ("127.0.0.1", "localhost", "::1") or urlsplit(url).scheme in ("data", "blob", "about")


def category_of(url: str) -> str:
    host = host_of(url)
    if any(host == h or host.endswith("." + h) for h in ANALYTICS_HOSTS):
        return "analytics"
    if any(host == h or host.endswith("." + h) for h in MARKETING_HOSTS):
        return "marketing"
    return "unknown"


def _fake_script(url: str) -> str:
    body = f"(window.__trackers = window.__trackers || []).push({json.dumps(url)});\n"
    two_years = 2 * 365 * 24 * 3600
    if "google-analytics.com/analytics.js" in url:
        body += ("window.ga = window.ga || function () { (window.ga.q = window.ga.q || []).push(arguments); };"
                 "window.ga.loaded = true;"
                 f"document.cookie = '_ga=GA1.1.1111.2222; path=/; max-age={two_years}';\n")
    if "googletagmanager.com/gtag/js" in url:
        body += f"document.cookie = '_ga=GA1.1.1111.2222; path=/; max-age={two_years}';\n"
    if "connect.facebook.net" in url and "fbevents.js" in url:
        body += f"document.cookie = '_fbp=fb.1.1111.2222; path=/; max-age={90 * 24 * 3600}';\n"
    return body


@dataclass
class TrackerNet:
    """Every non-loopback request: recorded (url, resource type), answered by a fake."""

    requests: list[tuple[str, str]] = field(default_factory=list)

    async def install(self, context: Any) -> None:
        await context.route("**/*", self._handle)

    async def _handle(self, route: Any) -> None:
        request = route.request
        url = request.url
        if is_loopback(url):
            await route.continue_()
            return
        kind = request.resource_type
        self.requests.append((url, kind))
        if kind == "script":
            await route.fulfill(status=200, content_type="text/javascript", body=_fake_script(url))
        elif kind == "image":
            await route.fulfill(status=200, content_type="image/gif", body=GIF)
        elif kind in ("document", "iframe"):
            await route.fulfill(status=200, content_type="text/html",
                                body=f"<!doctype html><title>fake</title><p>fake {host_of(url)}</p>")
        elif kind == "stylesheet":
            await route.fulfill(status=200, content_type="text/css", body="/* fake */")
        else:
            await route.fulfill(status=204, body="")

    def urls(self, category: str | None = None) -> list[str]:
        return [url for url, _ in self.requests if category is None or category_of(url) == category]

    def hit(self, fragment: str) -> bool:
        return any(fragment in url for url, _ in self.requests)


async def new_page(browser: Any, net: TrackerNet, **context_options: Any) -> tuple[Any, Any, list[str]]:
    """A fresh context (no cookies) with the tracker network installed; page errors are collected."""
    context = await browser.new_context(**context_options)
    context.set_default_timeout(WAIT_MS)
    await net.install(context)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
