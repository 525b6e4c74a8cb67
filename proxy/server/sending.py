"""Writing a response body to a client that may stop reading.

Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import asyncio

from aiohttp import web


# What aiohttp may add around a chunk (chunked transfer coding: size line and CRLFs).
_FRAMING = 32


class BoundedSender:
    """Writes a response's chunks; a client that stops reading fails the write after
    ``send_timeout`` instead of holding the upstream connection forever.

    aiohttp's write waits only while the transport has paused writing: past its high-water
    mark, until the buffer drains below the low-water mark. A write that finds the buffer
    at or below the low mark and stays below the high mark with its chunk cannot wait, so
    it gets no timer: arming one per chunk cost more than the rest of a small passthrough
    response. Every other write is bounded by ``send_timeout``.
    """

    __slots__ = ("_high_water", "_low_water", "_response", "_send_timeout", "_transport")

    def __init__(self, request: web.BaseRequest, response: web.StreamResponse, send_timeout: float) -> None:
        self._response = response
        self._send_timeout = send_timeout
        self._transport = request.transport
        self._low_water = self._high_water = -1   # a transport that cannot tell: every write gets its timer
        if self._transport is not None:
            try:
                self._low_water, self._high_water = self._transport.get_write_buffer_limits()
            except (AttributeError, NotImplementedError):
                pass

    async def __call__(self, chunk: bytes) -> None:
        transport = self._transport
        buffered = transport.get_write_buffer_size() if transport is not None else self._high_water
        if buffered <= self._low_water and buffered + len(chunk) + _FRAMING <= self._high_water:
            await self._response.write(chunk)
            return
        async with asyncio.timeout(self._send_timeout):
            await self._response.write(chunk)
