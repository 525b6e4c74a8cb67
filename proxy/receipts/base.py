"""What every receipt store offers, and the parts the two backends share.

`ReceiptStore` is the interface the server and the CLI use; `StoreBase` holds the
IP salt and the paged export loop. A store records durably (committed) before
`record` returns the receipt's row id, and turns every backend failure into
`ReceiptStoreError`.
Imports the stdlib only.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from proxy.receipts.model import Receipt, hash_ip

__all__ = [
    "EXPORT_PAGE_SIZE",
    "PROCESS_SALT",
    "BannerTexts",
    "DecisionCount",
    "ImpressionCount",
    "ImpressionKey",
    "ReceiptStore",
    "StoreBase",
    "day_bounds",
    "prune_cutoff",
]

logger = logging.getLogger(__name__)

# Export reads this many rows per round trip, so memory stays flat for any store size
# and the writer is never blocked for long.
EXPORT_PAGE_SIZE: Final = 500
# Drawn once when this module is imported: a server imports it before it forks its
# workers, so without a configured salt they still hash one visitor's IP alike.
# Replicas on other hosts cannot share it; the policy loader refuses a shared
# (PostgreSQL) store without a configured salt.
PROCESS_SALT: Final = os.urandom(16)


# (site id, UTC day, variant id or None): what one impression is counted under.
type ImpressionKey = tuple[str, dt.date, str | None]


@dataclass(frozen=True, slots=True)
class ImpressionCount:
    """How many pages of a site showed the banner (variant, or None) on one UTC day."""

    site_id: str
    day: dt.date
    variant: str | None
    count: int


@dataclass(frozen=True, slots=True)
class DecisionCount:
    """How many receipts of one UTC day, variant, action and granted set a site holds."""

    day: dt.date
    variant: str | None
    action: str
    granted: tuple[str, ...]
    count: int


@dataclass(frozen=True, slots=True)
class BannerTexts:
    """The texts behind one ``banner_texts_digest``: the canonical JSON that was hashed."""

    digest: str
    site_id: str
    lang: str
    canonical: str
    first_seen: dt.datetime


def day_bounds(since: dt.date | None, until: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start, end) in UTC for the inclusive day range since..until (None: open)."""
    start = dt.datetime.combine(since, dt.time(), dt.UTC) if since else None
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC) if until else None
    return start, end


class ReceiptStore(Protocol):
    url: str

    async def record(self, receipt: Receipt) -> int: ...
    def export(self, since: dt.datetime | None = None) -> AsyncIterator[Receipt]: ...
    async def get(self, consent_id: str) -> list[Receipt]: ...
    async def prune(self, retention_days: float, *, now: dt.datetime | None = None) -> int: ...
    async def check_writable(self) -> None: ...
    async def close(self) -> None: ...
    def hash_ip(self, ip: str | None) -> str | None: ...
    async def add_impressions(self, counts: Mapping[ImpressionKey, int]) -> None: ...
    async def impression_counts(
        self, site_id: str | None, since: dt.date | None = None, until: dt.date | None = None
    ) -> list[ImpressionCount]: ...
    async def decision_counts(
        self, site_id: str, since: dt.date | None = None, until: dt.date | None = None
    ) -> list[DecisionCount]: ...
    async def keep_banner_texts(self, digest: str, site_id: str, lang: str, canonical: str) -> None: ...
    async def banner_texts(self, digest: str) -> BannerTexts | None: ...


def prune_cutoff(retention_days: float, now: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    """(cutoff, now): receipts created before cutoff may go, unless their consent is still in force."""
    if retention_days < 0:
        raise ValueError(f"retention_days must be >= 0, got {retention_days}")
    now = now or dt.datetime.now(dt.UTC)
    return now - dt.timedelta(days=retention_days), now


class StoreBase:
    """Salted IP hashing and the export loop over `_page(since, after_id)`."""

    url: str

    def __init__(self, url: str, ip_salt: bytes | None) -> None:
        self.url = url
        if ip_salt is None:
            # Hashes stay comparable within this process (and its workers) only; set
            # receipts.ip_salt_env/ip_salt_file to keep them comparable across restarts.
            logger.info("receipts: no ip_salt configured; using a random per-process salt")
            ip_salt = PROCESS_SALT
        self._ip_salt = ip_salt

    def hash_ip(self, ip: str | None) -> str | None:
        """The IP as it may be stored: a salted truncated hash, or None."""
        return hash_ip(ip, self._ip_salt) if ip else None

    async def _page(self, since: dt.datetime | None, after_id: int) -> list[Receipt]:
        raise NotImplementedError

    async def export(self, since: dt.datetime | None = None) -> AsyncIterator[Receipt]:
        """Every receipt created at or after `since` (all when None), oldest first."""
        after_id = 0
        while True:
            page = await self._page(since, after_id)
            if not page:
                return
            for receipt in page:
                yield receipt
            after_id = page[-1].receipt_id or after_id
