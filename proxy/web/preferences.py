"""The no-JavaScript preferences page served at ``GET /_consent/``.

A complete HTML document with one plain form posting to ``/_consent/``: a checkbox per
non-necessary category (ticked only if the visitor granted it before), each category's
description and the site's catalogued vendors with their privacy policies and cookie
lifetimes, and three equal buttons (save, reject all, accept all). It is what the
``<noscript>`` banner's "Choose" link opens and what the "Privacy settings" control
leads to without JavaScript. Standard library only: must not import aiohttp,
mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any, TYPE_CHECKING

from proxy.defaults import GPC_REFUSED_CATEGORY
from proxy.web.model import banner_model
from proxy.web.snippet import safe_return_to

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.catalogue import Vendor
    from proxy.policy import SitePolicy
    from proxy.consent import ConsentState



def _vendor_items(model: dict[str, Any], vendor_ids: list[str]) -> str:
    texts = model["texts"]
    by_id = {v["id"]: v for v in model["vendors"]}
    e = html.escape
    items = []
    for vendor_id in vendor_ids:
        vendor = by_id[vendor_id]
        privacy = (
            f' &middot; <a href="{e(vendor["privacy_url"])}" rel="noopener noreferrer" target="_blank">{e(texts["vendor_privacy"])}</a>'
            if vendor["privacy_url"] else ""
        )
        cookies = ", ".join(
            f'<code>{e(c["name"])}</code>' + (f' ({e(c["lifetime"])})' if c["lifetime"] else "")
            for c in vendor["cookies"]
        )
        cookie_line = f'<br><span class="consentry-cookies">{e(texts["cookies"])}: {cookies}</span>' if cookies else ""
        items.append(f'<li><strong>{e(vendor["name"])}</strong>{privacy}{cookie_line}</li>')
    return "".join(items)


def _category_block(model: dict[str, Any], category: dict[str, Any]) -> str:
    texts = model["texts"]
    e = html.escape
    name = category["name"]
    description_id = f"consentry-desc-{e(name)}"
    if category["required"]:
        control = (f'<input type="checkbox" id="consentry-cat-{e(name)}" checked disabled '
                   f'aria-describedby="{description_id}">')
        state_note = f' <span class="consentry-always">({e(texts["always_active"])})</span>'
    else:
        gpc_locked = name == GPC_REFUSED_CATEGORY and model["gpc"]
        checked = " checked" if category["granted"] and not gpc_locked else ""
        disabled = " disabled" if gpc_locked else ""
        control = (f'<input type="checkbox" name="category" value="{e(name)}" id="consentry-cat-{e(name)}"'
                   f'{checked}{disabled} aria-describedby="{description_id}">')
        state_note = f' <span class="consentry-always">({e(texts["gpc_note"])})</span>' if gpc_locked else ""
    vendors = _vendor_items(model, category["vendors"])
    vendor_list = (
        f'<details class="consentry-vendors"><summary>{e(texts["services"])} ({len(category["vendors"])})</summary>'
        f'<ul>{vendors}</ul></details>'
        if vendors else f'<p class="consentry-none">{e(texts["no_services"])}</p>'
    )
    return (
        f'<div class="consentry-category">'
        f'<label class="consentry-check" for="consentry-cat-{e(name)}">{control} '
        f'<span class="consentry-label">{e(category["label"])}</span>{state_note}</label>'
        f'<p class="consentry-description" id="{description_id}">{e(category["description"])}</p>'
        f'{vendor_list}</div>'
    )


def render_preferences_page(site: SitePolicy, state: ConsentState, *, lang: str, return_to: str | None,
                            vendors: Iterable[Vendor] = ()) -> str:
    """The full preferences page as text (the server encodes it as UTF-8)."""
    model = banner_model(site, state, lang=lang, vendors=vendors)
    texts = model["texts"]
    e = html.escape
    base = e(model["consent_path"])
    back = safe_return_to(return_to)
    notes = []
    if model["gpc"]:
        notes.append(f'<p class="consentry-note" role="note">{e(texts["gpc_note"])}</p>')
    elif model["honor_gpc"]:
        notes.append(f'<p class="consentry-note">{e(texts["gpc_honoured"])}</p>')
    policy_link = (
        f'<a href="{e(model["privacy_policy_url"])}">{e(texts["privacy_policy"])}</a> &middot; '
        if model["privacy_policy_url"] else ""
    )
    categories = "".join(_category_block(model, c) for c in model["categories"])
    # "Save" comes first: pressing Enter in a checkbox submits with the form's first
    # button, and that must save what is ticked, never "accept all".
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{e(model["lang"])}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f'<title>{e(texts["prefs_title"])}</title>'
        f'<link rel="stylesheet" href="{base}/consent.css"></head>'
        '<body class="consentry-page"><main class="consentry-prefs-page">'
        f'<h1 id="consentry-prefs-title">{e(texts["prefs_title"])}</h1>'
        f'<p>{e(texts["prefs_intro"])}</p>{"".join(notes)}'
        f'<form method="post" action="{base}/" aria-labelledby="consentry-prefs-title">'
        f'<input type="hidden" name="return_to" value="{e(back)}">'
        f'{categories}'
        '<div class="consentry-actions">'
        f'<button class="consentry-button" type="submit" name="action" value="save">{e(texts["save"])}</button>'
        f'<button class="consentry-button" type="submit" name="action" value="reject_all">{e(texts["reject_all"])}</button>'
        f'<button class="consentry-button" type="submit" name="action" value="accept_all">{e(texts["accept_all"])}</button>'
        '</div></form>'
        f'<p class="consentry-links">{policy_link}<a href="{e(back)}">{e(texts["back"])}</a></p>'
        '</main></body></html>\n'
    )
