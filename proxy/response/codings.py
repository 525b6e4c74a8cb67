"""Streaming decoders and encoders for the HTTP content codings the proxy rewrites through.

An HTML response compressed by the upstream is decoded chunk by chunk, rewritten, and
re-encoded with the same coding, so the visitor gets what the upstream chose while the
proxy never holds a whole body. Supported: ``gzip`` (and ``x-gzip``), ``deflate`` (zlib
wrapped, with a fallback to the raw deflate some servers send), ``br`` and ``zstd``.
Each encoder flushes after every chunk so the first bytes reach the browser at once.

Decompression bombs: every decoder yields its output in pieces of at most ``STEP``
bytes (zlib ``max_length``, brotli ``output_buffer_limit``; zstd, whose Python binding
has no output limit, is fed ``_ZSTD_SLICE`` input bytes at a time, which bounds one call
to about 8 MiB even for run-length blocks), and ``DecodeChain(max_size=...)`` raises
``BodyTooLarge`` as soon as the decoded total passes the cap, before more is produced.
Callers that run on an event loop yield to it between pieces. Standard library plus
brotli/zstandard only: this module must not import aiohttp.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli
import zstandard

SUPPORTED = ("gzip", "x-gzip", "deflate", "br", "zstd")
STEP = 256 * 1024    # largest decoded piece produced from one compressed chunk at a time
_STEP = STEP
# zstd input fed per call: a 4-byte run-length block expands to 128 KiB, so 256 input
# bytes can produce at most ~8 MiB in one call whatever the frame says.
_ZSTD_SLICE = 256
# The largest zstd window a body may ask for. The decoder keeps a window of the output in
# memory, up to what the frame declares (128 MiB by the library's default); browsers
# decode content-coding zstd with at most 8 MiB (RFC 9659 section 3), so a page that asks
# for more fails in Chromium too, and each zstd response costs us at most this much.
ZSTD_MAX_WINDOW = 8 * 1024 * 1024


class CodingError(Exception):
    """The body does not decode with the coding its Content-Encoding names."""


class BodyTooLarge(CodingError):
    """The decoded body passed the configured cap (a decompression bomb, or a huge page)."""


class Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...
    def flush(self) -> bytes: ...


class Encoder(Protocol):
    def encode(self, data: bytes) -> bytes: ...
    def finish(self) -> bytes: ...


class _ZlibDecoder:
    def __init__(self, wbits: int, *, raw_fallback: bool = False) -> None:
        self._wbits = wbits
        self._obj = zlib.decompressobj(wbits)
        self._raw_fallback = raw_fallback   # only decided on the very first bytes
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            pending = bool(data)
            while pending:
                if self._obj.eof:
                    if self._wbits < 16:
                        return   # bytes after the end of a zlib stream: ignored, as browsers do
                    # A gzip body may hold several members back to back (RFC 1952 2.2).
                    self._obj = zlib.decompressobj(self._wbits)
                out = self._obj.decompress(data, _STEP)
                self._started = True
                if out:
                    yield out
                if self._obj.eof:
                    data = self._obj.unused_data
                    pending = bool(data)
                else:
                    # Output capped at _STEP: more may wait in the tail or inside zlib.
                    data = self._obj.unconsumed_tail
                    pending = bool(data) or len(out) == _STEP
        except zlib.error as exc:
            if self._raw_fallback and not self._started:
                # "deflate" without the zlib header: old IIS and some CDNs send it.
                self._raw_fallback = False
                self._wbits = -zlib.MAX_WBITS
                self._obj = zlib.decompressobj(self._wbits)
                yield from self.decode(data)
                return
            raise CodingError(str(exc)) from exc

    def flush(self) -> bytes:
        try:
            tail = self._obj.flush()
        except zlib.error as exc:
            raise CodingError(str(exc)) from exc
        if self._started and not self._obj.eof:
            # The body ended inside the compressed stream: the page is incomplete.
            raise CodingError("the compressed stream is truncated")
        return tail


class _ZlibEncoder:
    def __init__(self, wbits: int, level: int = 6) -> None:
        self._obj = zlib.compressobj(level, zlib.DEFLATED, wbits)

    def encode(self, data: bytes) -> bytes:
        if not data:
            return b""
        return self._obj.compress(data) + self._obj.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._obj.flush(zlib.Z_FINISH)


class _BrotliDecoder:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self._obj.process(data, output_buffer_limit=_STEP)
            if out:
                yield out
            # Output capped at _STEP: drain what the decoder still holds until it has
            # nothing more to give for the input it was handed.
            while out and not self._obj.is_finished():
                out = self._obj.process(b"", output_buffer_limit=_STEP)
                if out:
                    yield out
        except brotli.error as exc:
            raise CodingError(str(exc)) from exc
        self._started = True

    def flush(self) -> bytes:
        if self._started and not self._obj.is_finished():
            raise CodingError("the compressed stream is truncated")
        return b""


class _BrotliEncoder:
    def __init__(self, quality: int = 5) -> None:
        self._obj = brotli.Compressor(quality=quality)

    def encode(self, data: bytes) -> bytes:
        if not data:
            return b""
        out: bytes = self._obj.process(data) + self._obj.flush()
        return out

    def finish(self) -> bytes:
        out: bytes = self._obj.finish()
        return out


def _zstd_decompressobj() -> zstandard.ZstdDecompressionObj:
    return zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).decompressobj()


class _ZstdDecoder:
    def __init__(self) -> None:
        self._obj = _zstd_decompressobj()
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        try:
            while view:
                if self._obj.eof:
                    # Concatenated zstd frames are one valid body: a new frame starts here.
                    self._obj = _zstd_decompressobj()
                piece, view = view[:_ZSTD_SLICE], view[_ZSTD_SLICE:]
                out = self._obj.decompress(piece)
                if self._obj.eof and self._obj.unused_data:
                    view = memoryview(self._obj.unused_data + bytes(view))
                for start in range(0, len(out), STEP):
                    yield out[start:start + STEP]
        except zstandard.ZstdError as exc:
            raise CodingError(str(exc)) from exc
        if data:
            self._started = True

    def flush(self) -> bytes:
        if self._started and not self._obj.eof:
            raise CodingError("the compressed stream is truncated")
        return b""


class _ZstdEncoder:
    def __init__(self, level: int = 3) -> None:
        self._obj = zstandard.ZstdCompressor(level=level).compressobj()

    def encode(self, data: bytes) -> bytes:
        if not data:
            return b""
        return self._obj.compress(data) + self._obj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def finish(self) -> bytes:
        return self._obj.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)


def parse_codings(header: str | None) -> list[str]:
    """The codings in the order they were applied ("identity" and blanks dropped)."""
    if not header:
        return []
    return [c.strip().lower() for c in header.split(",") if c.strip() and c.strip().lower() != "identity"]


def make_decoder(coding: str) -> Decoder:
    match coding:
        case "gzip" | "x-gzip":
            return _ZlibDecoder(16 + zlib.MAX_WBITS)
        case "deflate":
            return _ZlibDecoder(zlib.MAX_WBITS, raw_fallback=True)
        case "br":
            return _BrotliDecoder()
        case "zstd":
            return _ZstdDecoder()
    raise CodingError(f"unsupported content coding {coding!r}")


def make_encoder(coding: str) -> Encoder:
    match coding:
        case "gzip" | "x-gzip":
            return _ZlibEncoder(16 + zlib.MAX_WBITS)
        case "deflate":
            return _ZlibEncoder(zlib.MAX_WBITS)
        case "br":
            return _BrotliEncoder()
        case "zstd":
            return _ZstdEncoder()
    raise CodingError(f"unsupported content coding {coding!r}")


class DecodeChain:
    """Undoes a list of codings applied in order (the last applied is undone first).

    ``max_size`` caps the decoded total: ``BodyTooLarge`` is raised by the piece that
    would pass it, so no more than ``max_size + STEP`` bytes are ever produced.
    """

    def __init__(self, codings: list[str], max_size: int | None = None) -> None:
        self._decoders = [make_decoder(c) for c in reversed(codings)]
        self.max_size = max_size
        self.decoded = 0

    def decode(self, data: bytes) -> Iterator[bytes]:
        yield from self._run(0, data)

    def _run(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._decoders):
            if data:
                self.decoded += len(data)
                if self.max_size is not None and self.decoded > self.max_size:
                    raise BodyTooLarge(f"decoded body passed {self.max_size} bytes")
                yield data
            return
        for piece in self._decoders[index].decode(data):
            yield from self._run(index + 1, piece)

    def flush(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self._decoders):
            tail = decoder.flush()
            if tail:
                yield from self._run(index + 1, tail)


class EncodeChain:
    """Applies a list of codings in order, each flushed per chunk."""

    def __init__(self, codings: list[str]) -> None:
        self._encoders = [make_encoder(c) for c in codings]

    def encode(self, data: bytes) -> bytes:
        for encoder in self._encoders:
            data = encoder.encode(data)
        return data

    def finish(self) -> bytes:
        data = b""
        for encoder in self._encoders:
            data = encoder.encode(data) + encoder.finish() if data else encoder.finish()
        return data
