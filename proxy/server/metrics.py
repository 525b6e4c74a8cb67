"""Prometheus metrics of one proxy process, on a registry of its own.

Each app gets its own ``CollectorRegistry`` so several apps in one process (the tests
start many) never clash over metric names, and ``/metrics`` on the admin listener shows
exactly this app's numbers. Token failures are not counted here twice: they are read,
at scrape time, from ``proxy.consent``'s own counter. Labels carry no personal data
(site ids, vendor ids, categories, actions and reasons only). Imports prometheus-client
and the consent package's failure counter; must not import aiohttp.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from proxy.engine import ReportEntry

try:
    from proxy.consent.failures import failure_counts
except ImportError:   # the consent package is still landing; no failures to show yet
    failure_counts = {}  # type: ignore[assignment]


_ACTIONS = frozenset({"keep", "defer", "strip", "activate"})


class _WorkerRestarts(Collector):
    """Read at scrape time from the supervisor's shared memory (every worker shows the total)."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        from proxy.server.supervisor import restart_counts

        family = CounterMetricFamily(
            "consentry_worker_restarts", "Workers the supervisor replaced, by cause (exit, signal, stuck)", labels=["cause"]
        )
        for cause, count in restart_counts().items():
            family.add_metric([cause], count)
        yield family


class _DroppedLogRecords(Collector):
    """Log records dropped because their destination was not reading (proxy.loghandoff)."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        from proxy.loghandoff import dropped_counts

        family = CounterMetricFamily(
            "consentry_log_records_dropped", "Log records dropped because the log destination was not reading "
            "(log: access or log)", labels=["log"]
        )
        for name, count in dropped_counts().items():
            family.add_metric([name], count)
        yield family


class _TokenFailures(Collector):
    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "consentry_token_failures", "Consent cookies not trusted, by reason", labels=["reason"]
        )
        for reason, count in sorted(dict(failure_counts).items()):
            family.add_metric([reason], count)
        yield family


class Metrics:
    """The counters and histograms the server updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "consentry_requests", "Requests answered, by site, kind and status class",
            ["site", "kind", "status"], registry=r,
        )
        self.upstream_latency = Histogram(
            "consentry_upstream_latency_seconds", "Time from sending upstream to its response headers",
            ["site"], registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.upstream_errors = Counter(
            "consentry_upstream_errors", "Upstream failures, by kind (connect, timeout, body)",
            ["site", "kind"], registry=r,
        )
        self.rewritten_bytes = Counter(
            "consentry_rewritten_bytes", "Decoded HTML bytes that went through the rewriter",
            ["site"], registry=r,
        )
        self.replays = Counter(
            "consentry_rewrite_replays", "HTML responses by what the replay cache did: replayed (a recorded rewrite "
            "answered whole), diverged (the page differed from its record: rewritten from there), recorded, volatile "
            "(a page that keeps changing, not recorded)",
            ["site", "result"], registry=r,
        )
        self.elements = Counter(
            "consentry_elements", "Elements the engine classified, by vendor, category and action",
            ["vendor", "category", "action"], registry=r,
        )
        self.decisions = Counter(
            "consentry_consent_decisions", "Consent decisions recorded, by site and action",
            ["site", "action"], registry=r,
        )
        # Variant ids come from the config only (unknown posted ids count as "none").
        self.banner_decisions = Counter(
            "consentry_banner_decisions", "Consent decisions recorded, by site, banner variant and action",
            ["site", "variant", "action"], registry=r,
        )
        self.receipt_errors = Counter(
            "consentry_receipt_errors", "Consent decisions refused because the receipt store failed",
            ["site"], registry=r,
        )
        self.connections_refused = Counter(
            "consentry_connections_refused", "Client connections refused at a connection cap (client, total)",
            ["reason"], registry=r,
        )
        self.client_timeouts = Counter(
            "consentry_client_timeouts", "Client connections closed by a timeout (header, body, send, websocket_idle)",
            ["phase"], registry=r,
        )
        self.rate_limited = Counter(
            "consentry_rate_limited", "Requests answered 429, by endpoint (consent, csp-report)",
            ["endpoint"], registry=r,
        )
        r.register(_TokenFailures())
        r.register(_WorkerRestarts())
        r.register(_DroppedLogRecords())
        # labels() validates and hashes on every call; the hot path reuses the children.
        # Bounded: every label value on these paths is a site id or comes from a fixed set.
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        child = self._children.get((metric, labels))
        if child is None:
            child = self._children[(metric, labels)] = metric.labels(*labels)
        return child

    def count_request(self, site: str, kind: str, status: int) -> None:
        self._child(self.requests, site, kind, f"{status // 100}xx").inc()

    def observe_latency(self, site: str, seconds: float) -> None:
        self._child(self.upstream_latency, site).observe(seconds)

    def connection_event(self, kind: str, reason: str) -> None:
        if kind == "refused":
            self.connections_refused.labels(reason).inc()
        else:
            self.client_timeouts.labels(reason).inc()

    def count_report(self, entries: Iterable[ReportEntry], categories: Collection[str] = (),
                     vendors: Collection[str] = ()) -> None:
        """Count classified elements; labels only from the policy's categories and the catalogue.

        A page's markup chooses ``data-consent`` values and so could mint a label per
        request (every label value is a series kept forever): anything outside the
        site's categories or the known vendors is counted as "other".
        """
        counted: dict[tuple[str, str, str], int] = {}
        for entry in entries:
            vendor = entry.vendor or "unknown"
            category = entry.category or "none"
            action = entry.action
            if vendor != "unknown" and vendor not in vendors:
                vendor = "other"
            if category not in categories and category not in ("none", "necessary", "unclassified"):
                category = "other"
            if action not in _ACTIONS:
                action = "other"
            labels = (vendor, category, action)
            counted[labels] = counted.get(labels, 0) + 1
        for labels, count in counted.items():   # one locked increment per series, not per element
            self._child(self.elements, *labels).inc(count)

    def count_replay(self, site: str, result: str) -> None:
        self._child(self.replays, site, result).inc()

    def count_rewritten(self, site: str, size: int) -> None:
        self._child(self.rewritten_bytes, site).inc(size)

    def render(self) -> bytes:
        return generate_latest(self.registry)
