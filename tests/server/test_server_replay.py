"""Through the real proxy: a page that comes back the same is answered from the record of
its rewrite (proxy.html.replay), and every answer is byte for byte what a proxy without
the cache gives, but for each response's own CSP nonce. A page that changes is rewritten
again, from the first byte that differs."""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

from aiohttp import web

from server.server_helpers import cookie_for

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from bench_proxy import html_page  # noqa: E402  (the bench's 60 KB tracker page)

PAGE = html_page(60 * 1024)
TRACKER = b'<img src="https://www.facebook.com/tr?id=77&ev=PageView">'


def switchable_app(pages: dict[str, bytes]) -> web.Application:
    """Serves pages["now"], in 8 KB writes, gzipped when asked with ?gzip."""

    async def page(request: web.Request) -> web.StreamResponse:
        body = pages["now"]
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if "gzip" in request.query:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        for at in range(0, len(body), 8192):
            await response.write(body[at:at + 8192])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    return app


async def fetch(client, url: str, cookie: str | None, gzipped: bool = False) -> tuple[bytes, str | None]:
    """The body (decoded) with every occurrence of this response's nonce written as NONCE."""
    headers = {"Accept-Encoding": "gzip" if gzipped else "identity"}
    if cookie:
        headers["Cookie"] = cookie
    async with client.get(url + ("?gzip" if gzipped else ""), headers=headers) as resp:
        assert resp.status == 200
        body = await resp.read()
        if resp.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        csp = " ".join(resp.headers.getall("Content-Security-Policy", []) +
                       resp.headers.getall("Content-Security-Policy-Report-Only", []))
    found = re.search(r"'nonce-([A-Za-z0-9_-]+)'", csp)
    nonce = found.group(1) if found else None
    if nonce:
        assert body.count(nonce.encode()) >= 1
        body = body.replace(nonce.encode(), b"NONCE")
    return body, nonce


def replays(proxy):
    from proxy.server.services import SERVICES

    services = proxy.app[SERVICES]
    config = services.config()
    return services.runtimes.get(config, config.sites["default"]).replays


async def test_replayed_pages_are_what_a_fresh_rewrite_gives(start_upstream, start_proxy, client):
    pages = {"now": PAGE}
    upstream = await start_upstream(switchable_app(pages))
    cached = await start_proxy(upstream)
    plain = await start_proxy(upstream, proxy_changes={"limits": cached.config.proxy.limits.model_copy(
        update={"replay_cache_size": 0})})
    full = cookie_for(cached.config, ["preferences", "analytics", "marketing"])
    some = cookie_for(cached.config, ["analytics"])
    changed = PAGE[:30_000] + TRACKER + PAGE[30_000:]
    for version in (PAGE, changed, PAGE[:40_000]):
        pages["now"] = version
        for cookie in (None, some, full):
            for gzipped in (False, True):
                expected, _ = await fetch(client, plain.url + "/shop/a", cookie, gzipped)
                nonces = set()
                for _ in range(3):
                    got, nonce = await fetch(client, cached.url + "/shop/a", cookie, gzipped)
                    assert got == expected, (len(version), cookie is not None, gzipped)
                    nonces.add(nonce)
                if cookie is None:
                    assert len(nonces) == 3 and None not in nonces    # a fresh nonce every time
    cache = replays(cached)
    assert cache.hits >= 2 * 3 * 2 * 2          # every second and third request of each kind
    assert len(cache) >= 6 and cache.size <= cached.config.proxy.limits.replay_cache_size
    assert replays(plain).hits == 0 and len(replays(plain)) == 0
    async with client.get(cached.admin_url + "/metrics") as resp:
        metrics = await resp.text()
    counts = {result: float(value) for result, value in
              re.findall(r'consentry_rewrite_replays_total\{result="(\w+)",site="default"\} (\S+)', metrics)}
    assert counts["replayed"] >= 12 and counts["diverged"] >= 2 and counts["recorded"] >= 6, counts


async def test_a_replayed_page_for_a_visitor_without_consent_keeps_its_trackers_inert(start_upstream, start_proxy, client):
    pages = {"now": PAGE + TRACKER}
    upstream = await start_upstream(switchable_app(pages))
    proxy = await start_proxy(upstream)
    for _ in range(3):
        body, _ = await fetch(client, proxy.url + "/", None)
        assert b'data-consent-src="https://www.facebook.com/tr?id=77' in body
        assert b'src="https://www.facebook.com/tr?id=77' not in body.replace(b"data-consent-src", b"")
    assert replays(proxy).hits == 2


async def test_visitors_with_the_same_choices_share_one_record(start_upstream, start_proxy, client):
    """Each decided visitor's snippet carries their own consent expiry: it is a stamp, so the
    second and third visitor get the first one's rewrite replayed, with their own date."""
    import time

    from proxy.consent import KeyRing, issue_token
    from proxy.web.model import expires_text

    upstream = await start_upstream(switchable_app({"now": PAGE}))
    cached = await start_proxy(upstream)
    plain = await start_proxy(upstream, proxy_changes={"limits": cached.config.proxy.limits.model_copy(
        update={"replay_cache_size": 0})})
    site = cached.config.sites["default"]
    ring = KeyRing.from_specs(cached.config.consent.keys)
    for categories in (["preferences", "analytics", "marketing"], ["analytics"]):
        before = replays(cached).hits
        for visitor in range(3):
            token, claims = issue_token(ring, site=site, categories=categories, now=time.time() - 86_400 * visitor)
            cookie = f"{site.cookie_name}={token}"
            expected, _ = await fetch(client, plain.url + "/shop/b", cookie)
            got, _ = await fetch(client, cached.url + "/shop/b", cookie)
            assert got == expected, (categories, visitor)
            assert got.count(expires_text(claims["exp"]).encode()) == 1, "the visitor's own expiry is in the page"
        assert replays(cached).hits - before == 2, categories   # visitors two and three
