"""The receipts schema as numbered migrations, one SQL text per backend.

Both backends hold the same table and columns; only the types differ where the
databases do (SQLite stores ISO 8601 UTC text, which sorts chronologically;
PostgreSQL uses timestamptz). A migration is applied once, in order, and noted in
`schema_migrations`; adding a column means appending a migration, never editing
one. Imports the stdlib only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from proxy.receipts.model import Receipt

__all__ = ["MIGRATIONS", "Migration", "MIGRATIONS_TABLE_POSTGRES", "MIGRATIONS_TABLE_SQLITE", "RECEIPT_COLUMNS"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    sqlite: str
    postgres: str


MIGRATIONS_TABLE_SQLITE: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""

MIGRATIONS_TABLE_POSTGRES: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)"""

# In insert order; granted/refused are JSON arrays of category names in both backends.
RECEIPT_COLUMNS: Final[tuple[str, ...]] = (
    "consent_id",
    "site_id",
    "policy_version",
    "vendor_list_digest",
    "granted",
    "refused",
    "action",
    "created_at",
    "expires_at",
    "ip_hash",
    "user_agent",
    "gpc",
    "banner_variant",
    "banner_texts_digest",
)

_ACTIONS_CHECK = "action IN ('accept_all', 'reject_all', 'save', 'withdraw')"

MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        version=1,
        description="receipts table",
        sqlite=f"""
CREATE TABLE receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    consent_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    vendor_list_digest TEXT NOT NULL,
    granted TEXT NOT NULL,
    refused TEXT NOT NULL,
    action TEXT NOT NULL CHECK ({_ACTIONS_CHECK}),
    created_at TEXT NOT NULL,
    expires_at TEXT,
    ip_hash TEXT,
    user_agent TEXT,
    gpc INTEGER NOT NULL CHECK (gpc IN (0, 1))
);
CREATE INDEX receipts_consent_id ON receipts (consent_id);
CREATE INDEX receipts_created_at ON receipts (created_at);
""",
        postgres=f"""
CREATE TABLE receipts (
    id BIGSERIAL PRIMARY KEY,
    consent_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    vendor_list_digest TEXT NOT NULL,
    granted TEXT NOT NULL,
    refused TEXT NOT NULL,
    action TEXT NOT NULL CHECK ({_ACTIONS_CHECK}),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    ip_hash TEXT,
    user_agent TEXT,
    gpc BOOLEAN NOT NULL
);
CREATE INDEX receipts_consent_id ON receipts (consent_id);
CREATE INDEX receipts_created_at ON receipts (created_at);
""",
    ),
    Migration(
        version=2,
        description="banner variants: receipt columns, the texts behind each digest, impressions per day",
        sqlite="""
ALTER TABLE receipts ADD COLUMN banner_variant TEXT;
ALTER TABLE receipts ADD COLUMN banner_texts_digest TEXT;
CREATE TABLE banner_texts (
    digest TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    lang TEXT NOT NULL,
    canonical TEXT NOT NULL,
    first_seen TEXT NOT NULL
);
CREATE TABLE banner_impressions (
    site_id TEXT NOT NULL,
    day TEXT NOT NULL,
    variant TEXT NOT NULL,
    impressions INTEGER NOT NULL CHECK (impressions >= 0),
    PRIMARY KEY (site_id, day, variant)
);
CREATE INDEX receipts_site_created ON receipts (site_id, created_at);
""",
        postgres="""
ALTER TABLE receipts ADD COLUMN banner_variant TEXT;
ALTER TABLE receipts ADD COLUMN banner_texts_digest TEXT;
CREATE TABLE banner_texts (
    digest TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    lang TEXT NOT NULL,
    canonical TEXT NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL
);
CREATE TABLE banner_impressions (
    site_id TEXT NOT NULL,
    day DATE NOT NULL,
    variant TEXT NOT NULL,
    impressions BIGINT NOT NULL CHECK (impressions >= 0),
    PRIMARY KEY (site_id, day, variant)
);
CREATE INDEX receipts_site_created ON receipts (site_id, created_at);
""",
    ),
)


def _same(value: Any) -> Any:
    return value


def row_values(
    receipt: Receipt, *, encode_time: Callable[[Any], Any] = _same, encode_flag: Callable[[bool], Any] = _same
) -> tuple[Any, ...]:
    """A receipt's values in ``RECEIPT_COLUMNS`` order, so insert order cannot drift from
    the column list; each backend says only how it stores times and the GPC flag."""
    values: list[Any] = []
    for column in RECEIPT_COLUMNS:
        value = getattr(receipt, column)  # getattr: the columns are data (RECEIPT_COLUMNS)
        if column in ("granted", "refused"):
            value = json.dumps(value)
        elif column in ("created_at", "expires_at"):
            value = encode_time(value)
        elif column == "gpc":
            value = encode_flag(value)
        values.append(value)
    return tuple(values)
