"""The markup the proxy inserts into every HTML page: head snippet and no-JS body snippet.

``head_snippet`` goes right after ``<head>``: the CSP engineer's guard script first, then
Google Consent Mode defaults, then the consent state as inert JSON, then the banner's
stylesheet and deferred runtime. ``body_snippet`` goes right after ``<body>`` and holds
the ``<noscript>`` consent form: a ``<form>`` is not allowed inside ``<noscript>`` in
``<head>`` (the parser would close the head there and pull the rest of the head into the
body), so the no-JS path needs its own insertion point. Both return ASCII bytes.
Standard library only: must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import html
import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, TYPE_CHECKING
from urllib.parse import quote

from proxy.csp import guard_tag
from proxy.defaults import GPC_REFUSED_CATEGORY
from proxy.web.model import banner_model, expires_text, gpc_blocks_marketing, granted_categories, visitor_model

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.catalogue import Vendor
    from proxy.policy import BannerVariant, SitePolicy
    from proxy.consent import ConsentState


log = logging.getLogger(__name__)

# Google Consent Mode v2 consent types and the Consentry category that grants each.
# security_storage is always granted: it is what "necessary" covers.
GOOGLE_CONSENT_TYPES: dict[str, str] = {
    "ad_storage": "marketing",
    "ad_user_data": "marketing",
    "ad_personalization": "marketing",
    "analytics_storage": "analytics",
    "functionality_storage": "preferences",
    "personalization_storage": "preferences",
    "security_storage": "necessary",
}


def json_for_script(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element and pure ASCII.

    ``<``, ``>`` and ``&`` become ``\\u003c`` ... so no ``</script>`` or ``<!--`` can end or
    alter the element; ensure_ascii already escapes U+2028/U+2029 (line terminators in
    older JavaScript parsers) and everything else outside ASCII.
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), sort_keys=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def google_consent(site: SitePolicy, state: ConsentState) -> dict[str, str]:
    """The Consent Mode v2 map for the server-side consent state."""
    granted = granted_categories(state)
    if gpc_blocks_marketing(site, state):
        granted.discard(GPC_REFUSED_CATEGORY)
    return {kind: "granted" if category in granted else "denied" for kind, category in GOOGLE_CONSENT_TYPES.items()}


def _nonce_attr(nonce: str | None) -> str:
    return f' nonce="{html.escape(nonce, quote=True)}"' if nonce else ""


def _guard_markup(site: SitePolicy, state: ConsentState, nonce: str | None, consent_path: str,
                  page_host: str | None = None) -> str:
    """The guard, which must run before any page script: the site's shared, cacheable
    guard file with this visitor's choices on its tag (or an inline stub when nothing
    can be refused)."""
    try:
        return guard_tag(site, state, consent_path=html.escape(consent_path), nonce_attr=_nonce_attr(nonce),
                         page_host=page_host)
    except Exception:  # a broken guard must not take the page down with it
        log.exception("proxy.csp.guard_tag failed; page served without the guard")
        return ""


def _google_consent_markup(site: SitePolicy, state: ConsentState, nonce: str | None) -> str:
    mode = site.google_consent_mode
    if mode == "off":
        return ""
    defaults: dict[str, Any] = dict(google_consent(site, state))
    # Gives the runtime time to send "update" before a tag fires with the defaults.
    defaults["wait_for_update"] = 500
    script = (
        "window.dataLayer=window.dataLayer||[];"
        "window.gtag=window.gtag||function(){dataLayer.push(arguments)};"
        f"gtag('consent','default',{json_for_script(defaults)});"
    )
    if mode == "advanced" and defaults["ad_storage"] == "denied":
        script += "gtag('set','ads_data_redaction',true);"
    return f"<script{_nonce_attr(nonce)}>{script}</script>"


def head_snippet(
    site: SitePolicy, state: ConsentState, *, lang: str | None, nonce: str | None, vendors: Iterable[Vendor] = (),
    variant: BannerVariant | None = None, page_host: str | None = None,
) -> bytes:
    """ASCII bytes for right after ``<head>``: guard, Consent Mode defaults, state JSON, assets.

    Only what is this visitor's goes into the page (the guard's tag with their choices,
    the Consent Mode defaults, the state JSON); the guard's vendor table, the banner's
    texts and the runtime are versioned files under the consent path that browsers
    cache (proxy.web.assets), so a page grows by about 1 KB, not 25 KB. ``page_host``, the
    host the visitor asked for, tells the guard what is first party (`proxy.csp.guard_tag`).
    """
    from proxy.web.assets import shipped_version, site_file_version
    from proxy.web.texts import pick_language

    lang = lang or pick_language(site, html_lang=None, accept_language=None)
    model = banner_model(site, state, lang=lang, vendors=vendors, variant=variant)
    base = html.escape(model["consent_path"])
    nonce_attr = _nonce_attr(nonce)
    parts = [
        _guard_markup(site, state, nonce, model["consent_path"], page_host),
        _google_consent_markup(site, state, nonce),
        f'<script type="application/json" id="consentry-state">{json_for_script(visitor_model(model))}</script>',
        f'<link rel="stylesheet" href="{base}/consent.css?v={shipped_version("consent.css")}"{nonce_attr}>',
        f'<script src="{base}/site.js?lang={html.escape(quote(lang))}&amp;v={site_file_version(site, lang)}" defer{nonce_attr}></script>',
        f'<script src="{base}/consent.js?v={shipped_version("consent.js")}" defer{nonce_attr}></script>',
    ]
    return "".join(parts).encode("ascii", "xmlcharrefreplace")


# Rendering the snippet costs milliseconds (the guard's vendor table), yet it depends only
# on the site, the visitor's choices and the language. Two values in it differ from
# response to response or from visitor to visitor: the CSP nonce and the consent's expiry
# date. The cached rendering (the template) holds a placeholder for each, and every
# response writes its own values in (``snippet_stamps``), so all visitors with the same
# choices share one rendering, and one replayed rewrite per page (proxy.html.replay).
_NONCE_PLACEHOLDER = "CONSENTRYNONCEPLACEHOLDER0000000"
# An expiry the template is rendered with; its date text is the placeholder (a visitor
# whose consent truly ends then gets the same text back).
_EXPIRES_PLACEHOLDER_AT = 253402300799.0
_EXPIRES_PLACEHOLDER = (expires_text(_EXPIRES_PLACEHOLDER_AT) or "").encode("ascii")
# Values keep the site object itself: after a reload a new site may reuse an old id().
_SNIPPETS: OrderedDict[tuple[object, ...], tuple[object, bytes]] = OrderedDict()
_SNIPPET_CACHE_SIZE = 1024


def _state_key(state: ConsentState) -> tuple[object, ...]:
    # What the snippet shows of the state; the expiry's date is a stamp, not part of it.
    return (
        state.categories, tuple(sorted(state.vendors.items())), state.expires_at is None,
        state.policy_version, state.source, state.gpc, state.decided,
    )


def head_snippet_template(
    site: SitePolicy, state: ConsentState, *, lang: str, nonce: bool, variant: BannerVariant | None = None,
    page_host: str | None = None,
) -> bytes:
    """`head_snippet` with placeholders for the nonce (when ``nonce``) and the expiry,
    rendered once per site, visitor choices, language, banner variant (``variant``: the
    one drawn for this page view, or None) and first-party scope of ``page_host`` (its
    registrable domain). ``fill_snippet`` with ``snippet_stamps`` makes the response's."""
    from dataclasses import replace

    from proxy.catalogue.urls import first_party_scope

    scope = first_party_scope(page_host) if page_host else None
    key = (id(site), _state_key(state), lang, nonce, variant.id if variant is not None else None, scope)
    entry = _SNIPPETS.get(key)
    if entry is not None and entry[0] is site:
        _SNIPPETS.move_to_end(key)
        return entry[1]
    shown = state if state.expires_at is None else replace(state, expires_at=_EXPIRES_PLACEHOLDER_AT, consent_id=None)
    template = head_snippet(site, shown, lang=lang, nonce=_NONCE_PLACEHOLDER if nonce else None, variant=variant,
                            page_host=page_host)
    _SNIPPETS[key] = (site, template)
    if len(_SNIPPETS) > _SNIPPET_CACHE_SIZE:
        _SNIPPETS.popitem(last=False)
    return template


def snippet_stamps(state: ConsentState, nonce: str | None) -> tuple[tuple[bytes, bytes], ...]:
    """(placeholder, this response's value) for each per-response value of the template:
    the nonce (when given) and the visitor's consent expiry (when the state has one)."""
    stamps = []
    if nonce is not None:
        stamps.append((_NONCE_PLACEHOLDER.encode("ascii"), nonce.encode("ascii")))
    if state.expires_at is not None:
        stamps.append((_EXPIRES_PLACEHOLDER, (expires_text(state.expires_at) or "").encode("ascii")))
    return tuple(stamps)


def fill_snippet(template: bytes, stamps: tuple[tuple[bytes, bytes], ...]) -> bytes:
    for placeholder, value in stamps:
        template = template.replace(placeholder, value)
    return template


def cached_head_snippet(
    site: SitePolicy, state: ConsentState, *, lang: str, nonce: str | None, variant: BannerVariant | None = None,
    page_host: str | None = None,
) -> bytes:
    """`head_snippet` for one response, from the shared template (`head_snippet_template`)."""
    template = head_snippet_template(site, state, lang=lang, nonce=nonce is not None, variant=variant,
                                     page_host=page_host)
    return fill_snippet(template, snippet_stamps(state, nonce))


def safe_return_to(value: str | None) -> str:
    """A same-origin path to return to after a form post; anything else becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "/"
    return value


def noscript_banner(site: SitePolicy, state: ConsentState, *, lang: str, return_to: str, variant: BannerVariant | None = None) -> str:
    """The first layer as a plain form (Accept all / Reject all / Choose), no JavaScript.

    With a banner variant, the form carries ``data-consentry-variant`` and posts the
    variant id and the language with the decision, like the scripted banner.
    """
    return _with_return_to(_noscript_banner(site, state, lang=lang, variant=variant), return_to)


# The page's own path is the only part of the body snippet that changes from page to page:
# the rest is rendered once per site, language, variant and decided-or-not, with these
# placeholders (control characters, which escaping leaves alone and no text contains).
_RETURN_TO_IN_URL = "\x01return-to-url\x01"
_RETURN_TO_IN_FORM = "\x01return-to-form\x01"


def _with_return_to(template: str, return_to: str) -> str:
    back = safe_return_to(return_to)
    return (template.replace(_RETURN_TO_IN_URL, html.escape(quote(back, safe="/")))
            .replace(_RETURN_TO_IN_FORM, html.escape(back)))


def _noscript_banner(site: SitePolicy, state: ConsentState | None, *, lang: str, variant: BannerVariant | None) -> str:
    model = banner_model(site, state, lang=lang, variant=variant)
    texts = model["texts"]
    base = html.escape(model["consent_path"])
    back = _RETURN_TO_IN_FORM
    choose_href = f"{base}/?return_to={_RETURN_TO_IN_URL}"
    e = html.escape
    buttons = {
        "accept_all": f'<button class="consentry-button" type="submit" name="action" value="accept_all">{e(texts["accept_all"])}</button>',
        "reject_all": f'<button class="consentry-button" type="submit" name="action" value="reject_all">{e(texts["reject_all"])}</button>',
        "customize": f'<a class="consentry-button" href="{choose_href}">{e(texts["choose"])}</a>',
    }
    variant_markup = ""
    if model["variant"]:
        variant_markup = (
            f'<input type="hidden" name="variant" value="{e(model["variant"])}">'
            f'<input type="hidden" name="lang" value="{e(lang)}">'
        )
    return (
        f'<form class="consentry-banner consentry-noscript" method="post" action="{base}/" '
        + (f'data-consentry-variant="{e(model["variant"])}" ' if model["variant"] else "")
        + f'role="region" aria-labelledby="consentry-ns-title" lang="{e(lang)}">'
        f'<h2 id="consentry-ns-title" class="consentry-title">{e(texts["title"])}</h2>'
        f'<p class="consentry-intro">{e(texts["intro"])}</p>'
        f'<input type="hidden" name="return_to" value="{e(back)}">'
        + variant_markup
        + '<div class="consentry-actions">'
        + "".join(buttons[action] for action in model["first_layer"])
        + "</div></form>"
    )


def body_snippet(
    site: SitePolicy, state: ConsentState, *, lang: str | None, return_to: str = "/", variant: BannerVariant | None = None
) -> bytes:
    """ASCII bytes for right after ``<body>``: the no-JS banner or, once decided, a settings link.

    Only ``<noscript>``: with JavaScript on, the browser treats its content as text and
    consent.js draws the banner instead.
    """
    from proxy.web.texts import pick_language

    lang = lang or pick_language(site, html_lang=None, accept_language=None)
    if not site.banner.enabled:
        return b""
    decided = state.decided
    key = (id(site), lang, decided, None if decided or variant is None else variant.id)
    entry = _BODY_SNIPPETS.get(key)
    if entry is not None and entry[0] is site:
        template = entry[1]
    else:
        # Neither the form nor the settings link reads the visitor's choices, only whether
        # they decided (proxy.web.model.banner_model's texts, path, layout and variant).
        if decided:
            model = banner_model(site, None, lang=lang)
            base = html.escape(model["consent_path"])
            href = f"{base}/?return_to={_RETURN_TO_IN_URL}"
            inner = f'<a class="consentry-settings" href="{href}">{html.escape(model["texts"]["settings"])}</a>'
        else:
            inner = _noscript_banner(site, None, lang=lang, variant=variant)
        template = f"<noscript>{inner}</noscript>"
        if len(_BODY_SNIPPETS) >= _SNIPPET_CACHE_SIZE:
            _BODY_SNIPPETS.clear()
        _BODY_SNIPPETS[key] = (site, template)
    return _with_return_to(template, return_to).encode("ascii", "xmlcharrefreplace")


_BODY_SNIPPETS: dict[tuple[object, ...], tuple[SitePolicy, str]] = {}
