"""Debian's Chromium for the browser tests: where it is, how it is started, and the skip rule.

Playwright drives ``/usr/bin/chromium`` (``playwright install`` cannot download here).
A machine without it skips the browser tests with the reason printed, except under
CI=true, where ``.ci/run`` installs it and a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which
# this machine's closed network refuses many times a second.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing and CI=true: the browser tests must run in CI")
    print(f"SKIP: {CHROMIUM} not installed (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); browser tests skipped")


@asynccontextmanager
async def launch(timeout_ms: float) -> AsyncIterator[Any]:
    """A headless Chromium for one test (or fixture), closed afterwards."""
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=timeout_ms)
        try:
            yield browser
        finally:
            await browser.close()
