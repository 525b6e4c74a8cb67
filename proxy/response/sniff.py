"""What a browser renders a response as when its type is missing or unknown (MIME Sniffing 7.1).

Only the question the proxy must answer is implemented exactly: would a browser treat
these first bytes as HTML (the 17 "scriptable" patterns: ``<!DOCTYPE HTML``, ``<HTML``,
``<SCRIPT``, ``<IFRAME``... ``<!--`` after optional whitespace, each followed by a
tag-terminating byte) or as XML (``<?xml``)? Anything else is not a document the proxy
changes (images, PDF, plain text, binary). ``SNIFF_LENGTH`` is the resource header size
the standard reads (1445 bytes); a caller holds back at most that much before deciding.
Standard library only.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["SNIFF_LENGTH", "Sniffed", "sniff"]

SNIFF_LENGTH = 1445
Sniffed = Literal["html", "xml"] | None

_WHITESPACE = b"\t\n\x0c\r "
_TAG_END = frozenset(b" >")
_HTML_PATTERNS = (
    b"<!DOCTYPE HTML", b"<HTML", b"<HEAD", b"<SCRIPT", b"<IFRAME", b"<H1", b"<DIV", b"<FONT",
    b"<TABLE", b"<A", b"<STYLE", b"<TITLE", b"<B", b"<BODY", b"<BR", b"<P", b"<!--",
)


def sniff(header: bytes) -> Sniffed:
    """"html", "xml" or None for the first bytes of a body whose type is unknown."""
    data = header[:SNIFF_LENGTH]
    start = 0
    while start < len(data) and data[start] in _WHITESPACE:
        start += 1
    rest = data[start:]
    upper = rest[:16].upper()
    for pattern in _HTML_PATTERNS:
        if upper.startswith(pattern) and len(rest) > len(pattern) and rest[len(pattern)] in _TAG_END:
            return "html"
    if rest.startswith(b"<?xml"):
        return "xml"
    # A UTF BOM makes it text/plain by the standard; browsers then render it as text.
    return None


def is_complete(header: bytes, at_end: bool) -> bool:
    """Whether ``header`` is enough to decide (the standard's 1445 bytes, or the whole body)."""
    return at_end or len(header) >= SNIFF_LENGTH
