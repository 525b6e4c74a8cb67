"""Banner texts for one site and language: the built-in texts (``proxy.texts``) with the
site's ``banner.texts`` overrides on top, and the choice of language.

Every visible string of the banner, the runtime and the no-JS preferences page comes
through here, so that a site can re-word anything per language without touching
JavaScript. Standard library only: this module must not import aiohttp, mitmproxy,
jwt or pydantic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from proxy.defaults import DEFAULT_LANGUAGE, LANGUAGES
from proxy.texts import CATEGORY_TEXTS, TEXT_ALIASES, TEXTS

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import Banner, SitePolicy


__all__ = [
    "CATEGORY_TEXTS", "DEFAULT_LANGUAGE", "LANGUAGES", "TEXTS", "TEXT_ALIASES", "category_text", "offered_languages",
    "parse_accept_language", "pick_language", "sniff_html_lang", "texts_for",
]


def _primary_subtag(tag: str) -> str:
    return tag.strip().split("-")[0].split("_")[0].lower()


def offered_languages(banner: Banner) -> tuple[str, ...]:
    """Languages the site offers: its ``banner.languages`` that we have texts for, or all of ours."""
    known = _offered.get(id(banner))
    if known is not None and known[0] is banner:   # asked on every page view; a policy does not change
        return known[1]
    wanted = banner.languages or LANGUAGES
    overrides = banner.texts
    offered = tuple(lang for lang in (_primary_subtag(w) for w in wanted) if lang in TEXTS or lang in overrides)
    offered = offered or LANGUAGES
    if len(_offered) >= 256:
        _offered.clear()
    _offered[id(banner)] = (banner, offered)
    return offered


_offered: dict[int, tuple[Banner, tuple[str, ...]]] = {}


def default_language(banner: Banner) -> str:
    lang = _primary_subtag(banner.default_language)
    return lang if lang in TEXTS or lang in banner.texts else DEFAULT_LANGUAGE


def parse_accept_language(header: str | None) -> list[str]:
    """Primary language subtags from an Accept-Language header, best first (q=0 dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        piece, _, params = part.strip().partition(";")
        if not piece or piece == "*":
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            # Sort by quality, then by position, as a browser means it.
            weighted.append((-quality, index, _primary_subtag(piece)))
    return [lang for _, _, lang in sorted(weighted)]


_HTML_LANG = re.compile(rb"<html\b[^>]*?\slang\s*=\s*[\"']?([A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*)", re.IGNORECASE)


def sniff_html_lang(data: bytes, limit: int = 4096) -> str | None:
    """The ``lang`` of the ``<html>`` start tag in the first bytes of a page, if it is there.

    For the server: the head snippet is built before the page streams through, so it
    can look at the first chunk (the ``<html>`` tag comes before ``<head>``) and pass the
    result as ``pick_language(..., html_lang=...)``.
    """
    match = _HTML_LANG.search(data[:limit])
    return match.group(1).decode("ascii") if match else None


def pick_language(site: SitePolicy, *, html_lang: str | None, accept_language: str | None) -> str:
    """The page's ``<html lang>`` if offered, else the best Accept-Language match, else the site default."""
    banner = site.banner
    offered = offered_languages(banner)
    if html_lang and _primary_subtag(html_lang) in offered:
        return _primary_subtag(html_lang)
    for lang in parse_accept_language(accept_language):
        if lang in offered:
            return lang
    fallback = default_language(banner)
    return fallback if fallback in offered else offered[0]


def texts_for(site: SitePolicy, lang: str) -> dict[str, str]:
    """Built-in texts for ``lang`` (English for missing keys) with the site's overrides on top."""
    merged = dict(TEXTS[DEFAULT_LANGUAGE])
    merged.update(TEXTS.get(lang, {}))
    for key, value in site.banner.texts.get(lang, {}).items():
        merged[TEXT_ALIASES.get(key, key)] = value
    return merged


def category_text(site: SitePolicy, name: str, lang: str) -> tuple[str, str]:
    """(label, description) of a category: the site's policy first, then ours, then the bare name."""
    builtin = CATEGORY_TEXTS.get(lang, {}).get(name) or CATEGORY_TEXTS[DEFAULT_LANGUAGE].get(name) or (name.capitalize(), "")
    category = site.categories.get(name)
    label_map: Mapping[str, str] = category.label if category is not None else {}
    description_map: Mapping[str, str] = category.description if category is not None else {}
    label = label_map.get(lang) or (builtin[0] if name in CATEGORY_TEXTS[DEFAULT_LANGUAGE] else None) \
        or label_map.get(DEFAULT_LANGUAGE) or builtin[0]
    description = description_map.get(lang) or (builtin[1] if name in CATEGORY_TEXTS[DEFAULT_LANGUAGE] else None) \
        or description_map.get(DEFAULT_LANGUAGE) or builtin[1]
    return label, description
