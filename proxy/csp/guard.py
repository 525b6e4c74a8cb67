"""The guard script (``proxy/web/guard.js``) with this response's refusals baked in.

Standard library only: must not import aiohttp, mitmproxy, jwt, pydantic or ``proxy.html``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources
from collections.abc import Mapping
from typing import Any, TYPE_CHECKING

from proxy.csp.cache import per_consent_state
from proxy.defaults import GPC_REFUSED_CATEGORY, NECESSARY
from proxy.csp.stubs import ARRAY_QUEUES, QUEUE_FUNCTIONS, VENDOR_GLOBALS
from proxy.catalogue import Catalogue, Classification, ConsentView
from proxy.csp.vendors import classified_vendors, default_catalogue, site_sources, split_entry

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy


_GUARD_PLACEHOLDER = "/*CONSENTRY_CONFIG*/null"


def guard_config(site: SitePolicy, state: ConsentView, *, catalogue: Catalogue | None = None) -> dict[str, Any]:
    """What the guard needs to know, as compact JSON-ready data (it goes into every page).

    ``v``: vendors as [id, category, "host host/path ...", forced?] (forced: 1 always,
    0 never, absent follows consent; a host covers its subdomains); ``g``: granted
    categories; ``o``: per-vendor choices; ``u``: the category of unknown third
    parties (null when they are allowed); ``s``: the site's own hosts; ``c``: the CSP
    mode (the runtime reloads after a decision under an enforced CSP); ``q``: inert
    stand-ins for the globals of refused vendors (``proxy.csp.stubs``) as
    [name, 1 for an array queue, [indices into v]].

    Only what can be refused goes in: vendors refused now, plus allowed vendors whose
    hosts overlap a refused one (longest match decides, as in the catalogue), plus —
    when unknown third parties are refused — every allowed vendor, so that it is not
    taken for an unknown host.
    """
    catalogue = catalogue if catalogue is not None else default_catalogue(site)
    unknown = site.unknown_third_party
    unknown_category = None if unknown == "allow" else unknown
    strict = unknown_category is not None and not Classification(None, unknown_category).allowed_by(state)

    candidates: list[tuple[str, str, int | None, str, list[tuple[str, str]]]] = []
    for vendor, found in classified_vendors(site, catalogue):
        forced = {"always": 1, "never": 0}.get(found.override or "")
        entries = [(host, path or "") for host, path in (split_entry(e) for e in vendor.hosts)]
        candidates.append((vendor.id, found.category, forced, "refused" if not found.allowed_by(state) else "allowed", entries))
    for index, rule in enumerate(site.rules):
        host = rule.host
        if not host:
            continue  # url_glob and script rules need the engine; the CSP/report layers see those
        found = Classification(rule.vendor, rule.category)
        candidates.append((found.vendor or f"rule-{index + 1}", found.category, None,
                           "refused" if not found.allowed_by(state) else "allowed", [(host.lower(), rule.path_prefix or "")]))

    refused_hosts = {host for *_, status, entries in candidates if status == "refused" for host, _ in entries}
    # A host overlaps a refused one when either is the other or a subdomain of it.
    refused_parents = {".".join(h.split(".")[i:]) for h in refused_hosts for i in range(h.count(".") + 1)}

    def overlaps(host: str) -> bool:
        labels = host.split(".")
        return host in refused_parents or any(".".join(labels[i:]) in refused_hosts for i in range(1, len(labels)))

    vendors: list[list[Any]] = []
    for vendor_id, category, forced, status, entries in candidates:
        keep = status == "refused" or strict or any(overlaps(host) for host, _ in entries)
        if not keep or not entries:
            continue
        entry: list[Any] = [vendor_id, category, " ".join(_fewest_hosts(entries))]
        if forced is not None:
            entry.append(forced)
        vendors.append(entry)
    # Inert stand-ins for the globals of vendors refused now: [name, kind, [vendor indices]],
    # kind 0 an inert recorder, 1 an array queue, or the name of the array a queue function
    # pushes to (see proxy.csp.stubs).
    # (The guard installs one only while the visitor refuses every vendor it stands for,
    # so the shared per-site file, built for "nothing granted", fits every visitor.)
    index_of = {entry[0]: position for position, entry in enumerate(vendors)}
    stubs: dict[str, list[Any]] = {}
    for vendor_id, _, _, status, _ in candidates:
        if status != "refused" or vendor_id not in index_of:
            continue
        for name in VENDOR_GLOBALS.get(vendor_id, ()):
            kind: int | str = QUEUE_FUNCTIONS.get(name) or (1 if name in ARRAY_QUEUES else 0)
            stub = stubs.setdefault(name, [name, kind, []])
            stub[2].append(index_of[vendor_id])
    return {
        "v": vendors,
        **visitor_choices(state),
        "u": unknown_category,
        "s": site_sources(site),
        "c": site.csp,
        "q": list(stubs.values()),
    }


def visitor_choices(state: ConsentView) -> dict[str, Any]:
    """The guard config's per-visitor part: granted categories (``g``), vendor choices (``o``), GPC."""
    granted = sorted(state.categories or {NECESSARY})
    if state.gpc and GPC_REFUSED_CATEGORY in granted:
        granted.remove(GPC_REFUSED_CATEGORY)
    return {
        "g": granted,
        "o": dict(state.vendors),
        "gpc": state.gpc,
    }


def _fewest_hosts(entries: list[tuple[str, str]]) -> list[str]:
    """One vendor's host entries without those another of its path-less hosts covers."""
    bare = {host for host, path in entries if not path}
    kept = []
    for host, path in entries:
        if any(host.endswith("." + other) or (path and host == other) for other in bare):
            continue
        kept.append(host + path)
    return list(dict.fromkeys(kept))


def guard_script(site: SitePolicy, state: ConsentView, *, catalogue: Catalogue | None = None) -> str:
    """Inline JavaScript for the first ``<script>`` in ``<head>``: guard.js with its config baked in."""
    return per_consent_state(_baked_guard, site, state, catalogue if catalogue is not None else default_catalogue(site))


class _NothingGranted:
    """The consent state a site's shared guard file is built for: every refusable vendor listed."""

    categories: frozenset[str] = frozenset({NECESSARY})
    vendors: Mapping[str, bool] = {}
    gpc: bool = False

    def allows(self, category: str, vendor_id: str | None = None) -> bool:
        return category == NECESSARY


NOTHING_GRANTED = _NothingGranted()


def site_guard(site: SitePolicy, *, catalogue: Catalogue | None = None) -> tuple[str, str]:
    """(source, version) of the guard file every visitor of ``site`` shares.

    The vendor table a page's guard needs is the same for every visitor: what differs is
    which categories they granted, and that is a few bytes on the ``<script>`` tag
    (`guard_tag`). Served as ``<consent_path>/guard.js?v=<version>``, the 10-40 KB table
    is downloaded once and cached, instead of being inlined in every page. Built for a
    visitor who granted nothing, it lists every vendor any visitor could refuse.
    ``version`` is a digest of the source, so any replica with the same policy and
    catalogue serves the same file under the same URL.
    """
    return per_consent_state(_versioned_site_guard, site, NOTHING_GRANTED, catalogue if catalogue is not None else default_catalogue())


def _versioned_site_guard(site: SitePolicy, state: ConsentView, catalogue: Catalogue) -> tuple[str, str]:
    source = _baked_guard(site, state, catalogue)
    return source, hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def guard_tag(
    site: SitePolicy, state: ConsentView, *, consent_path: str, nonce_attr: str, catalogue: Catalogue | None = None,
    page_host: str | None = None,
) -> str:
    """The first ``<script>`` of a page: the shared guard file with this visitor's choices.

    ``page_host`` (the host the visitor asked for) gives the guard its first-party scope:
    ``r``, the host's registrable domain by the Public Suffix List, and ``x``, the public
    suffixes below it (`proxy.catalogue.urls.first_party_scope`), so the guard decides
    first party exactly as the rewriter does. Without it only the page's own host is.
    When nothing can be refused, now or after a decision, the page gets the inline stub
    (the runtime still calls ``__consentry_guard.update``) and no request at all.
    """
    catalogue = catalogue if catalogue is not None else default_catalogue()
    inline = guard_script(site, state, catalogue=catalogue)
    if inline.startswith(_STUB_PREFIX):
        return f"<script{nonce_attr}>{inline}</script>"
    _, version = site_guard(site, catalogue=catalogue)
    data: dict[str, Any] = visitor_choices(state)
    if page_host:
        from proxy.catalogue.urls import first_party_scope

        data["r"], below = first_party_scope(page_host)
        if below:
            data["x"] = list(below)
    choices = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    # A single-quoted attribute: JSON needs no escaping there but for ' and &.
    choices = choices.replace("&", "&amp;").replace("'", "&#39;")
    return f"<script src=\"{consent_path}/guard.js?v={version}\" data-state='{choices}'{nonce_attr}></script>"


def _baked_guard(site: SitePolicy, state: ConsentView, catalogue: Catalogue) -> str:
    found = guard_config(site, state, catalogue=catalogue)
    if not found["v"] and (found["u"] is None or found["u"] in found["g"]):
        # Nothing can be refused, now or after a decision (consent only widens without
        # a reload): the same API, without a line of wrapping to download or run.
        return _STUB.replace("CSP_MODE", json.dumps(found["c"]).replace("<", "\\u003c"))
    config = json.dumps(found, separators=(",", ":"), ensure_ascii=True)
    # Inside a <script> element "</script" or "<!--" in the JSON would end or confuse it.
    config = config.replace("<", "\\u003c").replace(">", "\\u003e")
    return _guard_source().replace(_GUARD_PLACEHOLDER, config, 1)


_STUB_PREFIX = "window.__consentry_guard=window.__consentry_guard||{update:function(){},"
_STUB = (
    "window.__consentry_guard=window.__consentry_guard||{update:function(){},"
    "refuses:function(){return null},blocked:[],csp:CSP_MODE};"
)


@functools.cache
def _guard_source() -> str:
    source = resources.files("proxy.web").joinpath("guard.js").read_text(encoding="utf-8")
    if _GUARD_PLACEHOLDER not in source:
        raise RuntimeError(f"proxy/web/guard.js lost its {_GUARD_PLACEHOLDER} placeholder")
    return minify_guard(source)


def minify_guard(source: str) -> str:
    """guard.js as sent in every page: without its comments and indentation.

    Deliberately simple, not a JavaScript minifier: it drops the leading block comment,
    whole-line ``//`` comments and leading whitespace, which guard.js is written to
    allow (no multi-line strings or template literals, no ``//`` comment after code).
    """
    if source.startswith("/*"):
        source = source[source.index("*/") + 2 :]
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//"))
