"""HTML through the engine: consent enforcement, content codings, chunking, caching headers."""

from __future__ import annotations

import asyncio
import gzip
import re
import zlib

import brotli
import pytest
import zstandard
from aiohttp import web

from server.server_helpers import cookie_for

GA = '<script async src="https://www.google-analytics.com/analytics.js"></script>'
PIXEL = '<img src="https://www.facebook.com/tr?id=1&ev=PageView" width="1" height="1">'
FIRST_PARTY = '<script src="/static/app.js"></script>'
PAGE = (
    "<!doctype html><html><head><title>Shop</title>" + GA + FIRST_PARTY + "</head>"
    "<body><h1>Caf\u00e9 \u2615</h1>" + PIXEL + "<p>" + "lorem ipsum " * 2000 + "</p></body></html>"
)


def compress(data: bytes, coding: str) -> bytes:
    match coding:
        case "gzip":
            return gzip.compress(data)
        case "deflate":
            return zlib.compress(data)
        case "br":
            return brotli.compress(data)
        case "zstd":
            return zstandard.ZstdCompressor().compress(data)
    return data


def decompress(data: bytes, coding: str | None) -> bytes:
    match coding:
        case "gzip":
            return gzip.decompress(data)
        case "deflate":
            return zlib.decompress(data)
        case "br":
            return brotli.decompress(data)
        case "zstd":
            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


SEEN = web.AppKey("seen", list)


def site_app(*, body: str = PAGE, etag: str | None = '"page-v1"', extra_headers: dict[str, str] | None = None) -> web.Application:
    """An upstream serving one HTML page in any coding (?coding=...) and honouring If-None-Match."""
    seen: list[dict[str, str]] = []

    async def page(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if etag and etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers={"ETag": etag})
        coding = request.query.get("coding")
        headers = {"Content-Type": "text/html; charset=utf-8", "Vary": "Accept-Encoding", **(extra_headers or {})}
        if etag:
            headers["ETag"] = etag
        if coding:
            headers["Content-Encoding"] = coding
        response = web.Response(body=compress(body.encode(), coding or ""), headers=headers)
        return response

    app = web.Application()
    app[SEEN] = seen
    app.router.add_get("/page", page)
    return app


def live(attribute_value: str, html: str) -> bool:
    """Is there a live attribute (not data-consent-...) with this name="value" prefix?"""
    return re.search(r'(?<![\w-])' + re.escape(attribute_value), html) is not None


def assert_neutralised(html: str) -> None:
    assert not live('src="https://www.google-analytics.com/analytics.js"', html)
    assert 'data-consent-src="https://www.google-analytics.com/analytics.js"' in html
    assert not live('src="https://www.facebook.com/tr', html)
    assert live('<script src="/static/app.js"', html)
    assert "lorem ipsum " * 2000 in html


async def test_trackers_are_neutralised_without_consent_and_kept_with_it(start_upstream, start_proxy, client):
    upstream = await start_upstream(site_app())
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page") as resp:
        assert resp.status == 200
        assert "Content-Length" not in resp.headers or resp.headers.get("Transfer-Encoding") == "chunked"
        html = (await resp.read()).decode()
    assert_neutralised(html)
    full = cookie_for(proxy.config, ["analytics", "marketing", "preferences"])
    async with client.get(proxy.url + "/page", headers={"Cookie": full}) as resp:
        html = (await resp.read()).decode()
    assert live('src="https://www.google-analytics.com/analytics.js"', html)
    assert live('<img src="https://www.facebook.com/tr?id=1&ev=PageView"', html)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
async def test_every_content_coding_is_decoded_rewritten_and_reencoded(start_upstream, start_proxy, client, coding):
    upstream = await start_upstream(site_app())
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + f"/page?coding={coding}", headers={"Accept-Encoding": "gzip, deflate, br, zstd"}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Encoding"] == coding
        assert "Content-Length" not in resp.headers
        raw = await resp.read()
    assert_neutralised(decompress(raw, coding).decode())


async def test_accept_encoding_sent_upstream_lists_only_codings_the_proxy_can_decode(start_upstream, start_proxy, client):
    app = site_app()
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page", headers={"Accept-Encoding": "gzip, dcb, compress, br;q=0.5"}) as resp:
        await resp.read()
    assert app[SEEN][-1]["Accept-Encoding"] == "gzip, br;q=0.5"


def chunked_app(first: bytes, second: bytes, gate: asyncio.Event | None = None) -> web.Application:
    async def page(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        await response.write(first)   # write() drains the transport: a separate network write
        if gate is not None:
            await asyncio.wait_for(gate.wait(), 10)
        else:
            await asyncio.sleep(0.05)
        await response.write(second)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/page", page)
    return app


async def test_a_tracker_tag_split_across_network_chunks_is_still_neutralised(start_upstream, start_proxy, client):
    cut = GA.index("google-analytics")   # in the middle of the src attribute
    first = ("<html><head>" + GA[:cut]).encode()
    second = (GA[cut:] + "</head><body>ok</body></html>").encode()
    upstream = await start_upstream(chunked_app(first, second))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page") as resp:
        html = (await resp.read()).decode()
    assert not live('src="https://www.google-analytics.com', html)
    assert 'data-consent-src="https://www.google-analytics.com/analytics.js"' in html
    assert html[: html.index("</html>") + 7].endswith("</head><body>ok</body></html>")


async def test_rewritten_html_streams_before_the_upstream_has_finished(start_upstream, start_proxy, client):
    gate = asyncio.Event()
    first = b"<html><head><title>t</title></head><body>" + b"<p>first part</p>" * 200
    second = b"<p>second part</p></body></html>"
    upstream = await start_upstream(chunked_app(first, second, gate))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page") as resp:
        early = b""
        async with asyncio.timeout(10):
            while b"first part" not in early:
                chunk = await resp.content.readany()
                assert chunk, "the body ended before the first part arrived"
                early += chunk
        gate.set()   # only now may the upstream send the rest: the proxy did not wait for it
        rest = await resp.read()
    whole = early + rest
    assert whole[: whole.index(b"</html>") + 7].endswith(second)


async def test_vary_cookie_and_consent_specific_etag_with_working_304(start_upstream, start_proxy, client):
    upstream = await start_upstream(site_app())
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page") as resp:
        await resp.read()
        etag = resp.headers["ETag"]
        vary = [v.strip().lower() for v in resp.headers["Vary"].split(",")]
    assert etag.startswith('W/"page-v1.')
    assert {"cookie", "accept-encoding"} <= set(vary)
    # The same consent state revalidates: the upstream sees its own ETag and answers 304.
    async with client.get(proxy.url + "/page", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
        assert resp.headers["ETag"] == etag
        assert await resp.read() == b""
    # Another consent state must not get a 304 for a copy rewritten for the first one.
    full = cookie_for(proxy.config, ["analytics", "marketing"])
    async with client.get(proxy.url + "/page", headers={"If-None-Match": etag, "Cookie": full}) as resp:
        assert resp.status == 200
        assert resp.headers["ETag"] != etag
        assert live('src="https://www.google-analytics.com/analytics.js"', (await resp.read()).decode())


async def test_refused_cookies_are_dropped_both_ways(start_upstream, start_proxy, client):
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie", ""))
        response = web.Response(text="{}", content_type="application/json")
        for cookie in ("_ga=GA1.1.1; Path=/", "_fbp=fb.1.2; Path=/", "session=abc; Path=/; HttpOnly"):
            response.headers.add("Set-Cookie", cookie)
        return response

    app = web.Application()
    app.router.add_get("/api", handler)
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/api", headers={"Cookie": "_ga=GA1.1.1; session=abc; _fbp=x"}) as resp:
        names = [c.split("=")[0] for c in resp.headers.getall("Set-Cookie", [])]
        assert "Cookie" in resp.headers["Vary"]   # what was dropped depends on the consent cookie
    assert names == ["session"]
    assert seen[-1] == "session=abc"
    analytics = cookie_for(proxy.config, ["analytics"])
    async with client.get(proxy.url + "/api", headers={"Cookie": f"_ga=1; _fbp=2; {analytics}"}) as resp:
        names = [c.split("=")[0] for c in resp.headers.getall("Set-Cookie", [])]
    assert names == ["_ga", "session"]
    assert "_ga=1" in seen[-1] and "_fbp" not in seen[-1]


async def test_link_preloads_of_refused_trackers_are_removed(start_upstream, start_proxy, client):
    link = '<https://www.google-analytics.com/analytics.js>; rel=preload; as=script, </app.css>; rel=preload; as=style'
    upstream = await start_upstream(site_app(extra_headers={"Link": link}))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page") as resp:
        await resp.read()
        assert resp.headers.getall("Link") == ["</app.css>; rel=preload; as=style"]


async def test_banner_snippet_is_injected_at_the_start_of_head_with_a_nonce(start_upstream, start_proxy, client):
    upstream = await start_upstream(site_app())
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page") as resp:
        html = (await resp.read()).decode()
    head = html.index("<head>") + len("<head>")
    assert html[head:].startswith("<")
    snippet_end = html.index("<title>")
    snippet = html[head:snippet_end]
    assert 'id="consentry-state"' in snippet
    assert "/_consent/consent.js" in snippet
    nonces = set(re.findall(r'nonce="([^"]+)"', snippet))
    assert len(nonces) == 1
    # A second response gets a fresh nonce.
    async with client.get(proxy.url + "/page") as resp:
        again = (await resp.read()).decode()
    assert set(re.findall(r'nonce="([^"]+)"', again)) != nonces


async def test_the_upstream_csp_nonce_is_reused(start_upstream, start_proxy, client):
    csp = "default-src 'self'; script-src 'self' 'nonce-UPSTREAMnonce123'"
    upstream = await start_upstream(site_app(extra_headers={"Content-Security-Policy": csp}))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page") as resp:
        html = (await resp.read()).decode()
        policies = resp.headers.getall("Content-Security-Policy", []) + resp.headers.getall("Content-Security-Policy-Report-Only", [])
    assert csp in policies   # the site's own policy is kept as it was
    assert all("'nonce-UPSTREAMnonce123'" in p for p in policies)
    assert set(re.findall(r'nonce="([^"]+)"', html[: html.index("<title>")])) == {"UPSTREAMnonce123"}


async def test_non_html_passes_through_byte_for_byte(start_upstream, start_proxy, client):
    body = gzip.compress(b"console.log('" + b"x" * 100000 + b"')" + GA.encode())

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": "application/javascript", "Content-Encoding": "gzip",
                                                "ETag": '"js1"'})

    app = web.Application()
    app.router.add_get("/app.js", handler)
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/app.js") as resp:
        assert resp.headers["Content-Length"] == str(len(body))
        assert resp.headers["ETag"] == '"js1"'
        assert "Vary" not in resp.headers
        assert await resp.read() == body


async def test_gpc_refuses_marketing_even_with_a_full_consent_cookie(start_upstream, start_proxy, client):
    upstream = await start_upstream(site_app())
    proxy = await start_proxy(upstream)
    full = cookie_for(proxy.config, ["analytics", "marketing", "preferences"])
    async with client.get(proxy.url + "/page", headers={"Cookie": full, "Sec-GPC": "1"}) as resp:
        html = (await resp.read()).decode()
        assert "sec-gpc" in resp.headers["Vary"].lower()
    assert live('src="https://www.google-analytics.com/analytics.js"', html)   # analytics: allowed
    assert not live('src="https://www.facebook.com/tr', html)                  # marketing: refused by GPC


async def test_charset_from_the_header_is_used_and_other_bytes_are_untouched(start_upstream, start_proxy, client):
    page = "<html><head><title>Caf\u00e9</title>" + GA + "</head><body>na\u00efve \u00e9t\u00e9</body></html>"
    raw = page.encode("windows-1252")

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=raw, headers={"Content-Type": "text/html; charset=windows-1252"})

    app = web.Application()
    app.router.add_get("/page", handler)
    upstream = await start_upstream(app)
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page") as resp:
        out = await resp.read()
        assert resp.headers["Content-Type"] == "text/html; charset=windows-1252"
    assert b"<title>Caf\xe9</title>" in out
    document_end = out.index(b"</html>") + len(b"</html>")
    assert out[:document_end].endswith(b"<body>na\xefve \xe9t\xe9</body></html>")
    # "</head>" first: a page that ends in its head must not take the form in (it is ignored elsewhere).
    assert out[document_end:].startswith(b"</head><noscript>") and out[document_end:].isascii()
    assert b'data-consent-src="https://www.google-analytics.com/analytics.js"' in out


async def test_with_full_consent_and_no_csp_only_the_banner_is_added(start_upstream, start_proxy, client):
    upstream = await start_upstream(site_app())
    proxy = await start_proxy(upstream, csp="off")
    full = cookie_for(proxy.config, ["analytics", "marketing", "preferences"])
    async with client.get(proxy.url + "/page", headers={"Cookie": full}) as resp:
        out = (await resp.read()).decode()
    head = out.index("<head>") + len("<head>")
    snippet_end = out.index("<title>")
    document_end = out.index("</html>") + len("</html>")
    # Byte-identical apart from the inserted snippet and the no-JS settings link after the end.
    assert out[:head] + out[snippet_end:document_end] == PAGE
    assert out[document_end:].startswith("</head><noscript><a class=\"consentry-settings\"")


async def test_elements_are_counted_by_vendor_category_and_action(start_upstream, start_proxy, client):
    upstream = await start_upstream(site_app())
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page") as resp:
        await resp.read()
    async with client.get(proxy.admin_url + "/metrics") as resp:
        text = await resp.text()
    assert re.search(r'consentry_elements_total\{action="defer",category="analytics",vendor="google-analytics"\} 1\.0', text)
    assert re.search(r'consentry_elements_total\{action="defer",category="marketing",vendor="[a-z-]+"\} 1\.0', text)


@pytest.mark.parametrize(("headers", "banner"), [
    ({"Sec-Fetch-Dest": "document"}, True),
    ({"Sec-Fetch-Dest": "iframe"}, True),
    ({"Sec-Fetch-Dest": "empty"}, False),
    ({"X-Requested-With": "XMLHttpRequest"}, False),
])
async def test_fragments_fetched_by_scripts_are_rewritten_without_a_second_banner(start_upstream, start_proxy, client,
                                                                                   headers, banner):
    upstream = await start_upstream(site_app())
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page", headers=headers) as resp:
        html = (await resp.read()).decode()
    assert ('id="consentry-state"' in html) is banner
    assert_neutralised(html)


async def test_no_js_banner_follows_the_document_in_the_page_language(start_upstream, start_proxy, client):
    german = PAGE.replace("<html>", '<html lang="de">')
    upstream = await start_upstream(site_app(body=german))
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/page?x=1", headers={"Accept-Language": "fr"}) as resp:
        out = (await resp.read()).decode()
    document_end = out.index("</html>") + len("</html>")
    banner = out[document_end:]
    assert banner.startswith("</head><noscript><form") and banner.endswith("</noscript>")
    assert 'name="action" value="reject_all"' in banner and 'name="action" value="accept_all"' in banner
    assert 'name="return_to" value="/page?x=1"' in banner
    assert 'lang="de"' in banner   # <html lang> wins over Accept-Language
    import html5lib

    tree = html5lib.parse(out, namespaceHTMLElements=False)
    assert tree.find("body/noscript") is not None   # a parser puts it at the end of <body>
