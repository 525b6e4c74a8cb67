"""The proxy serves the OpenAPI document of its consent API, and every route in it."""

from __future__ import annotations

from proxy.api import openapi_document


async def test_the_proxy_serves_the_document_and_every_documented_route(start_upstream, start_proxy, client):
    from aiohttp import web

    upstream = await start_upstream(web.Application())
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/_consent/openapi.json") as resp:
        assert resp.status == 200
        served = await resp.json()
    assert served == openapi_document()
    # No documented (path, method) falls through to 404/405: the server really has it.
    for path, item in served["paths"].items():
        for method in item:
            if method == "parameters":
                continue
            url = proxy.url + path.replace("{asset}", "consent.js")
            async with client.request(method.upper(), url, allow_redirects=False, data=b"{}",
                                      headers={"Content-Type": "application/json"}) as resp:
                assert resp.status not in (404, 405), (method, path, resp.status)
