"""URLs parsed and resolved exactly as browsers do (the WHATWG URL Standard), through ada-url.

``resolve(url, base)`` is what the engine hands the HTML rewriter: the absolute,
serialised URL a browser would fetch for ``url`` written in a document whose base URL is
``base``: tabs and newlines removed, backslashes as slashes in special schemes, hosts
IDNA-mapped (full-width ``ｇｏｏｇｌｅ.com`` is ``google.com``) and percent-decoded,
IPv4 numbers canonicalised, protocol-relative ``//host`` taking the base's scheme. A URL
that does not parse is returned as written (a browser fetches nothing for it). Without a
base, a relative URL stays relative and ``//host/x`` becomes ``https://host/x``.

ada-url (a C++ parser that passes the web-platform-tests URL suite) lives outside
``proxy.html`` because that package is standard-library only; it reaches the rewriter as
a plain callable. Answers are remembered (pages repeat a few URL shapes), bounded by
clearing and only for short URLs.
"""

from __future__ import annotations

import ada_url

__all__ = ["resolve"]

_MEMO: dict[tuple[str, str | None], str] = {}
_MEMO_MAX = 4096
_MEMO_LENGTH = 512
# A stand-in base for documents without one: relative URLs resolve against it and are
# then given back as written; only scheme-relative and absolute ones leave it.
_NO_BASE = "https://consentry.invalid/"


def resolve(url: str, base: str | None) -> str:
    """The absolute URL a browser fetches for ``url`` against ``base`` (see the module text)."""
    if len(url) > _MEMO_LENGTH:
        return _resolve(url, base)
    key = (url, base)
    found = _MEMO.get(key)
    if found is None:
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        found = _MEMO[key] = _resolve(url, base)
    return found


def _resolve(url: str, base: str | None) -> str:
    try:
        if base:
            return ada_url.join_url(base, url)
    except ValueError:
        return url.strip("\t\n\f\r ")
    try:
        return str(ada_url.URL(url).href)  # absolute on its own
    except ValueError:
        pass
    try:
        joined = ada_url.join_url(_NO_BASE, url)
    except ValueError:
        return url.strip("\t\n\f\r ")
    if joined.startswith((_NO_BASE, "https://consentry.invalid:")):
        return url.strip("\t\n\f\r ")
    return joined
