"""URL helpers for the scanner: resolution against a base, ``srcset`` and meta refresh.

Resolution follows what a browser would fetch: the first ``<base href>`` wins, else the
caller's document URL; protocol-relative ``//host/x`` takes the base's scheme, or
``https:`` when there is no base. A URL that cannot be resolved is reported as written.
Standard library only; must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

# How a caller resolves a URL against a base (None: no base): the product passes a
# WHATWG-conformant one (proxy.urls); this package's own, below, is the stdlib fallback.
type URLResolver = Callable[[str, str | None], str]

_STRIP = "\t\n\f\r "
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_REFRESH = re.compile(
    r"""^[\t\n\f\r ]*[0-9.]*[\t\n\f\r ]*[;,]?[\t\n\f\r ]*(?:url[\t\n\f\r ]*=[\t\n\f\r ]*)?(.*)$""",
    re.I | re.S,
)


# resolve() is pure and pages repeat the same few URL shapes (every thumbnail under one
# base): remembering answers saves the urljoin, which dominated dense pages. Bounded by
# clearing, so a page of unique URLs costs one dict insert each and no growing memory;
# long URLs (data: images) are never kept, so the memo stays within a few MB.
_RESOLVED: dict[tuple[str, str | None], str] = {}
_RESOLVED_MAX = 2048
_REMEMBERED_LENGTH = 512


# "/path/file.ext" with nothing urljoin would rewrite: no "//" authority, no dot segment
# ("/." is excluded by the caller), no query, fragment or params, no space, control or
# backslash. Against an http(s) base, urljoin returns the base's origin followed by it.
_PLAIN_PATH = re.compile(r"/(?!/)[^?#;\x00-\x20\\]*\Z")
_ORIGINS: dict[str, str | None] = {}


def _origin(base: str) -> str | None:
    """``scheme://netloc`` exactly as urljoin rebuilds it, for http(s) bases with a host."""
    try:
        return _ORIGINS[base]
    except KeyError:
        pass
    try:
        parts = urlsplit(base)
    except ValueError:
        origin = None
    else:
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None
    if len(_ORIGINS) >= 64:
        _ORIGINS.clear()
    _ORIGINS[base] = origin
    return origin


def resolve(url: str, base: str | None) -> str:
    """Absolute form of ``url`` against ``base`` (or as written when impossible)."""
    if len(url) > _REMEMBERED_LENGTH:
        return _resolve(url, base)
    key = (url, base)
    found = _RESOLVED.get(key)
    if found is None:
        if len(_RESOLVED) >= _RESOLVED_MAX:
            _RESOLVED.clear()
        found = _RESOLVED[key] = _resolve(url, base)
    return found


def _resolve(url: str, base: str | None) -> str:
    url = url.strip(_STRIP)
    if "\t" in url or "\n" in url or "\r" in url:
        url = _TAB_OR_NEWLINE.sub("", url)
    if not url:
        return url
    if "/." not in url and _ABSOLUTE.match(url) is not None:
        return url  # already absolute, no dot segments: nothing for a base to change
    if base and "/." not in url and _PLAIN_PATH.match(url) is not None:
        origin = _origin(base)
        if origin is not None:
            return origin + url  # what urljoin returns for these, without its parsing
    try:
        if base:
            return urljoin(base, url)
        if url.startswith("//"):
            return "https:" + url
    except ValueError:
        pass
    return url


def usable_base(url: str) -> bool:
    """A base URL must be absolute with a scheme and host to resolve against."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.scheme) and (bool(parts.netloc) or parts.scheme in ("file", "data"))


def srcset_candidates(value: str) -> list[tuple[str, str]]:
    """``(url, candidate text)`` for every image candidate in a ``srcset`` (WHATWG splitting).

    The candidate text is the URL with its descriptors, as written, so that a list
    without some candidates can be written back (``", ".join`` of the texts kept).
    """
    found: list[tuple[str, str]] = []
    position, length = 0, len(value)
    while position < length:
        while position < length and (value[position] in _STRIP or value[position] == ","):
            position += 1
        if position >= length:
            break
        start = position
        while position < length and value[position] not in _STRIP:
            position += 1
        url = value[start:position]
        if url.endswith(","):
            url = url.rstrip(",")
            end = start + len(url)
        else:
            # Skip descriptors up to the next comma that is not inside parentheses.
            depth = 0
            while position < length:
                char = value[position]
                if char == "(":
                    depth += 1
                elif char == ")" and depth:
                    depth -= 1
                elif char == "," and not depth:
                    break
                position += 1
            end = position
        if url:
            found.append((url, value[start:end].strip(_STRIP)))
    return found


def srcset_urls(value: str) -> list[str]:
    """The URL of every image candidate in a ``srcset``."""
    return [url for url, _ in srcset_candidates(value)]


def data_url(url: str) -> tuple[str, bytes] | None:
    """``(mime type, payload)`` of a ``data:`` URL as the fetch standard reads it, else None.

    The MIME type is lower-cased without parameters ("text/plain" when absent); the
    payload is percent-decoded, then base64-decoded when the header ends in ``;base64``
    (ASCII whitespace ignored, as browsers do). A payload that is not valid base64 gives None.
    """
    if url[:5].lower() != "data:":
        return None
    header, comma, body = url[5:].partition(",")
    if not comma:
        return None
    header = header.strip(_STRIP)
    encoded = header.lower().rstrip(" ").endswith(";base64") or header.lower().replace(" ", "").endswith(";base64")
    mime = header.split(";", 1)[0].strip(_STRIP).lower() or "text/plain"
    payload = unquote_to_bytes(body)
    if encoded:
        try:
            payload = base64.b64decode(re.sub(rb"[\t\n\f\r ]", b"", payload) + b"==", validate=False)
        except ValueError:
            return None
    return mime, payload


def refresh_url(content: str) -> str | None:
    """The target of ``<meta http-equiv=refresh content="5; url=...">``, if any."""
    match = _REFRESH.match(content)
    if match is None:
        return None
    target = match.group(1).strip(_STRIP)
    if target[:1] in ("'", '"'):
        quote = target[0]
        target = target[1:]
        end = target.find(quote)
        if end >= 0:
            target = target[:end]
    return target or None
