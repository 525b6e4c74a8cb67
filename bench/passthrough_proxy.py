"""A bare streaming aiohttp reverse proxy, the reference the benchmark holds Consentry to.

No rewriting, no consent, no header rules beyond dropping hop-by-hop fields: one pooled
``ClientSession`` (``auto_decompress=False``) and a chunk-for-chunk copy of the body,
which is what a user would write in a page of aiohttp. Run:
``python bench/passthrough_proxy.py UPSTREAM_URL PORT``.
"""

from __future__ import annotations

import sys

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
SESSION = web.AppKey("session", aiohttp.ClientSession)


def make_app(upstream: str) -> web.Application:
    async def session_ctx(app: web.Application):
        app[SESSION] = aiohttp.ClientSession(auto_decompress=False, connector=aiohttp.TCPConnector(limit=1000))
        yield
        await app[SESSION].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
        async with request.app[SESSION].request(
            request.method, upstream + request.rel_url.raw_path_qs, headers=headers,
            data=request.content if request.body_exists else None, allow_redirects=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
        ) as upstream_response:
            out = {k: v for k, v in upstream_response.headers.items() if k.lower() not in HOP_BY_HOP}
            response = web.StreamResponse(status=upstream_response.status, headers=out)
            await response.prepare(request)
            async for chunk in upstream_response.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


if __name__ == "__main__":
    try:
        import uvloop
        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    web.run_app(make_app(sys.argv[1].rstrip("/")), host="127.0.0.1", port=int(sys.argv[2]), access_log=None,
                print=None, loop=loop_factory() if loop_factory else None)
