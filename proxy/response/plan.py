"""For one upstream response: what a browser will make of it and what Consentry must change.

``plan_response(method, status, headers)`` reads only the status and the header fields
and answers, without I/O:

* ``document``: "html" (``text/html``, XHTML), "xml" (SVG and every other XML type: they
  render as documents and run the XHTML/SVG scripts in them), None (not a document), or
  ``sniff`` is True when the type is missing, empty, invalid or unknown (``unknown/unknown``,
  ``application/unknown``; ``*/*`` values are skipped): then the browser sniffs the first
  bytes, and so does the caller with ``proxy.response.sniff.sniff`` before deciding;
* the media type and charset as the browser extracts them (several ``Content-Type``
  fields, quoted commas, the last valid type wins);
* the content codings, split into those we can undo and those we cannot (an HTML body in
  an unknown coding is refused, never passed unread);
* ``fragment``: a 206 is a byte range of a representation; it is never rewritten on its
  own (offsets would be wrong and a tag may be cut). The caller asks the upstream for the
  whole representation instead, or passes the range only when nothing must change;
* ``no_transform``: ``Cache-Control: no-transform`` asks intermediaries not to change the
  body. For documents consent wins (a page with live trackers is the one thing Consentry
  exists to prevent); the caller logs that once per site. Other bodies are never changed.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from proxy.response.codings import SUPPORTED, parse_codings
from proxy.response.mime import MimeType, extract_mime_type

__all__ = ["Document", "ResponsePlan", "document_for", "plan_response"]

Document = Literal["html", "xml"]
_UNKNOWN = frozenset({"unknown/unknown", "application/unknown", "*/*"})
_HTML = frozenset({"text/html", "application/xhtml+xml"})
Headers = Iterable[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    has_body: bool
    document: Document | None
    sniff: bool
    mime: MimeType | None
    codings: tuple[str, ...]
    unsupported: tuple[str, ...]
    fragment: bool
    no_transform: bool

    @property
    def charset(self) -> str | None:
        return self.mime.charset if self.mime is not None else None

    @property
    def may_be_document(self) -> bool:
        """A body the browser may render as a document (decided now, or after sniffing)."""
        return self.has_body and (self.document is not None or self.sniff)


def document_for(mime: MimeType | None) -> tuple[Document | None, bool]:
    """(document kind, must sniff) for an extracted media type."""
    if mime is None or mime.essence in _UNKNOWN:
        return None, True
    if mime.essence in _HTML:
        return "html", False
    if mime.is_xml:
        return "xml", False
    return None, False


# Sites send a handful of Content-Type values; parsing one as the MIME Sniffing standard
# says costs tens of microseconds, so results are remembered. Bounded in entries and in
# value length, so an upstream that varies its header cannot grow the memo.
_MEDIA_TYPES: dict[tuple[str, ...], tuple[MimeType | None, Document | None, bool]] = {}
_MEDIA_TYPES_LIMIT = 512
_MEDIA_TYPE_MAX_CHARS = 256


def _media_type(content_types: list[str]) -> tuple[MimeType | None, Document | None, bool]:
    """(media type, document kind, must sniff) for the Content-Type field values, in order."""
    key = tuple(content_types)
    try:
        return _MEDIA_TYPES[key]
    except KeyError:
        pass
    mime = extract_mime_type(content_types) if content_types else None
    found = (mime, *document_for(mime))
    if len(_MEDIA_TYPES) < _MEDIA_TYPES_LIMIT and sum(map(len, key)) <= _MEDIA_TYPE_MAX_CHARS:
        _MEDIA_TYPES[key] = found
    return found


def plan_response(method: str, status: int, headers: Headers) -> ResponsePlan:
    content_types: list[str] = []
    encodings: list[str] = []
    cache_control: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower == "content-type":
            content_types.append(value)
        elif lower == "content-encoding":
            encodings.append(value)
        elif lower == "cache-control":
            cache_control.append(value)
    has_body = method.upper() != "HEAD" and status >= 200 and status not in (204, 304)
    mime, document, sniff = _media_type(content_types)
    codings = tuple(parse_codings(", ".join(encodings)) if encodings else ())
    no_transform = any(
        token.strip().lower() == "no-transform" for value in cache_control for token in value.split(",")
    )
    return ResponsePlan(
        has_body=has_body,
        document=document,
        sniff=sniff,
        mime=mime,
        codings=codings,
        unsupported=tuple(c for c in codings if c not in SUPPORTED),
        fragment=status == 206,
        no_transform=no_transform,
    )
