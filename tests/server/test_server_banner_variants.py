"""Banner experiments through the running proxy, over real sockets: a variant drawn per
page view for undecided visitors (nothing stored in the browser), impressions counted
and flushed to the store, the variant and text digest in the receipt, the metrics,
and the visitor's own receipts at /_consent/receipts."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from proxy.policy import load_config
from proxy.receipts import banner_texts_canonical, banner_texts_digest, open_store
from proxy.server import start_servers
from proxy.web.variants import texts_digest, variant_by_id

PAGE = "<!doctype html><html lang=en><head><title>t</title></head><body><p>hello</p></body></html>"
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
VARIANT_ATTR = re.compile(r'data-consentry-variant="([a-z0-9-]+)"')


def config_text(upstream: str, db: str, flush: float = 30.0) -> str:
    return f"""
[proxy]
drain_timeout = 2
[proxy.limits]
consent_decisions_per_minute = 100000
[[consent.keys]]
kid = "k1"
secret = "0123456789abcdef0123456789abcdef0123456789"
[receipts]
url = "{db}"
impression_flush_seconds = {flush}
[sites.default]
upstream = "{upstream}"
[[sites.default.banner.variants]]
id = "control"
weight = 1
[[sites.default.banner.variants]]
id = "plain-words"
weight = 3
layout = "box"
first_layer = ["reject_all", "accept_all", "customize"]
[sites.default.banner.variants.texts.en]
accept_all = "Yes, count my visit"
reject_all = "No, thanks"
"""


@pytest.fixture
async def setup(tmp_path: Path, start_upstream: Any) -> Any:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    upstream = await start_upstream(app)
    started: list[Any] = []

    async def start(flush: float = 30.0) -> tuple[Any, str, str]:
        path = tmp_path / "site.toml"
        path.write_text(config_text(upstream, f"sqlite://{tmp_path}/receipts.db", flush), encoding="utf-8")
        config = load_config(path)
        servers = await start_servers(config, listen=("127.0.0.1", 0), admin_listen=("127.0.0.1", 0))
        started.append(servers)
        host, port = servers.public_address
        admin_host, admin_port = servers.admin_address
        return config, f"http://{host}:{port}", f"http://{admin_host}:{admin_port}"

    yield start, tmp_path, started
    for servers in started:
        if servers.public.server is not None:
            await servers.close()


async def get_page(client: aiohttp.ClientSession, url: str, cookie: str | None = None) -> tuple[str, Any]:
    async with client.get(url + "/", headers={"Cookie": cookie} if cookie else {}) as resp:
        assert resp.status == 200
        return await resp.text(), resp.headers


async def test_variants_drawn_per_view_counted_and_flushed_at_shutdown(setup: Any, client: aiohttp.ClientSession) -> None:
    start, tmp_path, started = setup
    config, url, admin = await start()
    seen: dict[str, int] = {}
    for _ in range(120):
        text, headers = await get_page(client, url)
        assert "Set-Cookie" not in headers   # nothing stored in the browser before consent
        ids = VARIANT_ATTR.findall(text)
        assert len(ids) == 1                  # on the no-JS banner root; consent.js sets it on its root
        state = json.loads(re.search(r'id="consentry-state">(.*?)</script>', text).group(1))
        assert state["variant"] == ids[0]
        if ids[0] == "plain-words":
            assert state["layout"] == "box" and state["first_layer"][0] == "reject_all"
            assert state["variant_texts"] == {"accept_all": "Yes, count my visit", "reject_all": "No, thanks"}
        seen[ids[0]] = seen.get(ids[0], 0) + 1
    assert set(seen) == {"control", "plain-words"} and seen["plain-words"] > seen["control"]
    async with client.get(admin + "/metrics") as resp:
        metrics = await resp.text()
    for variant, count in seen.items():
        assert f'consentry_banner_impressions_total{{site="default",variant="{variant}"}} {count}.0' in metrics
    # Graceful stop: the counts reach the store without waiting for the flush interval.
    await started[-1].close()
    store = await open_store(f"sqlite://{tmp_path}/receipts.db")
    try:
        stored = {r.variant: r.count for r in await store.impression_counts("default")}
    finally:
        await store.close()
    assert stored == seen


async def test_periodic_flush_and_decided_visitors_see_no_variant(setup: Any, client: aiohttp.ClientSession) -> None:
    start, tmp_path, started = setup
    config, url, admin = await start(flush=0.2)
    for _ in range(5):
        await get_page(client, url)
    async with client.post(url + "/_consent/", data=json.dumps({"action": "reject_all"}), headers=JSON) as resp:
        cookie = resp.headers["Set-Cookie"].split(";", 1)[0]
    text, _ = await get_page(client, url, cookie)
    assert "data-consentry-variant" not in text and '"variant":null' in text
    store = await open_store(f"sqlite://{tmp_path}/receipts.db")
    try:
        for _ in range(100):   # bounded: at most 10 s for the 0.2 s flusher
            stored = sum(r.count for r in await store.impression_counts("default"))
            if stored == 5:
                break
            await asyncio.sleep(0.1)
        assert stored == 5
    finally:
        await store.close()


async def test_decision_records_variant_and_the_digest_of_the_texts_shown(setup: Any, client: aiohttp.ClientSession) -> None:
    start, tmp_path, started = setup
    config, url, admin = await start()
    site = config.sites["default"]
    body = {"action": "accept_all", "variant": "plain-words", "lang": "en"}
    async with client.post(url + "/_consent/", data=json.dumps(body), headers=JSON) as resp:
        assert resp.status == 200
        consent_id = (await resp.json())["consent_id"]
    async with client.post(url + "/_consent/", data=json.dumps({"action": "reject_all", "variant": "no-such"}), headers=JSON) as resp:
        assert resp.status == 200
        unknown_id = (await resp.json())["consent_id"]
    async with client.post(url + "/_consent/", data=json.dumps({"action": "reject_all", "variant": 7}), headers=JSON) as resp:
        assert resp.status == 200
    async with client.post(url + "/_consent/", data="action=reject_all&variant=control&lang=de&return_to=/", headers=FORM,
                           allow_redirects=False) as resp:
        assert resp.status == 303
    async with client.get(admin + "/metrics") as resp:
        metrics = await resp.text()
    assert 'consentry_banner_decisions_total{action="accept_all",site="default",variant="plain-words"} 1.0' in metrics
    assert 'consentry_banner_decisions_total{action="reject_all",site="default",variant="none"} 2.0' in metrics
    assert 'consentry_banner_decisions_total{action="reject_all",site="default",variant="control"} 1.0' in metrics
    store = await open_store(f"sqlite://{tmp_path}/receipts.db")
    try:
        (receipt,) = await store.get(consent_id)
        assert receipt.banner_variant == "plain-words"
        digest, canonical = texts_digest(site, "en", variant_by_id(site, "plain-words"))
        assert receipt.banner_texts_digest == digest
        kept = await store.banner_texts(digest)
        assert kept is not None and kept.lang == "en" and kept.canonical == canonical
        texts = json.loads(kept.canonical)["texts"]
        assert texts["accept_all"] == "Yes, count my visit" and texts["reject_all"] == "No, thanks"
        # The web package's canonical form is the receipts package's documented one.
        assert banner_texts_digest(banner_texts_canonical("en", texts)) == digest
        (unknown,) = await store.get(unknown_id)
        assert unknown.banner_variant is None
        assert unknown.banner_texts_digest == texts_digest(site, "en", None)[0]
        german = [r async for r in store.export() if r.banner_variant == "control"]
        assert [r.banner_texts_digest for r in german] == [texts_digest(site, "de", variant_by_id(site, "control"))[0]]
    finally:
        await store.close()


async def test_visitors_get_their_own_receipts_and_nobody_elses(setup: Any, client: aiohttp.ClientSession) -> None:
    start, tmp_path, started = setup
    config, url, admin = await start()
    cookies = []
    for action in ("accept_all", "reject_all"):
        async with client.post(url + "/_consent/", data=json.dumps({"action": action, "variant": "control"}), headers=JSON) as resp:
            cookies.append(resp.headers["Set-Cookie"].split(";", 1)[0])
    # The first visitor changes their mind: two receipts under one consent id.
    async with client.post(url + "/_consent/", data=json.dumps({"action": "reject_all"}), headers={**JSON, "Cookie": cookies[0]}) as resp:
        cookies[0] = resp.headers["Set-Cookie"].split(";", 1)[0]
    async with client.get(url + "/_consent/receipts", headers={"Cookie": cookies[0]}) as resp:
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        mine = await resp.json()
    assert [r["action"] for r in mine["receipts"]] == ["accept_all", "withdraw"]
    assert {r["consent_id"] for r in mine["receipts"]} == {mine["consent_id"]}
    assert mine["receipts"][0]["banner_variant"] == "control"
    async with client.get(url + "/_consent/receipts", headers={"Cookie": cookies[1]}) as resp:
        theirs = await resp.json()
    assert theirs["consent_id"] != mine["consent_id"] and len(theirs["receipts"]) == 1
    name, token = cookies[0].split("=", 1)
    header, payload, signature = token.split(".")
    forged = f"{name}={header}.{payload}.{signature[:-4] + ('AAAA' if signature[-4:] != 'AAAA' else 'BBBB')}"
    for headers in ({"Cookie": forged}, {}, {"Cookie": f"{name}=garbage"}):
        async with client.get(url + "/_consent/receipts", headers=headers) as resp:
            assert resp.status == 401
            assert (await resp.json())["receipts"] == []
