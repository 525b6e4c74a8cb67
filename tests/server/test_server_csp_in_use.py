"""Through the real proxy: a strict site's consent CSP learns the necessary services its pages use.

The first response of a page carries scheme sources (the whole known-necessary list does
not fit a header, and the page's own services are not known yet); once the proxy has
rewritten the page, its responses carry a host allowlist with those services and the
page's own site, and nothing else of the catalogue's necessary list.
"""

from __future__ import annotations

from aiohttp import web

from proxy.csp import parse_policy

PAGE = (b"<!doctype html><html><head><title>checkout</title>"
        b"<script src=\"https://js.stripe.com/v3/\"></script>"
        b"<script src=\"https://unknown-widget.example/w.js\"></script></head>"
        b"<body><form id=pay></form></body></html>")


def upstream_app() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, headers={"Content-Type": "text/html; charset=utf-8"})

    app = web.Application()
    app.router.add_get("/checkout", page)
    app.router.add_get("/other", page)
    return app


async def policy_of(client, url: str) -> dict[str, list[str]]:
    async with client.get(url, headers={"Accept-Encoding": "identity", "Host": "www.shop.example"}) as resp:
        assert resp.status == 200
        await resp.read()
        return parse_policy(resp.headers["Content-Security-Policy"])[0]


async def test_a_read_page_gets_an_allowlist_of_what_it_uses(start_upstream, start_proxy, client):
    upstream = await start_upstream(upstream_app())
    proxy = await start_proxy(upstream, unknown_third_party="marketing", csp="enforce")

    first = await policy_of(client, proxy.url + "/checkout")
    assert "https:" in first["default-src"]   # not read yet: the guard alone stops unknown hosts

    second = await policy_of(client, proxy.url + "/checkout")
    assert "https:" not in second["default-src"] and "https:" not in second["script-src"]
    assert {"stripe.com", "*.stripe.com", "m.stripe.network"} <= set(second["default-src"])
    assert "js.stripe.com" in second["script-src"] or "*.stripe.com" in second["script-src"]
    assert {"shop.example", "*.shop.example"} <= set(second["script-src"])   # the page's own site
    text = " ".join(second["default-src"])
    assert "paypal" not in text and "unknown-widget" not in text

    # Another page of the site is not known until it is read.
    assert "https:" in (await policy_of(client, proxy.url + "/other"))["default-src"]
