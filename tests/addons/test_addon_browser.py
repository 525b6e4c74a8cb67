"""Chromium browsing through a real mitmdump with the addon: the deferred tracker tag is never
fetched, and a tracker request a first-party script injects at run time shows up in the report
as sent before consent (and, with consentry_block, is answered 403 by the proxy)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

pytestmark = pytest.mark.browser

ADDON_PATH = Path(__file__).resolve().parents[2] / "addons" / "consentry.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WAIT = 30.0
GA_TAG = "https://www.google-analytics.com/analytics.js"
INJECTED = "https://www.google-analytics.com/g/collect?v=2&en=page_view"
PAGE = f"""<!DOCTYPE html>
<html><head><title>loading</title>
<script async src="{GA_TAG}"></script>
<script src="/static/app.js"></script>
</head><body><p>Shop</p></body></html>
"""
# First-party code that sends a hit by itself: the HTML holds no trace of the tracker URL.
APP_JS = f"""
window.addEventListener("load", function () {{
  var img = new Image();
  img.onload = img.onerror = function () {{ document.title = "sent"; }};
  img.src = {json.dumps(INJECTED)};
}});
"""


def require_tools() -> Path:
    mitmdump = Path(sys.executable).parent / "mitmdump"
    missing = [str(p) for p in (Path(CHROMIUM), mitmdump) if not p.exists()]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"missing with CI=true: {', '.join(missing)}")
        print(f"SKIP: {', '.join(missing)} not installed")
        pytest.skip(f"{', '.join(missing)} not installed")
    return mitmdump


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", charset="utf-8")

    async def app_js(request: web.Request) -> web.Response:
        return web.Response(text=APP_JS, content_type="application/javascript")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/static/app.js", app_js)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def wait_listening(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while loop.time() < deadline:
        if process.returncode is not None:
            pytest.fail(f"mitmdump exited:\n{log.read_text(errors='replace')}")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout=1.0)
        except (OSError, TimeoutError):
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    pytest.fail(f"mitmdump did not listen within {WAIT}s:\n{log.read_text(errors='replace')}")


async def test_browser_through_the_addon_reports_a_runtime_injected_tracker(tmp_path: Path, upstream: str) -> None:
    mitmdump = require_tools()
    from playwright.async_api import async_playwright

    port, report, log = free_port(), tmp_path / "audit.jsonl", tmp_path / "mitmdump.log"
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            str(mitmdump), "--listen-host", "127.0.0.1", "--listen-port", str(port),
            "--set", f"confdir={tmp_path / 'conf'}",
            # Never dial a tracker to learn its certificate: nothing leaves the machine.
            "--set", "connection_strategy=lazy",
            "-s", str(ADDON_PATH), "--set", f"consentry_report={report}", "--set", "consentry_block=true",
            stdout=log_file, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
        )
    try:
        await wait_listening(port, process, log)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    *CHROMIUM_ARGS,
                    f"--proxy-server=http://127.0.0.1:{port}",
                    "--proxy-bypass-list=<-loopback>",   # Chromium skips the proxy for loopback otherwise
                    "--ignore-certificate-errors",       # the throwaway mitmproxy CA of this test
                ],
                timeout=WAIT * 1000,
            )
            try:
                page = await browser.new_page()
                await page.goto(upstream + "/", timeout=WAIT * 1000)
                await page.wait_for_function("document.title === 'sent'", timeout=WAIT * 1000)
                tag_type = await page.get_attribute(f'script[data-consent-src="{GA_TAG}"]', "type")
            finally:
                await browser.close()
        assert tag_type == "text/plain"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=WAIT)
            except TimeoutError:
                process.kill()
                await asyncio.wait_for(process.wait(), timeout=WAIT)

    records = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    pages = [r for r in records if r["type"] == "page"]
    requests = [r for r in records if r["type"] == "request"]
    assert [p["url"] for p in pages] == [upstream + "/"]
    assert {t["url"]: t["action"] for t in pages[0]["trackers"]} == {GA_TAG: "defer"}
    # The deferred tag was never fetched; the injected hit was, before consent, and blocked.
    assert [r["url"] for r in requests] == [INJECTED], log.read_text(errors="replace")
    assert requests[0]["before_consent"] and requests[0]["blocked"]
    assert requests[0]["page"] == upstream + "/"
    assert (tmp_path / "audit.html").exists()


async def test_visitor_mode_banner_accept_then_the_tracker_loads(tmp_path: Path, upstream: str) -> None:
    """consentry_consent=visitor: Chromium sees the banner, clicks Accept all, the addon stores
    the receipt, and the deferred GA tag is then requested; the report shows before and after."""
    mitmdump = require_tools()
    from playwright.async_api import async_playwright

    port, report, log = free_port(), tmp_path / "audit.jsonl", tmp_path / "mitmdump.log"
    receipts = tmp_path / "receipts.db"
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            str(mitmdump), "--listen-host", "127.0.0.1", "--listen-port", str(port),
            "--set", f"confdir={tmp_path / 'conf'}", "--set", "connection_strategy=lazy",
            "-s", str(ADDON_PATH), "--set", "consentry_consent=visitor", "--set", f"consentry_receipts={receipts}",
            "--set", f"consentry_report={report}",
            stdout=log_file, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
            env={**os.environ, "CONSENTRY_SECRET": "browser-visitor-secret-" + "q" * 32},
        )
    seen: list[str] = []
    try:
        await wait_listening(port, process, log)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[*CHROMIUM_ARGS, f"--proxy-server=http://127.0.0.1:{port}", "--proxy-bypass-list=<-loopback>",
                      "--ignore-certificate-errors"],
                timeout=WAIT * 1000,
            )
            try:
                page = await browser.new_page()
                page.on("request", lambda request: seen.append(request.url))
                await page.goto(upstream + "/", timeout=WAIT * 1000)
                assert await page.get_attribute(f'script[data-consent-src="{GA_TAG}"]', "type") == "text/plain"
                assert GA_TAG not in seen
                await page.get_by_role("button", name="Accept all").click(timeout=WAIT * 1000)
                loop = asyncio.get_running_loop()
                deadline = loop.time() + WAIT
                while GA_TAG not in seen and loop.time() < deadline:
                    await asyncio.sleep(0.1)
                assert GA_TAG in seen, (seen, log.read_text(errors="replace")[-2000:])
                cookies = {c["name"] for c in await page.context.cookies()}
                assert "consentry" in cookies
                await page.reload(timeout=WAIT * 1000)
                # After the decision the page arrives with the tag live.
                assert await page.locator(f'script[src="{GA_TAG}"]').count() == 1
            finally:
                await browser.close()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=WAIT)
            except TimeoutError:
                process.kill()
                await asyncio.wait_for(process.wait(), timeout=WAIT)

    records = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    pages = [r for r in records if r["type"] == "page" and r["url"] == upstream + "/"]
    assert len(pages) >= 2 and pages[0]["consent"].startswith("undecided") and not pages[-1]["consent"].startswith("undecided")
    assert [r["action"] for r in records if r["type"] == "decision"] == ["accept_all"]
    ga = [r for r in records if r["type"] == "request" and r["url"] == GA_TAG]
    assert ga and not any(r["before_consent"] for r in ga), json.dumps(records, indent=1)[:6000]
    assert receipts.exists()
    html_report = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert "Consent then" in html_report
