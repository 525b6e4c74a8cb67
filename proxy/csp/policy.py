"""The consent-scoped Content-Security-Policy for one response, and reading upstream policies.

See the package docstring for what the policy admits and why (no 'strict-dynamic',
scheme sources when unknown third parties are allowed, a size cap). Standard
library only: must not import aiohttp, mitmproxy, jwt, pydantic or ``proxy.html``.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from typing import TYPE_CHECKING

from proxy.csp.cache import per_consent_state
from proxy.defaults import NECESSARY
from proxy.csp.sources import compact
from proxy.catalogue import Catalogue, Classification, ConsentView
from proxy.csp.vendors import (
    classified_vendors,
    consent_path,
    default_catalogue,
    host_source,
    site_sources,
    split_entry,
    vendor_sources,
)

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy


log = logging.getLogger(__name__)


REPORT_GROUP = "consentry-csp"
"""The Reporting API endpoint name our ``report-to`` directive points at."""


_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=_-]+)'")


MAX_ALLOWLIST_BYTES = 6 * 1024
"""The most host-sources we send. Proxies and CDNs in front of Consentry refuse response
headers past 4-8 KB (nginx's proxy_buffer_size, aiohttp's 8190-byte lines); a larger
allowlist falls back to scheme sources, leaving refused trackers to the guard."""


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


def report_path(site: SitePolicy) -> str:
    """Where browsers send violation reports for this site: ``<consent_path>/csp-report``."""
    return f"{consent_path(site)}/csp-report"


def build_csp(
    site: SitePolicy,
    state: ConsentView,
    *,
    upstream_csp: str | None,
    nonce: str,
    catalogue: Catalogue | None = None,
    report_to: bool = False,
    necessary: frozenset[str] | None = None,
    page_host: str | None = None,
) -> tuple[str, str] | None:
    """Our policy for one HTML response as (header name, value); None when ``site.csp`` is "off".

    The upstream's own header must be sent unchanged beside ours. When the upstream
    admits scripts by a nonce other than `nonce`, that nonce is admitted too: the
    rewriter leaves a script's existing nonce alone, and refusing it here would make
    ours the policy that breaks the site. `report_to` adds ``report-to`` — only pass
    it when the response also carries `reporting_endpoints_header` (Chromium ignores
    ``report-uri`` once ``report-to`` is present, and drops reports for an endpoint
    it was never told about); `csp_headers` does both.

    When unknown third parties are refused the policy is a host allowlist: ``page_host``
    (the host the visitor asked for) adds its registrable domain and subdomains, which
    the rewriter and the guard treat as first party too; ``necessary`` is the set of
    known-necessary vendors this page is known to use (`proxy.csp.in_use`), admitted
    when the whole known-necessary list does not fit the header cap; None means the
    page was never read, and it then gets scheme sources unless the whole list fits.
    """
    mode = site.csp
    if mode == "off" or _refuses_nothing(site, state):
        return None
    catalogue = catalogue if catalogue is not None else default_catalogue(site)
    nonces = [nonce] if nonce else []
    theirs = upstream_nonce(upstream_csp)
    if theirs and theirs not in nonces:
        log.debug("upstream CSP nonce differs from ours; admitting both")
        nonces.append(theirs)
    parts = []
    scope = _first_party_scope(page_host) if page_host else None
    for name, sources in per_consent_state(_serialized_directives, site, state, catalogue, necessary, scope):
        if name == "script-src" and nonces:
            sources = " ".join(f"'nonce-{n}'" for n in nonces) + " " + sources
        parts.append(f"{name} {sources}")
    parts.append("script-src-attr 'unsafe-inline'")
    parts.append(f"report-uri {report_path(site)}")
    if report_to:
        parts.append(f"report-to {REPORT_GROUP}")
    name = "Content-Security-Policy" if mode == "enforce" else "Content-Security-Policy-Report-Only"
    return name, "; ".join(parts)


def _refuses_nothing(site: SitePolicy, state: ConsentView) -> bool:
    """True when this visitor allowed everything the site could refuse (the engine's
    ``allows_everything``): a policy would then stop nothing of ours, yet still break what
    a consent policy is not about (``javascript:`` frames, inline scripts without a nonce)."""
    categories = site.categories
    if not categories or any(not state.allows(category) for category in categories):
        return False
    if any(override.allow == "never" for override in site.vendors.values()):
        return False
    if any(choice is False for choice in state.vendors.values()):
        return False
    unknown = site.unknown_third_party
    return unknown == "allow" or state.allows(unknown)


@functools.cache
def _warn_large(site_id: str, size: int) -> None:
    # Once per site and size: the size depends on the consent state and what the pages use.
    log.warning(
        "site %s: the consent CSP allowlist of the necessary services its pages use would be %d bytes "
        "(limit %d); sending https:/http: instead, so the guard alone stops unknown hosts and refused "
        "trackers injected at run time for this consent state",
        site_id, size, MAX_ALLOWLIST_BYTES,
    )


@functools.cache
def _note_unread(site_id: str, size: int) -> None:
    log.info(
        "site %s: the whole known-necessary allowlist is %d bytes (limit %d); a page gets a host allowlist "
        "of the necessary services the site's pages use once the proxy has read it, scheme sources before",
        site_id, size, MAX_ALLOWLIST_BYTES,
    )


def reporting_endpoints_header(site: SitePolicy) -> tuple[str, str]:
    """The ``Reporting-Endpoints`` header that makes ``report-to consentry-csp`` deliverable."""
    return "Reporting-Endpoints", f'{REPORT_GROUP}="{report_path(site)}"'


def csp_headers(
    site: SitePolicy, state: ConsentView, *, upstream_csp: str | None, nonce: str, catalogue: Catalogue | None = None,
    necessary: frozenset[str] | None = None, page_host: str | None = None,
) -> list[tuple[str, str]]:
    """Every header our policy needs (the policy with ``report-to``, and ``Reporting-Endpoints``)."""
    built = build_csp(site, state, upstream_csp=upstream_csp, nonce=nonce, catalogue=catalogue, report_to=True,
                      necessary=necessary, page_host=page_host)
    if built is None:
        return []
    return [built, reporting_endpoints_header(site)]


def _serialized_directives(
    site: SitePolicy, state: ConsentView, catalogue: Catalogue, necessary: frozenset[str] | None = None,
    scope: tuple[str, tuple[str, ...]] | None = None,
) -> tuple[tuple[str, str], ...]:
    """The directives as (name, sources text) pairs: immutable, so one consent state can share them."""
    return tuple((name, " ".join(sources)) for name, sources in _directives(site, state, catalogue, necessary, scope).items())


def _directives(
    site: SitePolicy, state: ConsentView, catalogue: Catalogue, necessary: frozenset[str] | None = None,
    scope: tuple[str, tuple[str, ...]] | None = None,
) -> dict[str, list[str]]:
    """Our fetch directives: one allowlist in ``default-src``, the script allowlist in ``script-src``.

    Consent is given per vendor, not per resource type, so a consented vendor's
    sources may serve any fetch: one union in ``default-src`` (which every other fetch
    directive falls back to) keeps the header small, and response headers have size
    limits along the way (aiohttp's client and many proxies stop at 8 KB). Only
    ``script-src`` is narrower (the sources vendors load scripts from), because it
    must carry the nonce and does not fall back.
    """
    own = ["'self'", *site_sources(site), *first_party_sources(scope)]
    unknown = site.unknown_third_party
    schemes: list[str] = []
    scripts: list[str] = []
    fetches: list[str] = []
    if unknown == "allow" or Classification(None, unknown).allowed_by(state):
        # A host allowlist cannot say "every host but the trackers": allow the schemes
        # (which cover every vendor host too) and leave refused catalogued trackers to
        # the guard (see the module docstring).
        schemes = ["https:", "http:"]
    else:
        site_id = site.site_id
        found = _allowlist(site, state, catalogue, None)
        if found is None and necessary is not None:
            # The whole known-necessary list is too large: admit the necessary services
            # this site's pages use (the page at hand was read, so its own are in there).
            found = _allowlist(site, state, catalogue, necessary)
            if found is None:
                _warn_large(site_id, _size(_allowlist(site, state, catalogue, necessary, cap=None) or ([], [])))
        elif found is None:
            _note_unread(site_id, _size(_allowlist(site, state, catalogue, None, cap=None) or ([], [])))
        if found is None:
            # Past the cap the header risks 502s from proxies in front of us (nginx's
            # default proxy_buffer_size is 4-8 KB), which is worse than leaving unknown
            # hosts and refused trackers to the guard alone.
            schemes = ["https:", "http:"]
        else:
            scripts, fetches = found
    return {
        # Legacy pages are full of inline styles and data: images; neither is how trackers run.
        "default-src": [*own, *fetches, "data:", "blob:", "'unsafe-inline'", *schemes, *(["wss:", "ws:"] if schemes else [])],
        # This is a consent policy, not an XSS policy: breaking eval-based libraries would
        # break the site without keeping any tracker out (loads still face the allowlist).
        "script-src": [*own, *scripts, "'unsafe-eval'", *schemes],
        # Workers fall back to script-src, which has no blob:; many sites build workers from blobs.
        "worker-src": [*own, "blob:", *schemes],
    }


def first_party_sources(scope: tuple[str, tuple[str, ...]] | None) -> list[str]:
    """The page's own site as host-sources: its registrable domain and every subdomain.

    ``*.example.co.uk`` does not match the apex (CSP3 host-source matching), so both go
    in. When the Public Suffix List has suffixes below the domain (subdomains owned by
    others) only the apex; when the page host is its own scope (an IP literal, a public
    suffix, a hosting platform's apex) nothing: 'self' covers the page's origin. A host
    that is not a plain DNS name (the Host header is the visitor's) gives nothing.
    """
    if scope is None:
        return []
    domain, below = scope
    if below == (domain,) or not _DNS_NAME.fullmatch(domain):
        return []
    return [domain] if below else [domain, f"*.{domain}"]


_DNS_NAME = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)+[a-z0-9-]*[a-z][a-z0-9-]*")


def _first_party_scope(page_host: str) -> tuple[str, tuple[str, ...]]:
    from proxy.catalogue.urls import first_party_scope  # lazily: the catalogue loads on demand

    return first_party_scope(page_host)


def _size(found: tuple[list[str], list[str]]) -> int:
    return sum(len(source) + 1 for source in found[0] + found[1])


def _allowlist(
    site: SitePolicy, state: ConsentView, catalogue: Catalogue, necessary: frozenset[str] | None,
    *, cap: int | bool | None = True,
) -> tuple[list[str], list[str]] | None:
    """(script sources, fetch sources) of the vendors and rules this visitor allows, compacted,
    or None when they pass `cap` bytes (True: `MAX_ALLOWLIST_BYTES`, None: no cap).
    ``necessary``: admit only these of the catalogue's necessary vendors (None: all of them)."""
    if cap is True:
        cap = MAX_ALLOWLIST_BYTES
    refused: list[str] = []
    explicit: set[str] = set()   # the site's own rules: kept exactly as written
    scripts: list[str] = []
    fetches: list[str] = []
    for vendor, found in classified_vendors(site, catalogue):
        if not found.allowed_by(state):
            refused.extend(split_entry(entry)[0] for entry in vendor.hosts)
            continue
        if necessary is not None and found.override is None and found.category == NECESSARY and vendor.id not in necessary:
            continue   # a known-necessary service this site's pages were not seen to use
        for name, sources in vendor_sources(vendor).items():
            (scripts if name in ("script-src", "script-src-elem", "worker-src") else fetches).extend(sources)
    for rule in site.rules:
        host = rule.host
        if not host:
            continue
        if Classification(rule.vendor, rule.category).allowed_by(state):
            source = host_source(host, rule.path_prefix)
            scripts.extend(source)
            fetches.extend(source)
            explicit.update(source)
        else:
            refused.append(host.lower())
    scripts = compact(scripts, refused, keep=explicit)
    fetches = compact(scripts + fetches, refused, keep=explicit)
    if cap is not None and _size((scripts, fetches)) > cap:
        return None
    return scripts, fetches
