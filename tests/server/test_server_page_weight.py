"""Bytes on the wire: a page carries only the visitor's state; the code is cacheable files.

Drives the real proxy over sockets: the bytes a no-consent visitor's page grows by,
and the versioned files it names (guard.js, site.js, consent.js, consent.css), served
compressed, conditionally and cacheable for good only under their current version.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from aiohttp import web
from multidict import CIMultiDict

from server.server_helpers import cookie_for

PAGES = Path(__file__).resolve().parents[2].parent / "shared" / "realworld" / "pages"
# The budget for what the proxy adds to a page for a visitor without consent.
ADDED_BYTES_BUDGET = 3 * 1024
TRACKER_FREE = b"<!doctype html><html lang=en><head><title>t</title></head><body><p>hello</p></body></html>"


def page_app(body: bytes) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})

    app = web.Application()
    app.router.add_get("/", page)
    return app


async def fetch(client, url: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with client.get(url, headers=headers) as resp:
        return resp.status, resp.headers.copy(), await resp.read()


def asset_urls(html: str) -> dict[str, str]:
    """The versioned file each of our tags names, by file name."""
    found = {}
    for url in re.findall(r'(?:src|href)="(/_consent/[a-z.]+\?[^"]+)"', html):
        name = url.split("?")[0].rsplit("/", 1)[1]
        found[name] = url.replace("&amp;", "&")
    return found


async def test_a_page_without_consent_grows_by_at_most_3_kb(start_upstream, start_proxy, client):
    upstream = await start_upstream(page_app(TRACKER_FREE))
    proxy = await start_proxy(upstream)
    status, _, body = await fetch(client, proxy.url + "/", **{"Accept-Encoding": "identity"})
    assert status == 200
    added = len(body) - len(TRACKER_FREE)
    assert 0 < added <= ADDED_BYTES_BUDGET, added
    html = body.decode()
    assert set(asset_urls(html)) == {"guard.js", "site.js", "consent.js", "consent.css"}
    # The guard's vendor table is not inlined any more.
    assert "doubleclick" not in html and "googletagmanager" not in html


@pytest.mark.skipif(not PAGES.is_dir(), reason="../shared/realworld is not beside this clone")
async def test_real_pages_grow_by_at_most_3_kb(start_upstream, start_proxy, client):
    # What a real page grows by also counts the markup of its deferred trackers: the budget
    # is for what the proxy adds, so the page is compared with itself under full consent.
    body = (PAGES / "15-caktus-django-blog.html").read_bytes() if (PAGES / "15-caktus-django-blog.html").exists() \
        else sorted(PAGES.iterdir())[0].read_bytes()
    upstream = await start_upstream(page_app(body))
    proxy = await start_proxy(upstream)
    _, _, none = await fetch(client, proxy.url + "/", **{"Accept-Encoding": "identity"})
    full = cookie_for(proxy.config, ["preferences", "analytics", "marketing"])
    _, _, everything = await fetch(client, proxy.url + "/", **{"Accept-Encoding": "identity", "Cookie": full})
    assert none != body and len(everything) - len(body) <= ADDED_BYTES_BUDGET
    snippet = re.search(rb"<head[^>]*>(.*?)<link rel=\"stylesheet\" href=\"/_consent/consent\.css", none, re.S | re.I)
    assert snippet is not None and len(snippet.group(1)) <= ADDED_BYTES_BUDGET


async def test_the_named_files_are_cacheable_for_good_compressed_and_conditional(start_upstream, start_proxy, client):
    upstream = await start_upstream(page_app(TRACKER_FREE))
    proxy = await start_proxy(upstream)
    _, _, body = await fetch(client, proxy.url + "/")
    for name, url in asset_urls(body.decode()).items():
        status, headers, data = await fetch(client, proxy.url + url, **{"Accept-Encoding": "gzip, br"})
        assert status == 200, name
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable", name
        assert headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in headers["Vary"], name
        plain = gzip.decompress(data)
        assert len(data) < len(plain), name
        status, _, identity = await fetch(client, proxy.url + url, **{"Accept-Encoding": "identity"})
        assert status == 200 and identity == plain, name
        status, _, empty = await fetch(client, proxy.url + url, **{"If-None-Match": headers["ETag"]})
        assert status == 304 and empty == b"", name
    guard = gzip.decompress((await fetch(client, proxy.url + asset_urls(body.decode())["guard.js"],
                                         **{"Accept-Encoding": "gzip"}))[2]).decode()
    assert "__consentry_guard" in guard and "doubleclick" in guard


async def test_a_stale_version_gets_the_current_file_uncached(start_upstream, start_proxy, client):
    upstream = await start_upstream(page_app(TRACKER_FREE))
    proxy = await start_proxy(upstream)
    status, headers, data = await fetch(client, proxy.url + "/_consent/guard.js?v=0000000000000000",
                                        **{"Accept-Encoding": "identity"})
    assert status == 200 and headers["Cache-Control"] == "no-cache" and b"__consentry_guard" in data
    status, headers, _ = await fetch(client, proxy.url + "/_consent/consent.js")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=300"
    status, _, _ = await fetch(client, proxy.url + "/_consent/../../etc/passwd.js")
    assert status == 404


async def test_full_consent_needs_no_guard_file(start_upstream, start_proxy, client):
    upstream = await start_upstream(page_app(TRACKER_FREE))
    proxy = await start_proxy(upstream)
    full = cookie_for(proxy.config, ["preferences", "analytics", "marketing"])
    _, _, body = await fetch(client, proxy.url + "/", Cookie=full)
    html = body.decode()
    # Nothing can be refused now or after a decision: the inline stub, no request.
    assert "guard.js" not in html and "window.__consentry_guard=" in html


async def test_full_consent_sends_no_csp_and_changes_nothing_but_the_snippets(start_upstream, start_proxy, client):
    page = (b"<!doctype html><html><head><title>t</title><script src=\"https://www.google-analytics.com/analytics.js\">"
            b"</script><script>ga('create','UA-1-1','auto')</script></head><body><p>x</p></body></html>")
    upstream = await start_upstream(page_app(page))
    proxy = await start_proxy(upstream, csp="report")
    _, headers, none = await fetch(client, proxy.url + "/", **{"Accept-Encoding": "identity"})
    assert "Content-Security-Policy-Report-Only" in headers and b"nonce=" in none
    full = cookie_for(proxy.config, ["preferences", "analytics", "marketing"])
    _, headers, body = await fetch(client, proxy.url + "/", **{"Accept-Encoding": "identity", "Cookie": full})
    assert "Content-Security-Policy-Report-Only" not in headers and "Content-Security-Policy" not in headers
    head_end = body.index(b"<title>")
    assert body[:len(b"<!doctype html><html><head>")] == page[:len(b"<!doctype html><html><head>")]
    # After the head snippet, the page's own bytes come through untouched (no nonce stamped),
    # and only the no-JS settings link follows the document.
    assert body[head_end:].startswith(page[page.index(b"<title>"):])
    assert b"nonce=" not in body[head_end:]


async def test_full_consent_fragments_stream_through_and_author_marks_still_run(start_upstream, start_proxy, client):
    # A fetch() of HTML (Sec-Fetch-Dest: empty) gets no snippet, so under full consent
    # its bytes go out unscanned unless they hold an author mark (proxy.html.scanner.Scanner._send_ahead): a large fragment comes back
    # byte for byte, and a consent-platform mark in it is still activated.
    rows = b"".join(b'<tr><td class="c%d"><a href="/p/%d">item %d</a></td></tr>' % (i, i, i) for i in range(3000))
    plain = b"<table>" + rows + b"</table>"
    marked = plain[:70_000] + b'<script type="text/plain" data-cookieconsent="statistics" src="/s.js"></script>' + plain[70_000:]
    bodies = {"/plain": plain, "/marked": marked}

    async def fragment(request: web.Request) -> web.Response:
        return web.Response(body=bodies[request.path], headers={"Content-Type": "text/html; charset=utf-8"})

    app = web.Application()
    app.router.add_get("/{name}", fragment)
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream)
    full = cookie_for(proxy.config, ["preferences", "analytics", "marketing"])
    asked = {"Accept-Encoding": "identity", "Cookie": full, "Sec-Fetch-Dest": "empty"}
    _, _, body = await fetch(client, proxy.url + "/plain", **asked)
    assert body == plain
    _, _, body = await fetch(client, proxy.url + "/marked", **asked)
    assert body == marked.replace(b' type="text/plain"', b"", 1)
