"""Self-hosted copies of tracker libraries, under any name, recognised by their content
as the body passes the proxy (real upstream, real sockets)."""

from __future__ import annotations

import gzip

from aiohttp import web
from server.server_helpers import cookie_for

MATOMO = (b"/*!!\n * Matomo - free/libre analytics platform\n *\n * JavaScript tracking client\n */\n"
          + b"var Matomo = {};" + b"/* filler */" * 8000)   # well past the screened prefix
JQUERY = b"/*! jQuery v3.7.1 | (c) OpenJS Foundation and other contributors */!function(e,t){}" * 50


def app_with(path: str, body: bytes, headers: dict[str, str]) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_get(path, handler)
    return app


async def test_a_refused_library_under_any_name_is_replaced(start_upstream, start_proxy, client):
    upstream = await start_upstream(app_with("/assets/a1b2c3.js", MATOMO, {"Content-Type": "application/javascript", "ETag": '"v1"'}))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/assets/a1b2c3.js") as resp:
        body = await resp.read()
        assert resp.status == 200
        assert "Cookie" in resp.headers.get("Vary", "")
        assert resp.headers["ETag"] != '"v1"'
    assert b"Matomo - free/libre" not in body and b"consentry: matomo (analytics)" in body
    # With analytics consent the same URL serves the library, byte for byte.
    cookie = cookie_for(proxy.config, ["analytics"])
    async with client.get(proxy.url + "/assets/a1b2c3.js", headers={"Cookie": cookie}) as resp:
        assert await resp.read() == MATOMO
        assert "Cookie" in resp.headers.get("Vary", "")


async def test_a_gzipped_library_is_recognised_too(start_upstream, start_proxy, client):
    packed = gzip.compress(MATOMO)
    upstream = await start_upstream(app_with("/m.js", packed, {"Content-Type": "text/javascript", "Content-Encoding": "gzip"}))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/m.js") as resp:
        body = await resp.read()
        assert "Content-Encoding" not in resp.headers
    assert body.startswith(b"/* consentry: matomo")


async def test_other_scripts_pass_byte_identical_and_uncached_by_consent(start_upstream, start_proxy, client):
    upstream = await start_upstream(app_with("/jquery.js", JQUERY, {"Content-Type": "application/javascript", "ETag": '"j"'}))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/jquery.js") as resp:
        assert await resp.read() == JQUERY
        assert resp.headers["ETag"] == '"j"' and "Cookie" not in resp.headers.get("Vary", "")


async def test_a_library_served_as_another_type_is_not_touched(start_upstream, start_proxy, client):
    upstream = await start_upstream(app_with("/notes.txt", MATOMO, {"Content-Type": "text/plain"}))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/notes.txt") as resp:
        assert await resp.read() == MATOMO


async def test_a_first_party_bundle_that_loads_trackers_is_not_taken_for_their_library(start_upstream, start_proxy, client):
    # The site's own code with a GA snippet and a hand-made hit: the guard stops those
    # requests at run time; replacing the whole bundle would break the site's features.
    bundle = (b"(function(i,s,o,g,r,a,m){i['GoogleAnalyticsObject']=r;})(window,document,'script',"
              b"'https://www.google-analytics.com/analytics.js','ga');"
              b"navigator.sendBeacon('https://www.google-analytics.com/g/collect?v=2&tid=G-1');"
              b"var pageTracker = _gat._getTracker('UA-1-1');"
              b"document.getElementById('status').textContent = 'ready';")
    upstream = await start_upstream(app_with("/static/app.js", bundle, {"Content-Type": "application/javascript"}))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/static/app.js") as resp:
        assert resp.status == 200 and await resp.read() == bundle
