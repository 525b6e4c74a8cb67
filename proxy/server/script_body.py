"""Self-hosted copies of tracker libraries, recognised by content as their body passes.

A site may serve a tracker's library from its own origin under any name (a CMS cache,
a "save page as" folder, a bundler hash). The rewriter catches the usual names; this
catches the rest: the first `LIBRARY_PREFIX` decoded bytes of a JavaScript response are
matched against the catalogue's ``library_signatures``. A recognised library is marked
as a consent variant (``Vary: Cookie``, consent ETag), and for a visitor who refused its
vendor the body is replaced with an inert script, so nothing of it runs or loads.

Only JavaScript bodies are looked at, in codings we can undo; everything else passes as
it is. Other bodies are never changed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp

from proxy.catalogue import Catalogue, Vendor
from proxy.catalogue.matchers import LIBRARY_PREFIX
from proxy.response.codings import CodingError, DecodeChain
from proxy.response.plan import ResponsePlan

log = logging.getLogger(__name__)

SCRIPT_TYPES = frozenset(
    {
        "application/javascript",
        "text/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/ecmascript",
        "text/x-javascript",
    }
)


def is_script(plan: ResponsePlan) -> bool:
    """A whole JavaScript body in codings we can read."""
    return (
        plan.has_body
        and plan.mime is not None
        and plan.mime.essence in SCRIPT_TYPES
        and not plan.fragment
        and not plan.unsupported
    )


async def recognise(body: AsyncIterator[bytes], plan: ResponsePlan, catalogue: Catalogue) -> tuple[Vendor | None, list[bytes], bool]:
    """Read up to `LIBRARY_PREFIX` decoded bytes: (vendor or None, raw chunks read, body ended)."""
    decoder = DecodeChain(list(plan.codings)) if plan.codings else None
    raw: list[bytes] = []
    decoded = bytearray()
    ended = True
    try:
        async for chunk in body:
            raw.append(chunk)
            pieces = decoder.decode(chunk) if decoder is not None else (chunk,)
            for piece in pieces:
                decoded += piece
            if len(decoded) >= LIBRARY_PREFIX:
                ended = False
                break
        else:
            if decoder is not None:
                for piece in decoder.flush():
                    decoded += piece
    except (CodingError, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as error:
        # A body we cannot decode passes as it is (browsers fail on it too); a broken upstream
        # fails again where the body is streamed, which aborts the response cleanly.
        log.debug("script body not screened: %s", error)
        return None, raw, False
    text = bytes(decoded[:LIBRARY_PREFIX]).decode("utf-8", "replace")
    return catalogue.vendor_for_library(text), raw, ended


async def chain(head: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in head:
        yield chunk
    async for chunk in rest:
        yield chunk


def inert_script(vendor_id: str, category: str) -> bytes:
    """What a refused library is replaced with: valid JavaScript that does nothing."""
    return f"/* consentry: {vendor_id} ({category}) needs consent; nothing of it runs */\n".encode("ascii", "replace")
