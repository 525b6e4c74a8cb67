"""Proof-of-consent receipts: every decision and withdrawal, stored before the cookie.

`open_store(url)` gives a SQLite (embedded default, WAL) or PostgreSQL (asyncpg,
lazily imported) store with the same schema and migrations; `record` is durable
when it returns and raises `ReceiptStoreError` otherwise, so the server can
refuse to issue a cookie it cannot prove. Must never depend on aiohttp, mitmproxy,
pydantic or the consent/policy packages.
"""

from proxy.receipts.base import BannerTexts, DecisionCount, ImpressionCount, ImpressionKey, ReceiptStore
from proxy.receipts.export import export_lines, receipts_from_lines
from proxy.receipts.model import (
    RECEIPT_ACTIONS,
    Receipt,
    ReceiptStoreError,
    banner_texts_canonical,
    banner_texts_digest,
    hash_ip,
    vendor_list_digest,
)
from proxy.receipts.retention import prune_once, run_retention
from proxy.receipts.store import open_store

__all__ = [
    "RECEIPT_ACTIONS",
    "BannerTexts",
    "DecisionCount",
    "ImpressionCount",
    "ImpressionKey",
    "Receipt",
    "ReceiptStore",
    "ReceiptStoreError",
    "banner_texts_canonical",
    "banner_texts_digest",
    "export_lines",
    "hash_ip",
    "open_store",
    "prune_once",
    "receipts_from_lines",
    "run_retention",
    "vendor_list_digest",
]
