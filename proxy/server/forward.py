"""Forward one request to the site's upstream and stream the answer back.

Request side: hop-by-hop fields out, forwarding headers set (appended only behind a
trusted proxy), refused tracker cookies removed from ``Cookie``, our consent ETags
translated back in ``If-None-Match``, the body streamed up as it arrives. Response
side: status and headers (rewritten like nginx ``proxy_redirect`` when the Host is not
preserved, ``Set-Cookie`` of refused categories dropped, ``Link`` filtered), then the
body: HTML goes through ``html_body.rewrite_body``; everything else is copied chunk by
chunk without touching it. Upstream failures become ``errors`` pages; a failure after
the headers went out aborts the connection so the client sees a truncated body
instead of waiting forever.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urljoin

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from proxy.server import errors, headers as h
from proxy.response.codings import SUPPORTED, CodingError, DecodeChain
from proxy.response.headers import refresh_url
from proxy.response.plan import Document, ResponsePlan, plan_response
from proxy.response.sniff import SNIFF_LENGTH, sniff
from proxy.server.consent_state import consent_state
from proxy.server.html_body import public_url, rewrite_body
from proxy.consent import ConsentState
from proxy.policy import Timeouts
from proxy.server.runtime import SiteRuntime
from proxy.server.script_body import chain, inert_script, is_script, recognise
from proxy.server.sending import BoundedSender
from proxy.server.services import SERVICES

FORWARDED = web.RequestKey("consentry_forwarded", bool)   # the response's headers are the upstream's

log = logging.getLogger(__name__)

# aiohttp's client adds these unless told not to; a proxy must send only what it got.
_SKIP_AUTO = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
# Bodies that a rewrite changes carry integrity headers that would then lie.
_BODY_DIGESTS = ("Content-MD5", "Digest", "Content-Digest", "Repr-Digest", "Accept-Ranges")


def upstream_url(runtime: SiteRuntime, request: web.Request) -> URL | None:
    """The upstream URL for ``request``, or None when its path hides a traversal (400)."""
    path = h.upstream_path(runtime.upstream_prefix, request.rel_url.raw_path)
    if path is None:
        return None
    query = request.rel_url.raw_query_string
    return URL(f"{runtime.upstream_origin}{path}" + (f"?{query}" if query else ""), encoded=True)


@functools.lru_cache(maxsize=64)
def _client_timeout(t: Timeouts, pool_wait: float) -> aiohttp.ClientTimeout:
    # No total here: aiohttp's total would also cut long bodies (downloads, event streams).
    # The total bounds the wait for the response headers (see forward); a body is bounded
    # by the read timeout, the longest silence allowed, as nginx's proxy_read_timeout.
    # ``connect`` bounds the wait for a pooled connection plus connecting: a full pool
    # (slow upstream, many clients) answers 504 instead of queueing visitors forever.
    return aiohttp.ClientTimeout(total=None, connect=pool_wait + t.connect, sock_connect=t.connect, sock_read=t.read)


def _timeout(runtime: SiteRuntime) -> aiohttp.ClientTimeout:
    return _client_timeout(runtime.timeouts, runtime.limits.upstream_pool_timeout)


# Request fields never copied upstream as they came: "Expect" was already answered
# ("100 Continue") by aiohttp, the forwarding fields are rebuilt, Accept-Encoding is
# filtered, and without preserve_host aiohttp sets the upstream's own Host from the URL.
_REQUEST_DROP = frozenset({"expect", "accept-encoding", *h.FORWARDING})
_REQUEST_DROP_WITH_HOST = _REQUEST_DROP | {"host"}


def upstream_request_headers(request: web.Request, runtime: SiteRuntime) -> tuple[CIMultiDict[str], h.ClientView]:
    out = h.without_hop_by_hop(request.headers, _REQUEST_DROP if runtime.preserve_host else _REQUEST_DROP_WITH_HOST)
    view = h.client_view(request.remote, request.headers, request.scheme, request.host, runtime.trusted)
    h.set_forwarding(out, request.headers, request.remote, view)
    accept = h.filter_accept_encoding(request.headers.get("Accept-Encoding"), SUPPORTED)
    if accept:
        out["Accept-Encoding"] = accept
    return out, view


async def forward(request: web.Request, runtime: SiteRuntime) -> web.StreamResponse:
    target = upstream_url(runtime, request)
    if target is None:
        log.info("refused a path with hidden dot segments for site %s", runtime.site_id)
        _count(request, runtime, "error", 400)
        return errors.error_response(request, 400, "The path is not valid")
    out, view = upstream_request_headers(request, runtime)
    state: ConsentState | None = None
    translated_etag = False
    if "Cookie" in out:
        state = visitor = consent_state(request, runtime)
        engine = runtime.engine
        cookies = [h.filter_cookie_header(v, lambda name: engine.refused_cookie(name, visitor)) for v in out.getall("Cookie")]
        out.popall("Cookie")
        for value in cookies:
            if value:
                out.add("Cookie", value)
    if "If-None-Match" in out:
        state = state or consent_state(request, runtime)
        value, translated_etag = h.upstream_if_none_match(out["If-None-Match"], runtime.engine.etag_suffix(state))
        out.popall("If-None-Match")
        if value:
            out["If-None-Match"] = value

    data = request.content if request.body_exists else None
    upstream = await _send(request, runtime, target, out, data)
    if isinstance(upstream, web.StreamResponse):
        return upstream
    plan = plan_response(request.method, upstream.status, upstream.headers.items())
    if plan.fragment and plan.may_be_document and data is None:
        state = state or consent_state(request, runtime)
        if not runtime.engine.allows_everything(state):
            # A byte range of a page cannot be made safe on its own (offsets, cut tags):
            # ask for the whole representation and answer 200 with it, which HTTP allows.
            upstream.release()
            for name in ("Range", "If-Range"):
                out.popall(name, None)
            upstream = await _send(request, runtime, target, out, None)
            if isinstance(upstream, web.StreamResponse):
                return upstream
            plan = plan_response(request.method, upstream.status, upstream.headers.items())
            if plan.fragment:
                upstream.release()
                log.warning("upstream %s answered 206 without a Range request for %s", runtime.upstream_origin, request.path)
                _count(request, runtime, "error", 502)
                return errors.error_response(request, 502)

    try:
        return await _respond(request, runtime, upstream, plan, view, state, translated_etag)
    finally:
        upstream.release()


async def _send(request: web.Request, runtime: SiteRuntime, target: URL, out: CIMultiDict[str],
                data: object) -> aiohttp.ClientResponse | web.StreamResponse:
    """The upstream's response to our request, or the error page to answer instead."""
    services = request.app[SERVICES]
    metrics = services.metrics
    session = services.session_for(runtime)
    started = time.perf_counter()
    # A pooled keep-alive connection the upstream closed just as we reused it: aiohttp
    # itself sends an idempotent request once more on a fresh connection (tested).
    try:
        async with asyncio.timeout(runtime.timeouts.total):
            upstream = await session.request(
                request.method,
                target,
                headers=out,
                data=data,
                allow_redirects=False,
                timeout=_timeout(runtime),
                skip_auto_headers=_SKIP_AUTO,
                compress=None,
                chunked=None,
            )
    except (TimeoutError, aiohttp.ServerTimeoutError):
        metrics.upstream_errors.labels(runtime.site_id, "timeout").inc()
        log.warning("upstream %s timed out for %s %s", runtime.upstream_origin, request.method, request.path)
        _count(request, runtime, "error", 504)
        return errors.error_response(request, 504)
    except (aiohttp.ClientError, OSError) as exc:
        metrics.upstream_errors.labels(runtime.site_id, "connect").inc()
        log.warning("upstream %s failed for %s %s: %s", runtime.upstream_origin, request.method, request.path, exc)
        _count(request, runtime, "error", 502)
        return errors.error_response(request, 502)
    metrics.observe_latency(runtime.site_id, time.perf_counter() - started)
    if upstream.status < 200:
        # 101 (or another 1xx as a final answer) to a request that asked for no upgrade:
        # relaying it would hand the client's connection to a protocol nobody negotiated.
        upstream.close()
        metrics.upstream_errors.labels(runtime.site_id, "protocol").inc()
        log.warning("upstream %s answered %d to %s %s without an upgrade request", runtime.upstream_origin,
                    upstream.status, request.method, request.path)
        _count(request, runtime, "error", 502)
        return errors.error_response(request, 502)
    return upstream


async def _respond(
    request: web.Request,
    runtime: SiteRuntime,
    upstream: aiohttp.ClientResponse,
    plan: ResponsePlan,
    view: h.ClientView,
    state: ConsentState | None,
    translated_etag: bool,
) -> web.StreamResponse:
    headers = h.without_hop_by_hop(upstream.headers)
    engine = runtime.engine
    if not runtime.preserve_host:
        _rewrite_redirects(headers, runtime, view)
    if "Set-Cookie" in headers or "Link" in headers or "Refresh" in headers:
        state = state or consent_state(request, runtime)
        _enforce_on_headers(headers, engine, state, view, public_url(request, view.proto, view.host))

    status = upstream.status
    has_body = plan.has_body
    body: AsyncIterator[bytes] = upstream.content.iter_any()
    document = plan.document
    if plan.fragment:
        # Only reached when nothing must change (see forward): a range passes as it is.
        document = None
    elif plan.sniff and has_body:
        # No usable Content-Type: the browser sniffs the first bytes, so we do the same.
        prefix, document = await _sniff(upstream, plan, runtime)
        body = _chain(prefix, body)

    if document is not None or (status == 304 and translated_etag):
        state = state or consent_state(request, runtime)
        _consent_variant_headers(headers, engine.etag_suffix(state), runtime)
    if document is not None:
        if plan.no_transform:
            _log_no_transform(runtime)
        # The body will change, so anything that describes the upstream's bytes goes.
        headers.popall("Content-Length", None)
        for name in _BODY_DIGESTS:
            headers.popall(name, None)

    if document is None and is_script(plan) and status == 200:
        # A self-hosted tracker library under any name: recognised by its content.
        vendor, head, _ = await recognise(body, plan, engine.catalogue)
        body = chain(head, body)
        if vendor is not None:
            state = state or consent_state(request, runtime)
            _consent_variant_headers(headers, engine.etag_suffix(state), runtime)
            refused = engine.refuses_vendor(vendor, state)
            if refused is not None:
                log.debug("refused self-hosted %s library at %s", vendor.id, request.path)
                for name in ("Content-Length", "Content-Encoding", *_BODY_DIGESTS):
                    headers.popall(name, None)
                body = chain([inert_script(vendor.id, refused.category)], _empty())
    response = web.StreamResponse(status=status, reason=upstream.reason, headers=headers)
    request[FORWARDED] = True
    if document is not None and has_body:
        assert state is not None  # read above, with the consent variant headers
        return await rewrite_body(request, runtime, body, response, state, document=document,
                                  charset=plan.charset, codings=list(plan.codings))

    kind = "passthrough"
    if not has_body:
        await response.prepare(request)
        await response.write_eof()
        _count(request, runtime, kind, status)
        return response
    await response.prepare(request)
    send = BoundedSender(request, response, runtime.limits.send_timeout)
    try:
        async for chunk in body:
            await send(chunk)
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as exc:
        abort_midway(request, runtime, exc)
        return response
    await response.write_eof()
    _count(request, runtime, kind, status)
    return response


_SNIFF_RAW_LIMIT = 1024 * 1024   # compressed bytes read at most to find the first decoded bytes


async def _sniff(upstream: aiohttp.ClientResponse, plan: ResponsePlan, runtime: SiteRuntime) -> tuple[list[bytes], Document | None]:
    """Read just enough of the body to sniff it as a browser would: (raw chunks read, kind).

    A body in a coding we cannot undo is taken for HTML (fail closed: refused, not passed).
    """
    if plan.unsupported:
        return [], "html"
    decoder = DecodeChain(list(plan.codings), max_size=runtime.limits.decoded_body_size) if plan.codings else None
    raw: list[bytes] = []
    raw_size = 0
    decoded = b""
    try:
        while len(decoded) < SNIFF_LENGTH and raw_size < _SNIFF_RAW_LIMIT:
            chunk = await upstream.content.readany()
            if not chunk:
                break
            raw.append(chunk)
            raw_size += len(chunk)
            decoded += b"".join(decoder.decode(chunk)) if decoder is not None else chunk
    except CodingError:
        return raw, "html"   # unreadable: the rewrite path refuses it rather than guess
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError):
        pass                 # decide on what arrived; the pass-through reports the failure
    return raw, sniff(decoded)


async def _chain(prefix: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in prefix:
        yield chunk
    async for chunk in rest:
        yield chunk


_NO_TRANSFORM_LOGGED: set[str] = set()


def _log_no_transform(runtime: SiteRuntime) -> None:
    if runtime.site_id not in _NO_TRANSFORM_LOGGED:
        _NO_TRANSFORM_LOGGED.add(runtime.site_id)
        log.info("site %s: upstream sends Cache-Control: no-transform on documents; consent wins, "
                 "the pages are rewritten anyway (logged once)", runtime.site_id)


def abort_midway(request: web.Request, runtime: SiteRuntime, exc: BaseException) -> None:
    """The upstream failed after our headers went out: cut the client's connection.

    Closing without the final chunk (or short of Content-Length) is the only way HTTP/1.1
    can tell the client the body is incomplete; finishing it cleanly would pass off a
    truncated page as whole, and waiting would leave the client hanging.
    """
    transport = request.transport
    if transport is None or transport.is_closing():
        # Not the upstream's fault: the visitor went away while we were writing.
        log.debug("client went away during %s %s", request.method, request.path)
        return
    request.app[SERVICES].metrics.upstream_errors.labels(runtime.site_id, "body").inc()
    log.warning("upstream %s failed mid-body for %s %s: %r", runtime.upstream_origin, request.method, request.path, exc)
    transport.abort()


def _count(request: web.Request, runtime: SiteRuntime, kind: str, status: int) -> None:
    request.app[SERVICES].metrics.count_request(runtime.site_id, kind, status)


def _rewrite_redirects(headers: CIMultiDict[str], runtime: SiteRuntime, view: h.ClientView) -> None:
    public_origin = f"{view.proto}://{view.host}"
    for name in ("Location", "Content-Location"):
        if name in headers:
            headers[name] = h.rewrite_url(headers[name], runtime.upstream_origin, public_origin)
    if "Refresh" in headers:
        headers["Refresh"] = h.rewrite_refresh(headers["Refresh"], runtime.upstream_origin, public_origin)
    if "Set-Cookie" in headers:
        public_host = view.host.rsplit(":", 1)[0] if not view.host.endswith("]") else view.host
        cookies = [h.rewrite_cookie_domain(v, runtime.upstream_host, public_host) for v in headers.getall("Set-Cookie")]
        headers.popall("Set-Cookie")
        for value in cookies:
            headers.add("Set-Cookie", value)


def _enforce_on_headers(headers: CIMultiDict[str], engine: object, state: object, view: h.ClientView,
                        page_url: str) -> None:
    """Drop Set-Cookie of refused categories, Link preloads of refused trackers and a
    ``Refresh`` that navigates to a refused tracker (on any response: browsers follow it).

    When that changes anything the response now depends on the consent cookie, so it
    gets ``Vary: Cookie`` like a rewritten page (a shared cache must not mix them up).
    """
    page_host = view.host.rsplit(":", 1)[0]
    changed = False
    if "Set-Cookie" in headers:
        cookies = headers.getall("Set-Cookie")
        kept = [v for v in cookies if not engine.refused_cookie(h.set_cookie_name(v), state)]  # type: ignore[attr-defined]
        if len(kept) != len(cookies):
            changed = True
            headers.popall("Set-Cookie")
            for value in kept:
                headers.add("Set-Cookie", value)
    if "Link" in headers:
        links = headers.getall("Link")
        filtered = [engine.filter_link_header(v, state, page_host) for v in links]  # type: ignore[attr-defined]
        if filtered != links:
            changed = True
            headers.popall("Link")
            for value in filtered:
                if value:
                    headers.add("Link", value)
    if "Refresh" in headers:
        refreshes = headers.getall("Refresh")
        kept_refresh = [v for v in refreshes if not _refused_refresh(v, engine, state, page_url, page_host)]
        if len(kept_refresh) != len(refreshes):
            changed = True
            headers.popall("Refresh")
            for value in kept_refresh:
                headers.add("Refresh", value)
    if changed:
        headers["Vary"] = h.merge_vary(headers.getall("Vary", []), ["Cookie"])


def _refused_refresh(value: str, engine: object, state: object, page_url: str, page_host: str) -> bool:
    target = refresh_url(value)
    if target is None:
        return False
    return engine.refuses_url(urljoin(page_url, target), state, page_host) is not None  # type: ignore[attr-defined]


async def _empty() -> AsyncIterator[bytes]:
    nothing: tuple[bytes, ...] = ()
    for chunk in nothing:
        yield chunk


def _consent_variant_headers(headers: CIMultiDict[str], suffix: str, runtime: SiteRuntime) -> None:
    """Mark the response as one consent state's variant of the page.

    ``Vary: Cookie`` rather than ``Cache-Control: private``: private would stop shared
    caches (CDNs) from keeping the page at all, while Vary keeps it cacheable and
    correct, one copy per cookie value; ``Sec-GPC`` changes the output too. The ETag
    gets the consent state's digest so a copy made for one state never revalidates
    as fresh for another.
    """
    varies = ["Cookie"]
    if runtime.site.honor_gpc:
        varies.append("Sec-GPC")
    headers["Vary"] = h.merge_vary(headers.getall("Vary", []), varies)
    if "ETag" in headers:
        headers["ETag"] = h.consent_etag(headers["ETag"], suffix)
