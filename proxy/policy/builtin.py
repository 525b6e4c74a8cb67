"""The built-in categories and banner texts as the policy file names them.

Every site starts from these: a site's own ``categories`` and ``banner.texts``
tables are merged over them key by key, so a site changes one label without
repeating the rest. The words themselves live in ``proxy.texts`` (one home, shared
with the banner); this module only shapes them as the policy's tables. The four
categories are the contract in DESIGN.md (``necessary`` is always granted and
cannot be refused). Must not import pydantic, aiohttp, mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

from proxy.defaults import CATEGORIES, LANGUAGES, NECESSARY
from proxy.texts import CATEGORY_TEXTS, POLICY_TEXT_KEYS, TEXT_ALIASES, TEXTS

__all__ = [
    "BUILTIN_CATEGORIES",
    "BUILTIN_LANGUAGES",
    "BANNER_TEXTS",
    "NECESSARY",
]

BUILTIN_LANGUAGES: tuple[str, ...] = LANGUAGES

# name -> {"label": {lang: text}, "description": {lang: text}}
BUILTIN_CATEGORIES: dict[str, dict[str, dict[str, str]]] = {
    name: {
        "label": {lang: CATEGORY_TEXTS[lang][name][0] for lang in LANGUAGES},
        "description": {lang: CATEGORY_TEXTS[lang][name][1] for lang in LANGUAGES},
    }
    for name in CATEGORIES
}

# lang -> text key -> text, by the policy file's key names. The keys are the contract
# with the banner: a site's banner.texts may override any of them, and only them.
BANNER_TEXTS: dict[str, dict[str, str]] = {
    lang: {key: TEXTS[lang][TEXT_ALIASES.get(key, key)] for key in POLICY_TEXT_KEYS} for lang in LANGUAGES
}
