"""A banner variant in a real Chromium: the banner's root carries data-consentry-variant,
the variant's texts and first-layer order are shown, nothing is stored in the browser
before the decision, and the decision's receipt names the variant and the texts shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chromium import launch

from proxy.policy import load_config
from proxy.receipts import open_store
from proxy.server import start_servers
from proxy.web.variants import texts_digest, variant_by_id


async def test_variant_banner_decision_in_chromium(policy_file: Any, store_url: str, tmp_path: Path) -> None:
    path = policy_file()
    config = load_config(path)
    site = config.sites["shop.test"]
    servers = await start_servers(config, listen=("127.0.0.1", 0), admin_listen=("127.0.0.1", 0))
    try:
        url = "http://127.0.0.1:%d/" % servers.public_address[1]
        async with launch(30_000) as browser:
            context = await browser.new_context()
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            # Reload until the weighted draw (1:1) has shown plain-words (bounded).
            for _ in range(40):
                await page.goto(url)
                root = page.locator(".consentry-root")
                await root.wait_for(state="attached")
                variant = await root.get_attribute("data-consentry-variant")
                assert variant in ("control", "plain-words")
                if variant == "plain-words":
                    break
            assert variant == "plain-words"
            banner = page.locator(".consentry-banner:not(.consentry-noscript)")
            await banner.wait_for(state="visible")
            labels = await banner.locator(".consentry-actions .consentry-button").all_inner_texts()
            assert labels == ["Yes, count my visit", "No, don't count me", "Choose"]
            # Nothing stored in the browser before consent: no cookie, no web storage.
            assert await context.cookies() == []
            assert await page.evaluate("localStorage.length + sessionStorage.length") == 0
            async with page.expect_response(lambda r: r.request.method == "POST") as posted:
                await banner.get_by_role("button", name="No, don't count me").click()
            response = await posted.value
            assert response.status == 200
            sent = json.loads(response.request.post_data or "{}")
            assert sent == {"action": "reject_all", "variant": "plain-words", "lang": "en"}
            consent_id = (await response.json())["consent_id"]
            assert errors == []
            await context.close()
    finally:
        await servers.close()
    store = await open_store(store_url)
    try:
        (receipt,) = await store.get(consent_id)
    finally:
        await store.close()
    assert receipt.banner_variant == "plain-words"
    assert receipt.banner_texts_digest == texts_digest(site, "en", variant_by_id(site, "plain-words"))[0]
