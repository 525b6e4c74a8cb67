"""The guard script (``proxy/web/guard.js``) with this response's refusals baked in.

Standard library only: must not import aiohttp, mitmproxy, jwt, pydantic or ``proxy.html``.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from proxy.csp.cache import per_consent_state
from proxy.csp.stubs import ARRAY_QUEUES, VENDOR_GLOBALS
from proxy.csp.vendors import NECESSARY, Classification, classify_vendor, default_catalogue, site_sources, split_entry, vendors_of

_GUARD_PLACEHOLDER = "/*CONSENTRY_CONFIG*/null"


def guard_config(site: Any, state: Any, *, catalogue: Any = None) -> dict[str, Any]:
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
    unknown = str(getattr(site, "unknown_third_party", "allow") or "allow")
    unknown_category = None if unknown == "allow" else unknown
    strict = unknown_category is not None and not Classification(None, unknown_category).allowed_by(state)

    candidates: list[tuple[str, str, int | None, str, list[tuple[str, str]]]] = []
    for vendor in vendors_of(catalogue):
        found = classify_vendor(site, vendor)
        forced = {"always": 1, "never": 0}.get(found.override or "")
        entries = [(host, path or "") for host, path in (split_entry(e) for e in vendor.hosts)]
        candidates.append((vendor.id, found.category, forced, "refused" if not found.allowed_by(state) else "allowed", entries))
    for index, rule in enumerate(getattr(site, "rules", None) or ()):
        host = getattr(rule, "host", None)
        if not host:
            continue  # url_glob and script rules need the engine; the CSP/report layers see those
        found = Classification(getattr(rule, "vendor", None), rule.category)
        candidates.append((found.vendor or f"rule-{index + 1}", found.category, None,
                           "refused" if not found.allowed_by(state) else "allowed", [(host.lower(), getattr(rule, "path_prefix", None) or "")]))

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
    # Inert stand-ins for the globals of vendors refused now: [name, array?, [vendor indices]].
    index_of = {entry[0]: position for position, entry in enumerate(vendors)}
    stubs: dict[str, list[Any]] = {}
    for vendor_id, _, _, status, _ in candidates:
        if status != "refused" or vendor_id not in index_of:
            continue
        for name in VENDOR_GLOBALS.get(vendor_id, ()):
            stub = stubs.setdefault(name, [name, 1 if name in ARRAY_QUEUES else 0, []])
            stub[2].append(index_of[vendor_id])
    choices = {str(k): bool(v) for k, v in (getattr(state, "vendors", None) or {}).items()}
    granted = sorted(getattr(state, "categories", None) or {NECESSARY})
    if getattr(state, "gpc", False) and "marketing" in granted:
        granted.remove("marketing")
    return {
        "v": vendors,
        "g": granted,
        "o": choices,
        "u": unknown_category,
        "s": site_sources(site),
        "c": str(getattr(site, "csp", "report") or "report"),
        "gpc": bool(getattr(state, "gpc", False)),
        "q": list(stubs.values()),
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


def guard_script(site: Any, state: Any, *, catalogue: Any = None) -> str:
    """Inline JavaScript for the first ``<script>`` in ``<head>``: guard.js with its config baked in."""
    return per_consent_state(_baked_guard, site, state, catalogue if catalogue is not None else default_catalogue(site))


def _baked_guard(site: Any, state: Any, catalogue: Any) -> str:
    found = guard_config(site, state, catalogue=catalogue)
    if not found["v"] and (found["u"] is None or found["u"] in found["g"]):
        # Nothing can be refused, now or after a decision (consent only widens without
        # a reload): the same API, without a line of wrapping to download or run.
        return _STUB.replace("CSP_MODE", json.dumps(found["c"]).replace("<", "\\u003c"))
    config = json.dumps(found, separators=(",", ":"), ensure_ascii=True)
    # Inside a <script> element "</script" or "<!--" in the JSON would end or confuse it.
    config = config.replace("<", "\\u003c").replace(">", "\\u003e")
    return _guard_source().replace(_GUARD_PLACEHOLDER, config, 1)


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
