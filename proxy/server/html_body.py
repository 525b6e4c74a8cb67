"""Rewrite one HTML response body as it streams: decode, rewrite for consent, re-encode.

The upstream's content coding (gzip, deflate, br, zstd, or a chain of them) is undone
chunk by chunk, the engine's rewriter neutralises what the visitor has not consented
to and inserts the banner snippet at the start of ``<head>``, and the output is encoded
again with the same coding and flushed per chunk, so the browser starts parsing before
the page has finished arriving. A fresh CSP nonce (or the upstream CSP's own nonce) is
given both to the rewriter (for scripts it keeps) and to the CSP builder.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from proxy import web as ui
from proxy.web.variants import draw_variant
from proxy.csp import build_csp
from proxy.defaults import NECESSARY
from proxy.engine import Report
from proxy.html.replay import RecordingRewriter, ReplayingRewriter, StreamingRewriter
from proxy.server import errors
from proxy.server import headers as h
from proxy.response.codings import STEP, BodyTooLarge, CodingError, DecodeChain, EncodeChain, parse_codings
from proxy.server.runtime import SiteRuntime
from proxy.server.sending import BoundedSender
from proxy.server.services import SERVICES

if TYPE_CHECKING:
    from proxy.consent import ConsentState
    from proxy.html.rewriter import Rewriter
    from proxy.policy import BannerVariant

log = logging.getLogger(__name__)

# Decoded bytes rewritten between two turns given to other requests (one codings.STEP).
YIELD_EVERY = STEP


# Fetch destinations that render a whole document; anything else (fetch/XHR fragments
# swapped into a page) is still rewritten but gets no second banner.
_DOCUMENT_DESTINATIONS = frozenset({"document", "iframe", "frame", "embed", "object"})


def is_page_load(request: web.BaseRequest) -> bool:
    destination = request.headers.get("Sec-Fetch-Dest")
    if destination is not None and destination.lower() not in _DOCUMENT_DESTINATIONS:
        return False
    return request.headers.get("X-Requested-With", "").lower() != "xmlhttprequest"


def public_url(request: web.BaseRequest, view_proto: str, view_host: str) -> str:
    return f"{view_proto}://{view_host}{request.rel_url.raw_path_qs}"


def no_script_banner(
    request: web.BaseRequest, runtime: SiteRuntime, state: ConsentState, lang: str | None, encoding: str | None,
    variant: BannerVariant | None = None,
    reopener: Callable[[], bytes | None] | None = None,
) -> bytes:
    """The <noscript> consent form, appended after the document's last byte.

    A form may not stand in <head>, and the rewriter injects only there; after the end of
    the document a parser puts it at the end of <body>, where it belongs (browsers render
    it only with JavaScript off). It is ASCII with character references, so it is valid in
    every ASCII-compatible encoding; UTF-16 pages (rare) go without it.
    """
    if encoding is not None and encoding.lower().replace("_", "-").startswith("utf-16"):
        return b""
    snippet = ui.body_snippet(runtime.site, state, lang=lang, return_to=request.rel_url.raw_path_qs, variant=variant)
    if not snippet:
        return b""
    # What the page left open (its head, an <svg>, a <template>...) is closed first so the
    # form lands in <body>; a page that ends inside a comment or a script gets none.
    reopen = reopener() if reopener is not None else b""
    if reopen is None:
        return b""
    return reopen + snippet


async def rewrite_body(
    request: web.Request,
    runtime: SiteRuntime,
    body: AsyncIterator[bytes],
    response: web.StreamResponse,
    state: ConsentState,
    *,
    document: str = "html",
    charset: str | None = None,
    codings: list[str] | None = None,
) -> web.StreamResponse:
    """Stream ``body`` (the upstream's raw chunks) rewritten into ``response``.

    ``document`` "xml" (SVG, XML, as the response plan decided) is rewritten without the
    banner: HTML snippets have no place in an XML document.
    """
    services = request.app[SERVICES]
    metrics = services.metrics
    headers = response.headers
    view = h.client_view(request.remote, request.headers, request.scheme, request.host, runtime.trusted)

    if codings is None:
        codings = parse_codings(headers.get("Content-Encoding"))
    try:
        decoder = DecodeChain(codings, max_size=runtime.limits.decoded_body_size) if codings else None
        encoder = EncodeChain(codings) if codings else None
    except CodingError:
        # We cannot read it, so we cannot make it safe: refuse rather than leak trackers.
        log.warning("upstream %s sent HTML in an unsupported coding %r", runtime.upstream_origin, codings)
        return errors.error_response(request, 502)

    upstream_policies = headers.getall("Content-Security-Policy", [])
    upstream_csp = ", ".join(upstream_policies) or None
    upstream_nonce = next((n for n in map(h.csp_nonce, upstream_policies) if n), None)
    nonce = upstream_nonce or secrets.token_urlsafe(16)
    # Nothing can be refused (full consent, no vendor the site never allows): our CSP would
    # admit everything the page has, so it is not sent and no element needs a nonce; the
    # page then streams through unchanged but for the snippet (the engine's fast path).
    everything_allowed = runtime.engine.allows_everything(state)
    # Only ``report-uri``: once ``report-to`` is present Chromium ignores ``report-uri`` and
    # batches reports through the Reporting API, which delivered none here in 75 s; with
    # ``report-uri`` every browser posts each violation at once.
    # A strict site's policy admits the necessary services its pages use (learned below).
    in_use = runtime.necessary_in_use
    built = None if everything_allowed else build_csp(runtime.site, state, upstream_csp=upstream_csp, nonce=nonce,
                                                      necessary=in_use.for_page(request.path), page_host=view.host)
    ours = [built] if built is not None else []
    for name, value in ours:
        headers.add(name, value)   # beside the upstream's policy, never instead of it
    # Our snippet carries the nonce in force (the site's own, so its CSP admits it). Page
    # elements get our fresh nonce only when the site has none of its own: stamping the
    # site's nonce on a script that did not carry it would turn an injected script into a
    # trusted one and void the site's CSP. Without any CSP, kept scripts stay byte-identical.
    snippet_nonce = nonce if ours or upstream_policies else None
    nonce_for_page = None if everything_allowed or upstream_nonce or h.csp_has_nonce(upstream_policies) else snippet_nonce
    page_load = document == "html" and is_page_load(request)
    report = Report()
    rewriter: StreamingRewriter | None = None
    replay_result: str | None = None   # what the replay cache did (metrics), None: not asked
    lang: str | None = None
    variant: BannerVariant | None = None

    def start_rewriter(first_piece: bytes) -> StreamingRewriter:
        # Built on the first decoded bytes: the banner's language comes from <html lang>,
        # which precedes <head>, so the snippet for <head> can be made in time.
        nonlocal lang, variant, replay_result
        inject = None
        template = None
        stamps: tuple[tuple[bytes, bytes], ...] = ()
        if page_load:
            lang = ui.pick_language(
                runtime.site, accept_language=request.headers.get("Accept-Language"),
                html_lang=ui.sniff_html_lang(first_piece),
            )
            # The banner shows only to a visitor without a decision: only then is a
            # variant drawn (per page view, nothing stored) and an impression counted.
            shows_banner = not state.decided and runtime.banner_enabled
            if shows_banner:
                variant = draw_variant(runtime.site)
            template = ui.head_snippet_template(runtime.site, state, lang=lang, nonce=snippet_nonce is not None,
                                                variant=variant, page_host=view.host)
            stamps = ui.snippet_stamps(state, snippet_nonce)
            inject = ui.fill_snippet(template, stamps)
            if shows_banner:
                services.impressions.count(runtime.site_id, variant.id if variant is not None else None)
        elif snippet_nonce is not None:
            stamps = ui.snippet_stamps(state, snippet_nonce)[:1]   # the nonce on kept scripts
        base_url = public_url(request, view.proto, view.host)
        stream_ahead = not (page_load and runtime.banner_enabled)

        def fresh() -> Rewriter:
            return runtime.engine.rewriter(
                state,
                base_url=base_url,
                encoding=charset,
                report=report,
                nonce=nonce_for_page,
                inject=inject,
                fast_full_consent=True,  # under full consent only author-marked markup is looked at
                # ... and, when nothing goes after the document (no body snippet, which needs the
                # state at its end), not even the bytes after the injection point that hold no mark.
                stream_ahead=stream_ahead,
            )

        replays = runtime.replays
        if replays.max_bytes <= 0 or upstream_policies:
            # (The site's own CSP nonce changes with every response: no record would match.)
            return fresh()
        # Everything the output depends on besides the input bytes (proxy.html.replay): the
        # snippet's template stands for the snippet, whose stamps (nonce, the visitor's
        # consent expiry) are this response's own and are written over the recorded ones.
        values = tuple(value for _, value in stamps if value)
        key = (runtime.site_id, runtime.engine.decision_context(state), base_url, charset, document, page_load, stream_ahead,
               snippet_nonce is None, nonce_for_page is None, template, tuple(len(value) for value in values))

        def recording(diverged: int = 0) -> StreamingRewriter:
            return RecordingRewriter(fresh(), stamps=values, limit=replays.record_limit, entries=report.entries,
                                     on_complete=lambda record: replays.store(key, record), ask_reopener=page_load,
                                     diverged=diverged)

        record = replays.lookup(key)
        if record is None:
            if replays.volatile(key):
                replay_result = "volatile"
                return fresh()     # this page changes on every request: not worth recording
            replay_result = "recorded"
            return recording()
        replay_result = "replayed"
        return ReplayingRewriter(record, lambda: recording(record.diverged + 1), stamps=values,
                                 entries=report.entries)

    send = BoundedSender(request, response, runtime.limits.send_timeout)
    await response.prepare(request)
    seen = 0
    unyielded = 0   # decoded bytes handled since this response last let other requests run
    try:
        async for chunk in body:
            pieces = decoder.decode(chunk) if decoder is not None else (chunk,)
            for piece in pieces:
                if not piece:
                    continue
                # Pieces are at most codings.STEP decoded bytes: other requests get a turn
                # before more than that is rewritten in one go, so one huge or highly
                # compressed page cannot stall the loop (a small page pays no turn per piece).
                if unyielded and unyielded + len(piece) > YIELD_EVERY:
                    unyielded = 0
                    await asyncio.sleep(0)
                unyielded += len(piece)
                if rewriter is None:
                    rewriter = start_rewriter(piece)
                seen += len(piece)
                out = rewriter.feed(piece)
                if encoder is not None:
                    out = encoder.encode(out)
                if out:
                    await send(out)
        tail = b""
        if decoder is not None:
            for piece in decoder.flush():
                if rewriter is None:
                    rewriter = start_rewriter(piece)
                seen += len(piece)
                tail += rewriter.feed(piece)
        if rewriter is None:
            rewriter = start_rewriter(b"")
        tail += rewriter.close()
        if page_load:
            tail += no_script_banner(request, runtime, state, lang, rewriter.encoding, variant,
                                     rewriter.body_reopener)
        if encoder is not None:
            tail = encoder.encode(tail) + encoder.finish()
        if tail:
            await send(tail)
        if not everything_allowed:
            # Read whole, with nothing skipped: this page's necessary services are known now.
            in_use.record(request.path, {e.vendor for e in report.entries if e.vendor and e.category == NECESSARY})
    except BodyTooLarge as exc:
        log.warning("upstream %s sent HTML that decodes past %d bytes; response cut", runtime.upstream_origin,
                    runtime.limits.decoded_body_size)
        from proxy.server.forward import abort_midway

        abort_midway(request, runtime, exc)
        return response
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError, CodingError) as exc:
        from proxy.server.forward import abort_midway

        abort_midway(request, runtime, exc)
        return response
    finally:
        metrics.count_rewritten(runtime.site_id, seen)
        if report is not None:
            engine = runtime.engine
            metrics.count_report(report.entries, engine.categories, engine.catalogue.vendors)
    await response.write_eof()
    if replay_result is not None:
        diverged = isinstance(rewriter, ReplayingRewriter) and rewriter.diverged
        metrics.count_replay(runtime.site_id, "diverged" if diverged else replay_result)
    metrics.count_request(runtime.site_id, "html", response.status)
    return response
