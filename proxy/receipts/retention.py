"""Retention: delete receipts once they are older than the configured period.

`run_retention` is a background loop the server starts next to its store (and
cancels, or stops through `stop`, on shutdown): it prunes at once, then every
`interval_seconds`. A failing store is logged and retried at the next interval;
retention never takes the proxy down. Stores keep receipts whose consent is
still in force whatever their age (see `prune`). Imports the stdlib only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from proxy.receipts.base import ReceiptStore
from proxy.receipts.model import ReceiptStoreError

__all__ = ["DEFAULT_PRUNE_INTERVAL_SECONDS", "prune_once", "run_retention"]

logger = logging.getLogger(__name__)

DEFAULT_PRUNE_INTERVAL_SECONDS: Final = 24 * 3600


async def prune_once(store: ReceiptStore, retention_days: float) -> int | None:
    """Prune now; the number deleted, or None when the store failed (logged)."""
    try:
        deleted = await store.prune(retention_days)
    except ReceiptStoreError as exc:
        logger.warning("receipts: pruning receipts older than %s days failed: %s", retention_days, exc)
        return None
    if deleted:
        logger.info("receipts: pruned %d receipts older than %s days", deleted, retention_days)
    return deleted


async def run_retention(
    store: ReceiptStore,
    retention_days: float,
    *,
    interval_seconds: float = DEFAULT_PRUNE_INTERVAL_SECONDS,
    stop: asyncio.Event | None = None,
) -> None:
    """Prune now and then every `interval_seconds` until `stop` is set or the task is cancelled."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        await prune_once(store, retention_days)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
