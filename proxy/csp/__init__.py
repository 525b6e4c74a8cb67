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
  allowlist that blocks refused trackers and unknown hosts by itself: 'self', the
  page's own site (registrable domain and subdomains), the site's hosts, necessary
  vendors and consented vendors. It is one union in ``default-src`` plus the script
  sources in ``script-src`` (consent is per vendor, not per resource type),
  compacted by registrable domain (``sources``), and capped (`MAX_ALLOWLIST_BYTES`):
  proxies in front of us refuse headers past 4-8 KB. The whole known-necessary list
  does not fit, so a page the proxy has read admits the necessary vendors the site's
  pages were seen to use (``in_use``); a page not read yet, or an allowlist still
  past the cap, gets the schemes (logged once).
* `guard_script` returns the inline source of ``web/guard.js`` with the refused
  hosts baked in as JSON; it wraps DOM and network APIs so refused trackers
  created at run time stay inert (DESIGN.md markup) until the runtime lifts them.

Both are built once per site and consent state and cached (they walk the whole
catalogue); only the nonce changes per response. Modules: ``policy`` (the header),
``guard`` (the script), ``vendors`` (who may load), ``sources`` (compact
host-sources), ``in_use`` (the necessary services a site's pages use), ``cache`` (one
build per consent state). Standard library only (the
catalogue is loaded lazily when none is passed); must not import aiohttp,
mitmproxy, jwt, pydantic or the HTML rewriter.
"""

from __future__ import annotations

from proxy.csp.guard import guard_config, guard_script, guard_tag, minify_guard, site_guard
from proxy.csp.policy import (
    MAX_ALLOWLIST_BYTES,
    REPORT_GROUP,
    build_csp,
    csp_headers,
    new_nonce,
    nonce_for,
    parse_policy,
    report_path,
    reporting_endpoints_header,
    upstream_nonce,
)

__all__ = [
    "MAX_ALLOWLIST_BYTES",
    "REPORT_GROUP",
    "build_csp",
    "csp_headers",
    "guard_config",
    "guard_script",
    "guard_tag",
    "minify_guard",
    "new_nonce",
    "nonce_for",
    "parse_policy",
    "report_path",
    "reporting_endpoints_header",
    "site_guard",
    "upstream_nonce",
]
