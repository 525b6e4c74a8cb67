"""The admin /insights page in a real Chromium: it renders its charts and tables from the
stored figures, logs no console error, and makes no request beyond the page itself."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from chromium import launch

from proxy.policy import load_config
from proxy.receipts import Receipt, open_store
from proxy.server import start_servers


def receipt(number: int, variant: str | None, action: str) -> Receipt:
    granted = {"accept_all": ["necessary", "preferences", "analytics", "marketing"]}.get(action, ["necessary"])
    return Receipt(
        consent_id=f"c{number}", site_id="shop.test", policy_version="1", vendor_list_digest="sha256:x",
        granted=granted, refused=[], action=action, created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=number % 3),
        banner_variant=variant,
    )


async def test_insights_page_renders_without_errors_or_external_requests(policy_file: Any, tmp_path: Path, store_url: str) -> None:
    path = policy_file()
    store = await open_store(store_url)
    try:
        today = dt.datetime.now(dt.UTC).date()
        await store.add_impressions({("shop.test", today - dt.timedelta(days=d), v): 100 for d in range(3) for v in ("control", "plain-words")})
        number = 0
        # plain-words: 150 of 180 accept; control: 60 of 180: significantly different.
        for variant, accepted in (("plain-words", 150), ("control", 60)):
            for i in range(180):
                number += 1
                await store.record(receipt(number, variant, "accept_all" if i < accepted else "reject_all"))
    finally:
        await store.close()
    servers = await start_servers(load_config(path), listen=("127.0.0.1", 0), admin_listen=("127.0.0.1", 0))
    try:
        page_url = "http://127.0.0.1:%d/insights" % servers.admin_address[1]
        async with launch(30_000) as browser:
            page = await browser.new_page()
            errors: list[str] = []
            requests: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: requests.append(request.url))
            response = await page.goto(page_url)
            assert response is not None and response.status == 200
            assert await page.locator("svg[role=img]").count() == 2
            assert await page.locator("svg polyline").count() >= 1   # three days: lines, not only points
            titles = await page.locator("svg title").all_text_contents()
            assert any("per banner variant" in title for title in titles)
            assert await page.locator("table").count() == 2
            table = await page.locator("table").nth(1).inner_text()
            assert re.search(r"plain-words\s+300\s+180\s+60\.0%\s+150\s+83\.3%", table)
            verdict = await page.locator(".verdict").inner_text()
            assert 'Variant "plain-words" had a higher accept-all rate than "control"' in verdict
            box = await page.locator("svg[role=img]").first.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
            await page.close()
        assert errors == []
        assert requests == [page_url]
    finally:
        await servers.close()
