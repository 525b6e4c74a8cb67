"""The public streaming rewriter: picks the encoding, then runs the scanner over bytes.

``Rewriter(decide, ...).feed(chunk) -> bytes`` / ``close() -> bytes``. Until the encoding
is known (caller's, BOM, or ``<meta>`` within the first 1024 bytes) it holds at most
those 1024 bytes. UTF-16 documents are transcoded to UTF-8 for scanning and back on
output; unchanged text round-trips exactly (lone surrogates included). ISO-2022-JP is
transcoded the same way (its kanji bytes can look like "<" or a quote), with the Katakana
state browsers decode (``encoding.ISO2022JPDecoder``). ``decide``
comes from the caller: this package knows markup, never consent. Standard library only;
must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import codecs
import re

from proxy.html import encoding as enc
from proxy.html.scanner import Decide, KeepMemo, Scanner
from proxy.html.urls import URLResolver


_TEXT_ONLY_START = re.compile(rb"<(script|style|textarea|title|xmp|iframe|noembed|noframes|plaintext)[\s/>]", re.I)


def _unfinished(pending: bytes) -> bool:
    """Whether the bytes the scanner still holds at the end leave the document inside a tag,
    a comment or a text-only element (held bytes are usually just a last complete tag)."""
    last = pending.rfind(b"<")
    if last >= 0 and b">" not in pending[last:]:
        return True
    comment = pending.rfind(b"<!--")
    if comment >= 0 and b"-->" not in pending[comment + 4:]:
        return True
    for found in _TEXT_ONLY_START.finditer(pending):
        name = found.group(1).lower()
        if name == b"plaintext" or not re.search(rb"</" + name + rb"[\s/>]", pending[found.end():], re.I):
            return True
    return False


class Rewriter:
    """Rewrite one HTML document as it streams; see docs/internals.md.

    ``decide(element) -> Decision`` is called once per element that can fetch or run
    (and once per ``on*`` handler, with ``element.attribute`` naming it). ``encoding``
    is the HTTP charset if any; ``rewriter.encoding`` is None until the encoding is
    chosen (at most 1024 bytes in). ``base_url`` is the document's URL, against which
    ``Element.urls`` are resolved (after the first ``<base href>``). ``max_buffer``
    bounds what is held back; what happens at the cap is described in
    ``proxy.html.scanner``. ``inject`` (UTF-8 bytes, re-encoded to the document's
    encoding) is inserted after ``<head>``, else before ``<body>``, else before the first
    content, else at the end. For UTF-16 input, ``Element.offset`` counts bytes of the
    UTF-8 transcoding. ``resolve_url(url, base)`` resolves every URL the scanner
    reports (default: this package's standard-library approximation; the engine passes
    the WHATWG-conformant ``proxy.urls.resolve``). ``inject_nested`` (UTF-8) goes at the
    start of every ``<iframe srcdoc>`` document, as ``inject`` does for the page.
    ``keeps_all`` promises that ``decide`` keeps every element as it is except
    author-marked inert ones it may activate (full consent, no nonce): only those, and
    the tags that change the tokenizer's state, are looked at; the rest is copied.
    ``stream_ahead`` (with ``keeps_all`` and no defusing) goes further: after the
    injection (from the first byte without one), bytes with no author mark go out unscanned
    (``proxy.html.scanner.Scanner._send_ahead``); ``body_reopener()`` then has to scan
    them when asked, which costs what was saved, so pass it when you will not ask.
    ``keep_memos`` (see ``proxy.html.scanner.KeepMemo``) remember start tags kept byte for
    byte, one memo per scanning encoding (the same bytes decode differently in another),
    shared by the caller between documents whose decisions cannot differ.
    """

    @property
    def rescanned(self) -> int:
        """Bytes looked at again because a token was incomplete (a work counter for tests)."""
        return self._scanner.rescanned if self._scanner is not None else 0

    @property
    def held_max(self) -> int:
        """The most input bytes held back after any feed (a memory counter for tests)."""
        return self._scanner.held_max if self._scanner is not None else 0

    def __init__(self, decide: Decide, *, encoding: str | None = None, base_url: str | None = None,
                 max_buffer: int = 256 * 1024, inject: bytes | None = None, defuse_ambiguous: bool = True,
                 resolve_url: URLResolver | None = None, inject_nested: bytes | None = None,
                 keeps_all: bool = False, keep_memos: dict[str, KeepMemo] | None = None,
                 stream_ahead: bool = False) -> None:
        self._decide = decide
        self._keep_memos = keep_memos
        self._resolve_url = resolve_url
        self._inject_nested = inject_nested
        self._keeps_all = keeps_all
        self._stream_ahead = stream_ahead   # (the scanner streams ahead only under keeps_all)
        # False when the caller will keep every element (full consent): the ``</noscript``
        # defusing then has nothing to protect and the output stays byte-identical.
        self._defuse_ambiguous = defuse_ambiguous
        self._requested = enc.normalise(encoding) if encoding else None
        self._base_url = base_url
        self._max_buffer = max_buffer
        self._inject = inject
        self.encoding: str | None = None
        self._scanner: Scanner | None = None
        self._head = b""      # bytes seen before the encoding was chosen
        self._decoder: codecs.IncrementalDecoder | None = None   # UTF-16 -> text
        self._encoder: codecs.IncrementalEncoder | None = None   # text -> UTF-16
        self._output_decoder: codecs.IncrementalDecoder | None = None  # scanner UTF-8 -> text
        self._closed = False
        self._reopener: bytes | None = b"</head>"
        self._reopener_pending = False
        # ISO-2022-JP: the JIS X 0208 designation the document uses (b"@" for ESC $ @, the
        # 1978 spelling, b"B" for ESC $ B; None until seen) and the input's last two bytes
        # (an escape split between feeds).
        self._designation: bytes | None = None
        self._jis_tail = b""

    # -- choosing the encoding

    def _start(self, final: bool) -> bytes | None:
        """Choose the encoding if possible; returns bytes to emit first (a BOM)."""
        data = self._head
        if enc.could_be_bom_prefix(data) and not final:
            return None
        bom = enc.sniff_bom(data)
        if bom is not None:
            name, length = bom
            return self._begin(name, data[:length], data[length:])
        if self._requested is not None:
            return self._begin(self._requested, b"", data)
        if len(data) < enc.PRESCAN_BYTES and not final:
            return None
        found = enc.prescan(data[:enc.PRESCAN_BYTES])
        return self._begin(found or enc.DEFAULT, b"", data)

    def _begin(self, name: str, bom: bytes, rest: bytes) -> bytes:
        self.encoding = name
        self._head = b""
        if enc.is_utf16(name) or (enc.needs_transcoding(name) and self._defuse_ambiguous):
            # (ISO-2022-JP is scanned as bytes when the caller keeps everything: nothing is
            # edited then, and its bytes stay exactly as they were.)
            codec = name if name not in ("utf-16", "utf-32") else name + "-le"
            # An invalid ISO-2022-JP sequence is U+FFFD to a browser too; written back as a
            # character reference. Valid documents round-trip (with the designation the
            # document uses first for JIS X 0208, ESC $ @ or ESC $ B: see _through).
            utf16 = enc.is_utf16(name)
            if name == "iso-2022-jp":   # with the Katakana state browsers decode (ESC ( I)
                self._decoder = enc.ISO2022JPDecoder("replace")
                self._encoder = enc.ISO2022JPEncoder("xmlcharrefreplace")
            else:
                self._decoder = codecs.getincrementaldecoder(codec)(errors="surrogatepass" if utf16 else "replace")
                self._encoder = codecs.getincrementalencoder(codec)(errors="surrogatepass" if utf16 else "xmlcharrefreplace")
            self._output_decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogatepass")
            scan_encoding = "utf-8"
        else:
            scan_encoding = name
        inject = self._inject
        if inject and scan_encoding != "utf-8":
            # inject is UTF-8 (usually ASCII); write it in the document's own encoding.
            inject = inject.decode("utf-8", errors="replace").encode(scan_encoding, errors="xmlcharrefreplace")
        self._scanner = Scanner(self._decide, encoding=scan_encoding, base_url=self._base_url,
                                max_buffer=self._max_buffer, inject=inject, defuse_ambiguous=self._defuse_ambiguous,
                                resolve_url=self._resolve_url, inject_nested=self._inject_nested,
                                keeps_all=self._keeps_all, stream_ahead=self._stream_ahead,
                                keep_memo=None if self._keep_memos is None else self._keep_memos.setdefault(scan_encoding, {}))
        self._scanner._offset = len(bom)  # offsets count from the first byte of input
        return bom + self._through(rest)

    # -- after the end

    def body_reopener(self) -> bytes | None:
        """After ``close()``: markup that closes what the document left open, so that an
        element appended after its last byte (the no-JavaScript banner) lands in ``<body>``.

        ``</head>`` moves a document that ended in its head on (a stray one is ignored
        anywhere else); open ``<template>``, ``<noscript>``, ``<select>`` and SVG/MathML
        are closed, as the end of the file would close them. None when nothing can be
        appended without changing the document: it ended inside a comment, a text-only
        element (an unterminated ``<script>`` must not start running) or PLAINTEXT.
        """
        if self._reopener_pending:
            # The end went out ahead of the scan (full consent): scan it now, for the state.
            self._reopener_pending = False
            assert self._scanner is not None
            self._scanner.catch_up()
            self._snapshot_end()
        return self._reopener

    def _snapshot_end(self) -> None:
        """Before the scanner's own end of file: what the document leaves open."""
        from proxy.html.rules import DATA

        scanner = self._scanner
        if scanner is None:
            self._reopener = b"</head>"
            return
        if scanner.ahead_of_scan:
            self._reopener_pending = True   # worked out if asked (body_reopener)
            return
        scanner.settle()
        if scanner._mode != DATA or scanner._strip_name is not None or _unfinished(scanner._buf[scanner._pos:]):
            self._reopener = None   # inside a comment, text-only element or an unfinished tag
            return
        parts: list[str] = []
        for name, _ in reversed(scanner._foreign):
            if name in ("svg", "math"):
                parts.append(f"</{name}>")
        parts += ["</noscript>"] * (1 if scanner._noscript else 0)
        parts += ["</select>"] if scanner._select else []
        parts += ["</template>"] * scanner._template
        parts.append("</head>")
        self._reopener = "".join(parts).encode("ascii")

    # -- streaming

    def _through(self, data: bytes, final: bool = False) -> bytes:
        assert self._scanner is not None
        if self._decoder is None:
            out = self._scanner.feed(data)
            if final:
                self._snapshot_end()
            return out + self._scanner.close() if final else out
        assert self._encoder is not None and self._output_decoder is not None
        leftover = b""
        try:
            text = self._decoder.decode(data, final=final)
        except UnicodeDecodeError:  # an odd trailing byte: pass it through as it was
            text = self._decoder.decode(b"", final=False)
            leftover = self._decoder.getstate()[0]
        if self.encoding == "iso-2022-jp" and self._designation is None:
            seen = self._jis_tail + data
            found = seen.find(b"\x1b$")
            while found >= 0 and found + 2 < len(seen) and seen[found + 2] not in b"@B":
                found = seen.find(b"\x1b$", found + 1)
            if found >= 0 and found + 2 < len(seen):
                self._designation = seen[found + 2:found + 3]
            self._jis_tail = seen[-2:]
        scanned = self._scanner.feed(text.encode("utf-8", errors="surrogatepass"))
        if final:
            self._snapshot_end()
            scanned += self._scanner.close()
        out = self._encoder.encode(self._output_decoder.decode(scanned, final=final), final=final)
        if self._designation == b"@":
            # Both designate JIS X 0208 to a browser; the encoder writes ESC $ B. A document
            # that spells it ESC $ @ gets its own bytes back (the output lags the input, so
            # its first designation is always known before the first one goes out).
            out = out.replace(b"\x1b$B", b"\x1b$@")
        return out + leftover

    def feed(self, data: bytes) -> bytes:
        if self._closed:
            raise ValueError("feed() after close()")
        if self._scanner is None:
            self._head += data
            started = self._start(final=False)
            return started if started is not None else b""
        return self._through(data)

    def close(self) -> bytes:
        if self._closed:
            return b""
        self._closed = True
        out = b""
        if self._scanner is None:
            started = self._start(final=True)
            out = started or b""
        return out + self._through(b"", final=True)
