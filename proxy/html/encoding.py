"""Choose the document encoding the way a browser would, without decoding the document.

Order: the caller's (HTTP ``charset``), a byte-order mark, a ``<meta charset>`` or
``<meta http-equiv=content-type>`` in the first 1024 bytes, else windows-1252. The
scanner works on bytes, which is safe for every ASCII-compatible charset (Shift_JIS,
Big5, GBK trail bytes are never ``<``, ``>`` or quotes); UTF-16 is the exception and is
transcoded by the rewriter, and so is ISO-2022-JP (a stateful encoding whose two-byte
characters use the ASCII range). Labels are mapped as WHATWG does (``latin1`` and ``ascii``
mean windows-1252; a ``<meta>`` saying UTF-16 means UTF-8). Standard library only; must
not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Buffer
from itertools import groupby

PRESCAN_BYTES = 1024
DEFAULT = "windows-1252"

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# WHATWG folds these labels into windows-1252; Python would otherwise decode 0x80-0x9F
# as C1 controls.
_ALIASES = {
    "latin1": DEFAULT, "latin-1": DEFAULT, "iso-8859-1": DEFAULT, "iso8859-1": DEFAULT,
    "iso_8859-1": DEFAULT, "l1": DEFAULT, "ascii": DEFAULT, "us-ascii": DEFAULT,
    "x-user-defined": DEFAULT, "cp819": DEFAULT, "ibm819": DEFAULT,
    "iso-8859-9": "windows-1254", "latin5": "windows-1254", "iso-8859-11": "cp874",
    "tis-620": "cp874", "x-sjis": "shift_jis", "x-gbk": "gbk", "gb2312": "gbk",
    "ks_c_5601-1987": "euc-kr", "unicode-1-1-utf-8": "utf-8", "utf8": "utf-8",
}

_META = re.compile(rb"<meta[\t\n\f\r /]", re.I)
_CHARSET_IN_CONTENT = re.compile(r"""charset[\t\n\f\r ]*=[\t\n\f\r ]*["']?([^"';\t\n\f\r ]+)""", re.I)


def normalise(label: str | None) -> str | None:
    """A canonical name for a charset label, or None when Python has no such codec."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name.startswith("cp125") and name[5:].isdigit():
        return "windows-125" + name[5:]
    if name in ("latin-1", "iso8859-1"):
        return DEFAULT
    # WHATWG-style spelling ("euc-jp", "iso-8859-2", "iso-2022-jp"), which Python accepts as well.
    return name.replace("_", "-").replace("iso8859-", "iso-8859-").replace("iso2022-", "iso-2022-")


def is_utf16(name: str) -> bool:
    return name.startswith(("utf-16", "utf-32"))


# Encodings whose bytes for "<", ">", quotes or "=" can be part of other characters (JIS
# X 0208 pairs inside ISO-2022-JP escapes use 0x21-0x7E for both bytes): the document is
# decoded, scanned as UTF-8 and encoded back, as for UTF-16.
_STATEFUL = frozenset({"iso-2022-jp"})


def needs_transcoding(name: str) -> bool:
    """True when the document cannot be scanned as bytes in its own encoding."""
    return is_utf16(name) or name in _STATEFUL


def sniff_bom(data: bytes) -> tuple[str, int] | None:
    """(encoding, BOM length) when ``data`` starts with a byte-order mark."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    return None


def could_be_bom_prefix(data: bytes) -> bool:
    """True while ``data`` is too short to rule a BOM in or out."""
    return len(data) < 3 and any(bom.startswith(data) for bom, _ in _BOMS)


def prescan(data: bytes) -> str | None:
    """The charset declared by a ``<meta>`` within ``data`` (the first 1024 bytes)."""
    from proxy.html.tags import parse_attributes, TAG  # local: tags imports nothing from here

    position = 0
    while True:
        match = _META.search(data, position)
        if match is None:
            return None
        # Skip metas inside comments: the declaration must be live markup.
        comment_start = data.rfind(b"<!--", 0, match.start())
        if comment_start >= 0 and data.find(b"-->", comment_start + 2, match.start()) < 0:
            end = data.find(b"-->", match.start())
            if end < 0:
                return None
            position = end + 3
            continue
        tag = TAG.match(data, match.start())
        if tag is None:
            return None
        position = tag.end()
        attrs: dict[str, str] = {}
        for attr in parse_attributes(data, tag.start(3), tag.end()):
            attrs.setdefault(attr.name, data[attr.value_start:attr.value_end].decode("latin-1"))
        label = attrs.get("charset")
        if label is None and attrs.get("http-equiv", "").strip().lower() == "content-type":
            found = _CHARSET_IN_CONTENT.search(attrs.get("content", ""))
            label = found.group(1) if found else None
        name = normalise(label)
        if name is not None:
            return "utf-8" if is_utf16(name) else name


# ISO-2022-JP as browsers read it (WHATWG Encoding, "ISO-2022-JP decoder"): Python's codec
# knows ASCII, JIS X 0201 Roman and JIS X 0208, but not the Katakana state (ESC ( I, bytes
# 0x21-0x5F are half-width katakana U+FF61-U+FF9F). Without it the escape became U+FFFD and
# the kana bytes ASCII: text changed, and markup appeared where a browser sees none.
_KATAKANA_ESCAPE = b"\x1b(I"
_OTHER_ESCAPES = (b"\x1b(B", b"\x1b(J", b"\x1b$@", b"\x1b$B")


def _jis0208_extension(error: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: a JIS X 0208 pair Python's table lacks but WHATWG's
    index-jis0208 has (NEC row 13: circled digits, Roman numerals, units; the IBM
    extension rows 89-92), read through the same character in Windows-31J; anything
    else is U+FFFD, as the "replace" handler gives."""
    assert isinstance(error, UnicodeDecodeError)
    pair = error.object[error.start:error.end]
    if len(pair) == 2 and 0x21 <= pair[0] <= 0x7E and 0x21 <= pair[1] <= 0x7E:
        lead, trail = pair
        if lead % 2:
            second = trail + (0x1F if trail <= 0x5F else 0x20)
        else:
            second = trail + 0x7E
        first = (lead + 1) // 2 + 0x70
        first += 0x40 if first >= 0xA0 else 0
        try:
            char = bytes((first, second)).decode("cp932")
        except UnicodeDecodeError:
            char = "\ufffd"
        if len(char) == 1 and not "\ue000" <= char <= "\uf8ff":   # no private-use stand-ins
            return char, error.end
    return "\ufffd", error.end


_JIS_ERRORS = "consentry-jis0208"
codecs.register_error(_JIS_ERRORS, _jis0208_extension)


class ISO2022JPDecoder(codecs.IncrementalDecoder):
    """Python's ISO-2022-JP decoder with the Katakana state browsers have, and the JIS X
    0208 extension rows of WHATWG's index (``errors`` other than "strict" are read as
    "replace")."""

    def __init__(self, errors: str = "strict") -> None:
        super().__init__(errors)
        self._inner = codecs.getincrementaldecoder("iso2022_jp")(errors if errors == "strict" else _JIS_ERRORS)
        self._katakana = False
        self._held = b""   # the start of an escape split between feeds

    def reset(self) -> None:
        self._inner.reset()
        self._katakana = False
        self._held = b""

    def decode(self, input: Buffer, final: bool = False) -> str:  # noqa: A002 - codecs' name
        data = self._held + bytes(input)
        self._held = b""
        out: list[str] = []
        position = 0
        while position < len(data):
            if self._katakana:
                escape = data.find(b"\x1b", position)
                end = len(data) if escape < 0 else escape
                out.append("".join(chr(0xFF61 + byte - 0x21) if 0x21 <= byte <= 0x5F else "\ufffd"
                                   for byte in data[position:end]))
                if escape < 0:
                    break
                if len(data) - escape < 3 and not final:
                    self._held = data[escape:]
                    break
                sequence = data[escape:escape + 3]
                if sequence == _KATAKANA_ESCAPE:
                    position = escape + 3
                elif sequence in _OTHER_ESCAPES:
                    self._katakana = False     # the inner decoder (in ASCII) reads the escape
                    position = escape
                else:
                    out.append("\ufffd")       # not an escape: an error, then katakana again
                    position = escape + 1
                continue
            start = data.find(_KATAKANA_ESCAPE, position)
            if start < 0:
                chunk = data[position:]
                if not final:
                    # An ESC or ESC ( at the end may begin ESC ( I: wait for the next bytes.
                    for size in (2, 1):
                        if chunk.endswith(_KATAKANA_ESCAPE[:size]):
                            self._held, chunk = chunk[-size:], chunk[:-size]
                            break
                out.append(self._inner.decode(chunk, final=final))
                break
            out.append(self._inner.decode(data[position:start]))
            if self._inner.getstate()[0]:
                out.append("\ufffd")       # a two-byte character cut by the escape
            self._inner.reset()
            self._katakana = True
            position = start + 3
        if final and self._held:
            out.append("\ufffd")
            self._held = b""
        return "".join(out)


class ISO2022JPEncoder(codecs.IncrementalEncoder):
    """Python's ISO-2022-JP encoder, writing half-width katakana back as ESC ( I runs and
    the JIS X 0208 extension rows the decoder reads (NEC, IBM) as their own pairs."""

    def __init__(self, errors: str = "strict") -> None:
        super().__init__(errors)
        self._inner = codecs.getincrementalencoder("iso2022_jp")(errors)
        self._katakana = False

    def reset(self) -> None:
        self._inner.reset()
        self._katakana = False

    def encode(self, input: str, final: bool = False) -> bytes:  # noqa: A002 - codecs' name
        out: list[bytes] = []
        for run in _KANA_RUNS.findall(input):
            if "\uff61" <= run[0] <= "\uff9f":
                if not self._katakana:
                    # Straight into the Katakana state: two escapes in a row are an error
                    # to a browser, so the inner encoder is reset, not asked to return to ASCII.
                    self._inner.reset()
                    out.append(_KATAKANA_ESCAPE)
                    self._katakana = True
                out.append(bytes(ord(char) - 0xFF61 + 0x21 for char in run))
                continue
            for piece, pairs in _jis_pieces(run):
                if pairs is not None:
                    self._katakana = False
                    if self._inner.getstate() != _JIS_STATE:
                        out.append(b"\x1b$B")
                    out.append(pairs)
                    self._inner.setstate(_JIS_STATE)   # the inner encoder goes on from JIS X 0208
                    continue
                encoded = self._inner.encode(piece)
                if self._katakana:
                    self._katakana = False
                    if not encoded.startswith(b"\x1b"):
                        out.append(b"\x1b(B")   # ASCII follows; JIS X 0208 brings its own escape
                out.append(encoded)
        if final:
            if self._katakana:
                out.append(b"\x1b(B")
                self._katakana = False
            out.append(self._inner.encode("", final=True))
        return b"".join(out)


def _inner_state_after(text: str) -> int:
    encoder = codecs.getincrementalencoder("iso2022_jp")("strict")
    encoder.encode(text)
    state = encoder.getstate()
    assert isinstance(state, int)
    return state


_JIS_STATE = _inner_state_after("\u4e9c")   # inside JIS X 0208 (after a kanji)
_EXTENSION_PAIRS: dict[str, bytes] = {}


def _extension_pairs() -> dict[str, bytes]:
    """Characters of the extension rows, to the pair the decoder reads them from (built once)."""
    if not _EXTENSION_PAIRS:
        for lead in range(0x21, 0x7F):
            for trail in range(0x21, 0x7F):
                pair = bytes((lead, trail))
                try:
                    (b"\x1b$B" + pair).decode("iso2022_jp")
                    continue
                except UnicodeDecodeError:
                    pass
                char = (b"\x1b$B" + pair).decode("iso2022_jp", _JIS_ERRORS)
                if char != "\ufffd":
                    _EXTENSION_PAIRS.setdefault(char, pair)
    return _EXTENSION_PAIRS


def _jis_pieces(run: str) -> list[tuple[str, bytes | None]]:
    """``run`` as pieces for Python's encoder (None) or written as extension pairs."""
    try:
        run.encode("iso2022_jp")
        return [(run, None)]
    except UnicodeEncodeError:
        pass
    table = _extension_pairs()
    pieces: list[tuple[str, bytes | None]] = []
    for is_extension, chars in groupby(run, key=table.__contains__):
        text = "".join(chars)
        pieces.append((text, b"".join(table[char] for char in text) if is_extension else None))
    return pieces


_KANA_RUNS = re.compile("[\uff61-\uff9f]+|[^\uff61-\uff9f]+")
