"""The server's view of its sibling packages: engine, consent, web UI and CSP.

Every call the server makes into another package goes through one function here, so
the seam is in one place and the server keeps working (with a documented, safe
fallback) while a sibling is missing: no engine means no rewriting is possible, so
HTML is refused rather than leaked; no UI package means no banner is injected; no CSP
module means the upstream's CSP is left as it is. Must not import aiohttp.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

log = logging.getLogger(__name__)

try:
    from proxy.engine import Engine, Report
except ImportError as exc:   # pragma: no cover - only while the engine is missing
    Engine = None  # type: ignore[assignment,misc]
    Report = None  # type: ignore[assignment,misc]
    log.warning("proxy.engine unavailable (%s): HTML cannot be rewritten", exc)

try:
    import proxy.web as _web
    import proxy.web.texts as _web_texts
    import proxy.web.variants as _web_variants
except ImportError:
    _web = None  # type: ignore[assignment]
    _web_texts = None  # type: ignore[assignment]
    _web_variants = None  # type: ignore[assignment]

try:
    import proxy.csp as _csp
except ImportError:
    _csp = None  # type: ignore[assignment]


class _IdentityRewriter:
    def __init__(self, encoding: str | None) -> None:
        self.encoding = encoding or "utf-8"

    def feed(self, data: bytes) -> bytes:
        return data

    def close(self) -> bytes:
        return b""


class _IdentityEngine:
    """Stand-in while ``proxy.engine`` cannot be imported (a broken install).

    Header-level enforcement is off and ``enforces`` is False: the server then refuses
    HTML with a 502 instead of passing trackers through (fail closed), while every other
    response still flows.
    """

    catalogue = None
    enforces = False

    def __init__(self, site: Any) -> None:
        self.site = site

    def rewriter(self, state: Any, *, encoding: str | None = None, **_: Any) -> _IdentityRewriter:
        return _IdentityRewriter(encoding)

    def refused_cookie(self, name: str, state: Any) -> bool:
        return False

    def filter_link_header(self, value: str, state: Any, page_host: str | None = None) -> str | None:
        return value

    def etag_suffix(self, state: Any) -> str:
        return "0"

    def _from_vendor(self, vendor: Any) -> Any:
        return vendor


def make_engine(site: Any, catalogue: Any = None) -> Any:
    if Engine is None:
        log.error("proxy.engine is missing: HTML responses are refused (502) until it is installed")
        return _IdentityEngine(site)
    return Engine(site, catalogue=catalogue)


def make_report() -> Any:
    return Report() if Report is not None else None


# Rendering the snippet costs milliseconds (the guard's vendor table), yet it depends only
# on the site, the consent state and the language; the nonce, which changes per
# response, is substituted into a cached rendering made with a placeholder.
_NONCE_PLACEHOLDER = "CONSENTRYNONCEPLACEHOLDER0000000"
# Values keep the site object itself: after a reload a new site may reuse an old id().
_SNIPPETS: OrderedDict[tuple[Any, ...], tuple[Any, bytes | None]] = OrderedDict()
_SNIPPET_CACHE_SIZE = 1024


def _state_key(state: Any) -> tuple[Any, ...]:
    vendors = getattr(state, "vendors", None) or {}
    return (
        getattr(state, "categories", None), tuple(sorted(vendors.items())), getattr(state, "consent_id", None),
        getattr(state, "expires_at", None), getattr(state, "policy_version", None), getattr(state, "source", None),
        getattr(state, "gpc", False), getattr(state, "decided", False),
    )


def head_snippet(site: Any, state: Any, *, lang: str, nonce: str | None, variant: Any = None) -> bytes | None:
    """What goes at the start of ``<head>``: the consent state and the banner assets.

    ``variant`` is the banner experiment variant drawn for this page view (or None).
    """
    func = getattr(_web, "head_snippet", None)
    if func is None:
        return None
    key = (id(site), _state_key(state), lang, nonce is not None, getattr(variant, "id", None))
    entry = _SNIPPETS.get(key)
    if entry is not None and entry[0] is site:
        cached = entry[1]
        _SNIPPETS.move_to_end(key)
    else:
        extra = {"variant": variant} if variant is not None else {}
        cached = func(site, state, lang=lang, nonce=_NONCE_PLACEHOLDER if nonce is not None else None, **extra)
        _SNIPPETS[key] = (site, cached)
        if len(_SNIPPETS) > _SNIPPET_CACHE_SIZE:
            _SNIPPETS.popitem(last=False)
    if cached is None or nonce is None:
        return cached
    return cached.replace(_NONCE_PLACEHOLDER.encode("ascii"), nonce.encode("ascii"))


def asset(name: str) -> tuple[bytes, str] | None:
    func = getattr(_web, "asset", None)
    if func is None:
        return None
    return func(name)


def preferences_page(site: Any, state: Any, *, lang: str, return_to: str, vendors: Any) -> str | None:
    func = getattr(_web, "render_preferences_page", None)
    if func is None:
        return None
    return func(site, state, lang=lang, return_to=return_to, vendors=vendors)


def csp_headers(site: Any, state: Any, *, upstream_csp: str | None, nonce: str) -> list[tuple[str, str]]:
    """Our consent CSP header for one HTML response (sent beside the upstream's own).

    Only ``report-uri``: once ``report-to`` is present Chromium ignores ``report-uri`` and
    batches reports through the Reporting API, which delivered none here in 75 s; with
    ``report-uri`` every browser posts each violation at once.
    """
    func = getattr(_csp, "build_csp", None)
    if func is None:
        return []
    built = func(site, state, upstream_csp=upstream_csp, nonce=nonce)
    return [built] if built is not None else []


def pick_language(site: Any, accept_language: str | None, *, html_lang: str | None = None) -> str:
    func = getattr(_web, "pick_language", None)
    if func is None:
        return "en"
    return func(site, html_lang=html_lang, accept_language=accept_language)


def sniff_html_lang(data: bytes) -> str | None:
    func = getattr(_web, "sniff_html_lang", None)
    return func(data) if func is not None else None


def body_snippet(site: Any, state: Any, *, lang: str | None, return_to: str, variant: Any = None) -> bytes | None:
    func = getattr(_web, "body_snippet", None)
    if func is None:
        return None
    extra = {"variant": variant} if variant is not None else {}
    return func(site, state, lang=lang, return_to=return_to, **extra)


def draw_variant(site: Any) -> Any:
    """The banner experiment variant for one page view (None when the site has none)."""
    func = getattr(_web_variants, "draw_variant", None)
    return func(site) if func is not None else None


def variant_by_id(site: Any, value: object) -> Any:
    """The site's variant with id ``value``; None for unknown ids (never an error)."""
    func = getattr(_web_variants, "variant_by_id", None)
    return func(site, value) if func is not None else None


def texts_digest(site: Any, lang: str, variant: Any = None) -> tuple[str, str] | None:
    """(digest, canonical JSON) of the banner texts shown in ``lang`` with ``variant``."""
    func = getattr(_web_variants, "texts_digest", None)
    return func(site, lang, variant) if func is not None else None


def offered_languages(site: Any) -> tuple[str, ...]:
    func = getattr(_web_texts, "offered_languages", None)
    return tuple(func(getattr(site, "banner", None))) if func is not None else ("en",)


def safe_return_to(value: str | None) -> str:
    """A same-origin path; anything else (other hosts, schemes, ``//``) becomes ``/``."""
    func = getattr(_web, "safe_return_to", None)
    if func is not None:
        return func(value)
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "/"
    return value
