"""The visitor's side of Consentry: banner, runtime, no-JS form and preferences page.

The server (``proxy.server``) calls these to inject the banner into pages and to serve
``/_consent/``: ``head_snippet`` (after ``<head>``), ``body_snippet`` (after ``<body>``, the
``<noscript>`` form), ``asset`` (consent.js, consent.css), ``render_preferences_page``
(GET ``/_consent/``) and ``pick_language``. Everything visible is text from
``proxy.web.texts`` with the site's overrides. Standard library only: this package must
not import aiohttp, mitmproxy, jwt or pydantic (policy, consent and catalogue objects are
read by their documented attribute names).
"""

from proxy.web.assets import asset, asset_reply
from proxy.web.model import banner_model
from proxy.web.preferences import render_preferences_page
from proxy.web.snippet import (
    body_snippet,
    cached_head_snippet,
    fill_snippet,
    google_consent,
    head_snippet,
    head_snippet_template,
    json_for_script,
    safe_return_to,
    snippet_stamps,
)
from proxy.web.texts import LANGUAGES, pick_language, sniff_html_lang, texts_for

__all__ = [
    "LANGUAGES",
    "asset",
    "asset_reply",
    "banner_model",
    "body_snippet",
    "cached_head_snippet",
    "fill_snippet",
    "google_consent",
    "head_snippet",
    "head_snippet_template",
    "json_for_script",
    "pick_language",
    "render_preferences_page",
    "safe_return_to",
    "sniff_html_lang",
    "snippet_stamps",
    "texts_for",
]
