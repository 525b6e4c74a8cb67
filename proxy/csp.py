"""Consent-scoped Content-Security-Policy and the first-in-head guard script.

Rewriting HTML catches every tracker in the markup; tags created at run time never
pass through the rewriter. This module builds the two browser-enforced layers that
close that gap, per response, from the site policy and the verified consent state:

* `build_csp` returns our policy (``Content-Security-Policy``, or
  ``-Report-Only`` in ``report`` mode). Its fetch directives allow ``'self'``, the
  site's hosts, necessary vendors and the vendors of granted categories only.
  Scripts the rewriter kept carry the per-response nonce. We deliberately do *not*
  use ``'strict-dynamic'``: it trusts every script a nonce'd script loads, so an
  allowed tag manager or the site's own bundle could load a refused tracker; the
  host allowlist is what keeps run-time-injected trackers out. ``script-src-attr
  'unsafe-inline'`` and ``'unsafe-eval'`` keep legacy inline handlers and eval
  working: this policy enforces consent, it is not an XSS policy (the upstream's
  own policy, sent unchanged beside ours, still is; browsers enforce every policy
  they receive, so two headers are the stricter of both by construction).
* With ``unknown_third_party = "allow"`` (the default) a host allowlist cannot say
  "any host except trackers", so the policy allows ``https:``/``http:`` and
  refused catalogued trackers are stopped by the guard alone. Only when unknown
  third parties fall in a category the visitor refused is the CSP a real
  allowlist that blocks refused trackers by itself.
* `guard_script` returns the inline source of ``web/guard.js`` with the refused
  hosts baked in as JSON; it wraps DOM and network APIs so refused trackers
  created at run time stay inert (DESIGN.md markup) until the runtime lifts them.

Standard library only (the catalogue is loaded lazily when none is passed); must
not import aiohttp, mitmproxy, jwt, pydantic or the HTML rewriter.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

NECESSARY = "necessary"


@dataclass(frozen=True, slots=True)
class Classification:
    """A vendor's (or rule's) category on this site and its allow override.

    The same rule as ``proxy.engine.Classification``, restated here so building a
    policy does not load the HTML rewriter: "always"/"never" overrides win, necessary
    is always allowed, everything else follows the visitor's consent.
    """

    vendor: str | None
    category: str
    override: str | None = None

    def allowed_by(self, state: Any) -> bool:
        if self.override == "always":
            return True
        if self.override == "never":
            return False
        return self.category == NECESSARY or bool(state.allows(self.category, self.vendor))

__all__ = [
    "REPORT_GROUP",
    "build_csp",
    "csp_headers",
    "guard_config",
    "guard_script",
    "minify_guard",
    "new_nonce",
    "nonce_for",
    "parse_policy",
    "report_path",
    "reporting_endpoints_header",
    "upstream_nonce",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

REPORT_GROUP = "consentry-csp"
"""The Reporting API endpoint name our ``report-to`` directive points at."""

# Directives a vendor without CSP data in the catalogue is assumed to need.
CORE_DIRECTIVES = ("script-src", "img-src", "frame-src", "connect-src")
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=_-]+)'")
_GUARD_PLACEHOLDER = "/*CONSENTRY_CONFIG*/null"


def new_nonce() -> str:
    """A fresh per-response nonce (128 random bits, URL-safe base64: valid in CSP and HTML)."""
    return secrets.token_urlsafe(16)


def parse_policy(text: str) -> list[dict[str, list[str]]]:
    """Parse a CSP header value into policies (a value may join several with commas).

    Directive names are lower-cased; the first occurrence of a directive wins, as in
    browsers. Sources are kept as written.
    """
    policies: list[dict[str, list[str]]] = []
    for serialized in text.split(","):
        policy: dict[str, list[str]] = {}
        for directive in serialized.split(";"):
            tokens = directive.split()
            if tokens:
                policy.setdefault(tokens[0].lower(), tokens[1:])
        if policy:
            policies.append(policy)
    return policies


def upstream_nonce(upstream_csp: str | None) -> str | None:
    """The nonce the upstream's policy admits scripts with (script-src-elem, script-src, default-src)."""
    if not upstream_csp:
        return None
    for policy in parse_policy(upstream_csp):
        for name in ("script-src-elem", "script-src", "default-src"):
            if name in policy:
                for source in policy[name]:
                    match = _NONCE.fullmatch(source)
                    if match:
                        return match.group(1)
                break
    return None


def nonce_for(upstream_csp: str | None) -> str:
    """The nonce for one response: the upstream's when it has one, so both policies agree, else fresh."""
    return upstream_nonce(upstream_csp) or new_nonce()


def report_path(site: Any) -> str:
    """Where browsers send violation reports for this site: ``<consent_path>/csp-report``."""
    return f"{_consent_path(site)}/csp-report"


def build_csp(
    site: Any,
    state: Any,
    *,
    upstream_csp: str | None,
    nonce: str,
    catalogue: Any = None,
    report_to: bool = False,
) -> tuple[str, str] | None:
    """Our policy for one HTML response as (header name, value); None when ``site.csp`` is "off".

    The upstream's own header must be sent unchanged beside ours. When the upstream
    admits scripts by a nonce other than `nonce`, that nonce is admitted too: the
    rewriter leaves a script's existing nonce alone, and refusing it here would make
    ours the policy that breaks the site. `report_to` adds ``report-to`` — only pass
    it when the response also carries `reporting_endpoints_header` (Chromium ignores
    ``report-uri`` once ``report-to`` is present, and drops reports for an endpoint
    it was never told about); `csp_headers` does both.
    """
    mode = str(getattr(site, "csp", "report") or "report")
    if mode == "off":
        return None
    catalogue = catalogue if catalogue is not None else _default_catalogue()
    nonces = [nonce] if nonce else []
    theirs = upstream_nonce(upstream_csp)
    if theirs and theirs not in nonces:
        log.debug("upstream CSP nonce differs from ours; admitting both")
        nonces.append(theirs)
    parts = []
    for name, sources in _cached(_serialized_directives, site, state, catalogue):
        if name == "script-src" and nonces:
            sources = " ".join(f"'nonce-{n}'" for n in nonces) + " " + sources
        parts.append(f"{name} {sources}")
    parts.append("script-src-attr 'unsafe-inline'")
    parts.append(f"report-uri {report_path(site)}")
    if report_to:
        parts.append(f"report-to {REPORT_GROUP}")
    name = "Content-Security-Policy" if mode == "enforce" else "Content-Security-Policy-Report-Only"
    return name, "; ".join(parts)


MAX_ALLOWLIST_BYTES = 6 * 1024
"""The most host-sources we send. Proxies and CDNs in front of Consentry refuse response
headers past 4-8 KB (nginx's proxy_buffer_size, aiohttp's 8190-byte lines); a larger
allowlist falls back to scheme sources, leaving refused trackers to the guard."""


@functools.cache
def _warn_large(site_id: str, size: int) -> None:
    # Once per site and size: the size depends on the consent state, not on the request.
    log.warning(
        "site %s: the consent CSP allowlist would be %d bytes (limit %d); sending https:/http: instead, "
        "so the guard alone stops refused trackers injected at run time for this consent state",
        site_id, size, MAX_ALLOWLIST_BYTES,
    )


def reporting_endpoints_header(site: Any) -> tuple[str, str]:
    """The ``Reporting-Endpoints`` header that makes ``report-to consentry-csp`` deliverable."""
    return "Reporting-Endpoints", f'{REPORT_GROUP}="{report_path(site)}"'


def csp_headers(
    site: Any, state: Any, *, upstream_csp: str | None, nonce: str, catalogue: Any = None
) -> list[tuple[str, str]]:
    """Every header our policy needs (the policy with ``report-to``, and ``Reporting-Endpoints``)."""
    built = build_csp(site, state, upstream_csp=upstream_csp, nonce=nonce, catalogue=catalogue, report_to=True)
    if built is None:
        return []
    return [built, reporting_endpoints_header(site)]


# -- the allowlist --------------------------------------------------------------------


def _serialized_directives(site: Any, state: Any, catalogue: Any) -> tuple[tuple[str, str], ...]:
    """The directives as (name, sources text) pairs: immutable, so one consent state can share them."""
    return tuple((name, " ".join(sources)) for name, sources in _directives(site, state, catalogue).items())


def _directives(site: Any, state: Any, catalogue: Any) -> dict[str, list[str]]:
    """Our fetch directives: one allowlist in ``default-src``, the script allowlist in ``script-src``.

    Consent is given per vendor, not per resource type, so a consented vendor's
    sources may serve any fetch: one union in ``default-src`` (which every other fetch
    directive falls back to) keeps the header small, and response headers have size
    limits along the way (aiohttp's client and many proxies stop at 8 KB). Only
    ``script-src`` is narrower (the sources vendors load scripts from), because it
    must carry the nonce and does not fall back.
    """
    own = ["'self'", *_site_sources(site)]
    unknown = str(getattr(site, "unknown_third_party", "allow") or "allow")
    schemes: list[str] = []
    scripts: list[str] = []
    fetches: list[str] = []
    if unknown == "allow" or Classification(None, unknown).allowed_by(state):
        # A host allowlist cannot say "every host but the trackers": allow the schemes
        # (which cover every vendor host too) and leave refused catalogued trackers to
        # the guard (see the module docstring).
        schemes = ["https:", "http:"]
    else:
        refused: list[str] = []
        explicit: set[str] = set()   # the site's own rules: kept exactly as written
        for vendor in _vendors(catalogue):
            if not _classify_vendor(site, vendor).allowed_by(state):
                refused.extend(_split_entry(entry)[0] for entry in vendor.hosts)
                continue
            for name, sources in _vendor_sources(vendor).items():
                (scripts if name in ("script-src", "script-src-elem", "worker-src") else fetches).extend(sources)
        for rule in getattr(site, "rules", None) or ():
            host = getattr(rule, "host", None)
            if not host:
                continue
            if Classification(getattr(rule, "vendor", None), rule.category).allowed_by(state):
                source = _host_source(host, getattr(rule, "path_prefix", None))
                scripts.extend(source)
                fetches.extend(source)
                explicit.update(source)
            else:
                refused.append(host.lower())
        scripts = _compact(scripts, refused, keep=explicit)
        fetches = _compact(scripts + fetches, refused, keep=explicit)
        if sum(len(source) + 1 for source in scripts + fetches) > MAX_ALLOWLIST_BYTES:
            # Past this the header risks 502s from proxies in front of us (nginx's
            # default proxy_buffer_size is 4-8 KB), which is worse than leaving the
            # refused trackers to the guard alone; say so once.
            _warn_large(str(getattr(site, "site_id", "default")), sum(len(s) + 1 for s in scripts + fetches))
            scripts, fetches, schemes = [], [], ["https:", "http:"]
    return {
        # Legacy pages are full of inline styles and data: images; neither is how trackers run.
        "default-src": [*own, *fetches, "data:", "blob:", "'unsafe-inline'", *schemes, *(["wss:", "ws:"] if schemes else [])],
        # This is a consent policy, not an XSS policy: breaking eval-based libraries would
        # break the site without keeping any tracker out (loads still face the allowlist).
        "script-src": [*own, *scripts, "'unsafe-eval'", *schemes],
        # Workers fall back to script-src, which has no blob:; many sites build workers from blobs.
        "worker-src": [*own, "blob:", *schemes],
    }


def _compact(sources: list[str], refused: list[str], *, keep: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Host-sources in order, without duplicates, and as few as say the same.

    ``https://`` is dropped (a scheme-less source matches the page's own scheme, and
    https from an http page). Three or more sources under one registrable domain
    become ``domain *.domain``, but only when no refused host lives under that domain
    (google.com serves reCAPTCHA and ads alike). Hosts a wildcard covers go.
    """
    unique = list(dict.fromkeys(s.removeprefix("https://") for s in sources))
    refused_domains = {_registrable(host) for host in refused}
    by_domain: dict[str, set[str]] = {}
    for source in unique:
        by_domain.setdefault(_registrable(_bare_host(source)), set()).add(source)
    widened = {domain for domain, members in by_domain.items() if len(members) > 2 and domain not in refused_domains}
    out: list[str] = []
    for source in unique:
        domain = _registrable(_bare_host(source))
        out.extend([domain, f"*.{domain}"] if domain in widened else [source])
    # The catalogue lists every host with its subdomains (``x`` and ``*.x``); below a
    # registrable domain (cdn.shopify.com, ajax.googleapis.com) sub-subdomains are not
    # how vendors serve, and the twin doubles the header for nothing.
    present = set(out)
    out = [
        s for s in dict.fromkeys(out)
        if s in keep or not (s.startswith("*.") and s[2:] in present and s[2:] != _registrable(s[2:]))
    ]
    wildcards = {s[1:] for s in out if s.startswith("*.") and "/" not in s}  # ".example.com"
    return [s for s in out if not any(_host_part(s).endswith(w) and s != "*" + w for w in wildcards)]


def _host_part(source: str) -> str:
    return source.split("/", 1)[0]


def _bare_host(source: str) -> str:
    return _host_part(source).removeprefix("*.").split(":", 1)[0]


def _registrable(host: str) -> str:
    """The last two labels (three under a co.uk-style suffix): the engine's heuristic for one site."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-2]) <= 3 and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _vendors(catalogue: Any) -> Iterable[Any]:
    vendors = getattr(catalogue, "vendors", catalogue)
    return vendors.values() if isinstance(vendors, Mapping) else vendors


def _classify_vendor(site: Any, vendor: Any) -> Classification:
    """The vendor's category and allow override on this site (same rules as the engine)."""
    override = (getattr(site, "vendors", None) or {}).get(vendor.id)
    category = (getattr(override, "category", None) if override else None) or vendor.category
    return Classification(vendor.id, category, getattr(override, "allow", None) if override else None)


def _vendor_sources(vendor: Any) -> Mapping[str, Iterable[str]]:
    declared = getattr(vendor, "csp", None)
    if declared:
        return declared
    # A vendor without CSP data: its hosts, for the directives any tracker uses.
    sources = [s for entry in vendor.hosts for s in _host_source(*_split_entry(entry))]
    return {name: sources for name in CORE_DIRECTIVES}


def _split_entry(entry: str) -> tuple[str, str | None]:
    host, slash, path = entry.partition("/")
    return host, ("/" + path.split("*", 1)[0]) if slash and path else None


def _host_source(host: str, path: str | None) -> list[str]:
    """``host`` and its subdomains as scheme-less host-sources (an http page also gets http:)."""
    host = host.lower().strip(".").removeprefix("*.")
    suffix = path or ""
    return [f"{host}{suffix}", f"*.{host}{suffix}"]


def _site_sources(site: Any) -> list[str]:
    sources = []
    for host in getattr(site, "hosts", None) or ():
        host = str(host).strip().lower()
        # A bare "*" (or "default") would allow every host: 'self' covers the page itself.
        if not host or host in ("*", "default") or not re.fullmatch(r"(\*\.)?[a-z0-9.\[\]:_-]+", host):
            continue
        sources.append(host)
    return sources


def _consent_path(site: Any) -> str:
    return str(getattr(site, "consent_path", None) or "/_consent").rstrip("/")


@functools.cache
def _default_catalogue() -> Any:
    from proxy.catalogue import Catalogue

    return Catalogue.default()


# -- the guard ------------------------------------------------------------------------


def guard_config(site: Any, state: Any, *, catalogue: Any = None) -> dict[str, Any]:
    """What the guard needs to know, as compact JSON-ready data (it goes into every page).

    ``v``: vendors as [id, category, "host host/path ...", forced?] (forced: 1 always,
    0 never, absent follows consent; a host covers its subdomains); ``g``: granted
    categories; ``o``: per-vendor choices; ``u``: the category of unknown third
    parties (null when they are allowed); ``s``: the site's own hosts; ``c``: the CSP
    mode (the runtime reloads after a decision under an enforced CSP).

    Only what can be refused goes in: vendors refused now, plus allowed vendors whose
    hosts overlap a refused one (longest match decides, as in the catalogue), plus —
    when unknown third parties are refused — every allowed vendor, so that it is not
    taken for an unknown host.
    """
    catalogue = catalogue if catalogue is not None else _default_catalogue()
    unknown = str(getattr(site, "unknown_third_party", "allow") or "allow")
    unknown_category = None if unknown == "allow" else unknown
    strict = unknown_category is not None and not Classification(None, unknown_category).allowed_by(state)

    candidates: list[tuple[str, str, int | None, str, list[tuple[str, str]]]] = []
    for vendor in _vendors(catalogue):
        found = _classify_vendor(site, vendor)
        forced = {"always": 1, "never": 0}.get(found.override or "")
        entries = [(host, path or "") for host, path in (_split_entry(e) for e in vendor.hosts)]
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
    choices = {str(k): bool(v) for k, v in (getattr(state, "vendors", None) or {}).items()}
    granted = sorted(getattr(state, "categories", None) or {NECESSARY})
    if getattr(state, "gpc", False) and "marketing" in granted:
        granted.remove("marketing")
    return {
        "v": vendors,
        "g": granted,
        "o": choices,
        "u": unknown_category,
        "s": _site_sources(site),
        "c": str(getattr(site, "csp", "report") or "report"),
        "gpc": bool(getattr(state, "gpc", False)),
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
    return _cached(_baked_guard, site, state, catalogue if catalogue is not None else _default_catalogue())


def _baked_guard(site: Any, state: Any, catalogue: Any) -> str:
    config = json.dumps(guard_config(site, state, catalogue=catalogue), separators=(",", ":"), ensure_ascii=True)
    # Inside a <script> element "</script" or "<!--" in the JSON would end or confuse it.
    config = config.replace("<", "\\u003c").replace(">", "\\u003e")
    return _guard_source().replace(_GUARD_PLACEHOLDER, config, 1)


# -- per-consent-state cache ----------------------------------------------------------

_CACHE: OrderedDict[tuple[Any, ...], tuple[Any, Any, Any]] = OrderedDict()
_CACHE_SIZE = 512


def _cached(build: Callable[[Any, Any, Any], _T], site: Any, state: Any, catalogue: Any) -> _T:
    """`build(site, state, catalogue)`, remembered per site and consent state.

    Both results depend only on the site policy, the catalogue and what the visitor
    chose, never on the request; building them walks the whole catalogue, which costs
    milliseconds, so every response of one consent state shares one result. Sites and
    catalogues are keyed by identity (a reloaded config is a new object) and kept in
    the entry, so a recycled id() can never return another site's result.
    """
    try:
        choices = tuple(sorted((str(k), bool(v)) for k, v in (getattr(state, "vendors", None) or {}).items()))
        key = (build.__name__, id(site), id(catalogue), frozenset(state.categories), choices, bool(getattr(state, "gpc", False)))
    except (AttributeError, TypeError):
        return build(site, state, catalogue)  # a state we cannot key: build every time
    entry = _CACHE.get(key)
    if entry is not None and entry[0] is site and entry[1] is catalogue:
        _CACHE.move_to_end(key)
        return entry[2]  # type: ignore[no-any-return]
    result = build(site, state, catalogue)
    _CACHE[key] = (site, catalogue, result)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


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
