"""Banner impressions: counted in memory per (site, UTC day, variant), flushed to the store.

Every HTML response into which the banner was injected for a visitor without a
decision counts one impression. Counting is a dict increment on the event loop (no
I/O, no lock: aiohttp handlers share one thread); ``run_flusher`` adds the counts to
the receipts store every ``interval`` seconds in one transaction, and the server
flushes once more at shutdown, after in-flight requests have drained. Stores add
(never overwrite), so several workers or replicas sharing one store sum up.
A failed flush keeps its counts for the next attempt; an ungraceful kill (SIGKILL,
power loss) loses at most the counts since the last flush (one interval).
Must not import aiohttp.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterator
from typing import Final

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from proxy.receipts import ReceiptStore

log = logging.getLogger(__name__)

_EPOCH: Final = dt.date(1970, 1, 1)
NO_VARIANT_LABEL: Final = "none"


class ImpressionCounter:
    """Impressions not yet stored, plus per-process totals for the metrics."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, dt.date, str | None], int] = {}
        self.totals: dict[tuple[str, str | None], int] = {}
        self._day_number = -1
        self._day = _EPOCH

    def count(self, site_id: str, variant_id: str | None, now: float | None = None) -> None:
        """One banner shown on ``site_id`` with ``variant_id`` (None: no variant)."""
        day_number = int((time.time() if now is None else now) // 86400)
        if day_number != self._day_number:
            self._day_number, self._day = day_number, _EPOCH + dt.timedelta(days=day_number)
        key = (site_id, self._day, variant_id)
        self._pending[key] = self._pending.get(key, 0) + 1
        total_key = (site_id, variant_id)
        self.totals[total_key] = self.totals.get(total_key, 0) + 1

    @property
    def pending(self) -> int:
        return sum(self._pending.values())

    def take(self) -> dict[tuple[str, dt.date, str | None], int]:
        taken, self._pending = self._pending, {}
        return taken

    def give_back(self, counts: dict[tuple[str, dt.date, str | None], int]) -> None:
        for key, value in counts.items():
            self._pending[key] = self._pending.get(key, 0) + value

    async def flush(self, store: ReceiptStore) -> bool:
        """Add the pending counts to the store; on failure keep them (True when nothing is left)."""
        counts = self.take()
        if not counts:
            return True
        try:
            await store.add_impressions(counts)
        except Exception:
            self.give_back(counts)
            log.exception("impressions: could not store %d impression(s); keeping them for the next flush",
                          sum(counts.values()))
            return False
        log.debug("impressions: stored %d", sum(counts.values()))
        return True

    async def run_flusher(self, store: ReceiptStore, interval: float) -> None:
        """Flush every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await self.flush(store)


class ImpressionMetrics(Collector):
    """``consentry_banner_impressions_total{site,variant}``, read from the counter at scrape time."""

    def __init__(self, counter: ImpressionCounter) -> None:
        self._counter = counter

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "consentry_banner_impressions",
            "Pages on which the consent banner was shown to a visitor without a decision, by site and variant",
            labels=["site", "variant"],
        )
        for (site, variant), count in sorted(self._counter.totals.items(), key=lambda item: (item[0][0], item[0][1] or "")):
            family.add_metric([site, variant or NO_VARIANT_LABEL], count)
        yield family
