"""The CSP violation report endpoint: ``POST <consent_path>/csp-report`` for every site.

Browsers post a report whenever our consent policy (or the site's own) stops, or in
``report`` mode would stop, a fetch. Each report is counted in
``consentry_csp_violations_total{directive,host}`` and logged (directive and blocked
host only: the document URL and the rest of the report may carry personal data), which
gives a site owner a view of what still tries to run. Both wire formats are accepted:
``application/csp-report`` (``report-uri``) and ``application/reports+json``
(``report-to``, the Reporting API). Bodies are bounded; anyone can post here, so the
host label is capped too. The endpoint answers 204 and never forwards anything upstream.

`register(app)` installs it as a middleware, because every site may name its own
consent path and sites are chosen by ``Host`` at request time. Imports aiohttp and
prometheus-client; must not import mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from proxy.defaults import CONSENT_PATH
from proxy.server.ratelimit import retry_after
from proxy.server.services import SERVICES

__all__ = ["CSP_VIOLATIONS", "MAX_REPORT_BYTES", "Violations", "register"]

log = logging.getLogger(__name__)

MAX_REPORT_BYTES = 64 * 1024
"""A report is a few hundred bytes; a Reporting API batch a few KB. More is not a report."""
MAX_HOSTS = 100
"""Distinct host labels kept; beyond that hosts are counted as "other" (labels cost memory forever)."""
DIRECTIVES = frozenset({
    "child-src", "connect-src", "default-src", "fenced-frame-src", "font-src", "frame-src", "img-src",
    "manifest-src", "media-src", "object-src", "prefetch-src", "script-src", "script-src-elem",
    "script-src-attr", "style-src", "style-src-elem", "style-src-attr", "worker-src", "base-uri",
    "form-action", "frame-ancestors", "navigate-to", "require-trusted-types-for", "trusted-types",
    "webrtc", "sandbox", "upgrade-insecure-requests", "block-all-mixed-content",
})
"""The directive label's whole vocabulary (CSP Level 3 fetch, document and navigation directives)."""
REPORT_TYPES = ("application/csp-report", "application/reports+json", "application/json")

# blocked-uri keywords browsers send instead of a URL.
_KEYWORDS = frozenset({"inline", "eval", "wasm-eval", "data", "blob", "self", "trusted-types-sink", "trusted-types-policy"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Violations:
    """The counter behind ``/metrics`` plus the bounded set of host labels seen."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.counter = Counter(
            "consentry_csp_violations",
            "CSP violation reports received, by effective directive and blocked host",
            ["directive", "host"],
            registry=registry,
        )
        self._hosts: set[str] = set()
        self._logged: set[tuple[str, str]] = set()

    def count(self, directive: str, host: str, site_id: str) -> None:
        if host not in self._hosts:
            if len(self._hosts) >= MAX_HOSTS:
                host = "other"
            else:
                self._hosts.add(host)
        self.counter.labels(directive, host).inc()
        key = (directive, host)
        # The first of each kind at INFO, repeats at DEBUG: a busy page reports on every view.
        if key not in self._logged and len(self._logged) < MAX_HOSTS * 4:
            self._logged.add(key)
            log.info("CSP violation on site %s: %s blocked %s", site_id, directive, host)
        else:
            log.debug("CSP violation on site %s: %s blocked %s", site_id, directive, host)


CSP_VIOLATIONS = web.AppKey("csp_violations", Violations)


def register(app: web.Application, *, registry: CollectorRegistry | None = None, consent_paths: Iterable[str] = ()) -> None:
    """Serve ``<consent_path>/csp-report`` on `app`.

    In the proxy app the site (and so its consent path) comes from the request's Host
    and the counter goes on the app's own metrics registry. An app without the proxy's
    services (tests, embedders) passes `registry` and `consent_paths` (default ``/_consent``).
    """
    if registry is None:
        registry = _services_registry(app)
    app[CSP_VIOLATIONS] = Violations(registry)
    fixed = tuple(p.rstrip("/") + "/csp-report" for p in consent_paths) or (CONSENT_PATH + "/csp-report",)

    @web.middleware
    async def csp_reports(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.endswith("/csp-report"):
            return await handler(request)
        site_id = _report_site(request, fixed)
        if site_id is None:
            return await handler(request)
        if request.method != "POST":
            return web.Response(status=405, text="send reports with POST\n", headers={"Allow": "POST"})
        return await receive(request, site_id)

    app.middlewares.append(csp_reports)


def _services_registry(app: web.Application) -> CollectorRegistry | None:
    services = app.get(SERVICES)
    return services.metrics.registry if services is not None else None


def _report_site(request: web.Request, fixed: tuple[str, ...]) -> str | None:
    """The site id when the path is this site's report path, else None (the request goes on)."""
    services = request.app.get(SERVICES) if SERVICES is not None else None
    if services is None:
        return "default" if request.path in fixed else None
    site = services.config().site_for_host(request.host)
    if site is None:
        return None
    path = site.consent_path.rstrip("/") + "/csp-report"
    return site.site_id if request.path == path else None


async def receive(request: web.Request, site_id: str) -> web.Response:
    services = request.app.get(SERVICES) if SERVICES is not None else None
    max_bytes = services.limits.csp_report_size if services is not None else MAX_REPORT_BYTES
    content_type = request.content_type.lower()
    if content_type not in REPORT_TYPES:
        return web.Response(status=415, text=f"send {' or '.join(REPORT_TYPES[:2])}\n")
    if services is not None:
        # Anyone can post here: a per-client budget keeps the log and the counter honest.
        wait = services.csp_rate.take(services.client_ip(request))
        if wait:
            services.metrics.rate_limited.labels("csp-report").inc()
            return web.Response(status=429, text="too many reports\n", headers={"Retry-After": retry_after(wait)})
    if request.content_length is not None and request.content_length > max_bytes:
        return web.Response(status=413, text="report too large\n")
    body = await request.content.read(max_bytes + 1)
    if len(body) > max_bytes:
        return web.Response(status=413, text="report too large\n")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return web.Response(status=400, text="not JSON\n")
    violations = request.app[CSP_VIOLATIONS]
    found = 0
    for directive, host in violations_in(data):
        violations.count(directive, host, site_id)
        found += 1
    if not found:
        return web.Response(status=400, text="no CSP violation in the report\n")
    return web.Response(status=204)


def violations_in(data: Any) -> Iterator[tuple[str, str]]:
    """(directive, blocked host) for each violation in either report format."""
    if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
        report = data["csp-report"]
        yield _directive(report.get("effective-directive") or report.get("violated-directive")), _host(report.get("blocked-uri"))
        return
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return
    for item in data[:20]:
        if isinstance(item, dict) and item.get("type") == "csp-violation" and isinstance(item.get("body"), dict):
            body = item["body"]
            yield _directive(body.get("effectiveDirective") or body.get("violatedDirective")), _host(body.get("blockedURL"))


def _directive(value: Any) -> str:
    text = value.split()[0].lower() if isinstance(value, str) and value.split() else ""
    return text if text in DIRECTIVES else "other"


def _host(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "none"
    text = value.strip().lower()
    if text in _KEYWORDS:
        return text
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return "other"
    if host:
        return host[:253]
    # Schemes without a host (data:, blob:, about:) are reported by scheme alone.
    return parts.scheme[:20] if parts.scheme and re.fullmatch(r"[a-z][a-z0-9+.-]*", parts.scheme) else "other"
