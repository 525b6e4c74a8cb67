"""The embedded receipt store: one SQLite file in WAL mode, written from one thread.

All database work runs on a single dedicated thread that owns the connection, so
the event loop never blocks on disk. `record` calls that arrive together are
group-committed: one transaction, one fsync (synchronous=FULL), each receipt in
its own savepoint so one bad row fails alone. `record` returns only after the
commit. Several proxy processes may share the file (WAL + busy timeout). Must not
depend on aiohttp or asyncpg.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

from proxy.receipts.base import (
    EXPORT_PAGE_SIZE,
    BannerTexts,
    DecisionCount,
    ImpressionCount,
    ImpressionKey,
    StoreBase,
    day_bounds,
    prune_cutoff,
)
from proxy.receipts.model import Receipt, ReceiptStoreError
from proxy.receipts.schema import MIGRATIONS, MIGRATIONS_TABLE_SQLITE, RECEIPT_COLUMNS, row_values

__all__ = ["SQLiteReceiptStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_SECONDS: Final = 10.0
# Bounds one transaction (and so the wait of the last caller in a burst).
MAX_BATCH: Final = 1000
_INSERT: Final = (
    f"INSERT INTO receipts ({', '.join(RECEIPT_COLUMNS)}) VALUES ({', '.join('?' for _ in RECEIPT_COLUMNS)})"
)
_SELECT: Final = f"SELECT id, {', '.join(RECEIPT_COLUMNS)} FROM receipts"
_ADD_IMPRESSIONS: Final = (
    "INSERT INTO banner_impressions (site_id, day, variant, impressions) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (site_id, day, variant) DO UPDATE SET impressions = impressions + excluded.impressions"
)


def _range_clause(column: str, site_id: str | None, start: str | None, end: str | None) -> tuple[str, tuple[Any, ...]]:
    """`` WHERE site_id = ? AND column >= ? AND column < ?`` with only the parts given."""
    parts: list[str] = []
    args: list[Any] = []
    for clause, value in (("site_id = ?", site_id), (f"{column} >= ?", start), (f"{column} < ?", end)):
        if value is not None:
            parts.append(clause)
            args.append(value)
    return (" WHERE " + " AND ".join(parts) if parts else ""), tuple(args)


def _iso(value: dt.datetime | None) -> str | None:
    # Fixed width (always microseconds, always +00:00) so text order is time order.
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds") if value else None


def _switch_to_wal(connection: sqlite3.Connection) -> str:
    """``PRAGMA journal_mode=WAL``, waiting out another process doing the same.

    SQLite answers "database is locked" at once, without its busy handler, when two
    processes open a new file together (workers starting side by side), so the switch
    is retried here within the same busy timeout as every other statement.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    delay = 0.005
    while True:
        try:
            return str(connection.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _row_values(receipt: Receipt) -> tuple[Any, ...]:
    return row_values(receipt, encode_time=_iso, encode_flag=int)


def _receipt(row: sqlite3.Row | tuple[Any, ...]) -> Receipt:
    (row_id, consent_id, site_id, pv, digest, granted, refused, action, created, expires, ip_hash, ua, gpc,
     variant, texts_digest) = row
    return Receipt(
        consent_id=consent_id,
        site_id=site_id,
        policy_version=pv,
        vendor_list_digest=digest,
        granted=json.loads(granted),
        refused=json.loads(refused),
        action=action,
        created_at=dt.datetime.fromisoformat(created),
        expires_at=dt.datetime.fromisoformat(expires) if expires else None,
        ip_hash=ip_hash,
        user_agent=ua,
        gpc=bool(gpc),
        banner_variant=variant,
        banner_texts_digest=texts_digest,
        receipt_id=row_id,
    )


class SQLiteReceiptStore(StoreBase):
    """Receipts in one SQLite file (or `:memory:` for tests)."""

    def __init__(self, url: str, path: str, ip_salt: bytes | None) -> None:
        super().__init__(url, ip_salt)
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="receipts-sqlite")
        self._connection: sqlite3.Connection | None = None
        self._closed = False
        self._pending: list[tuple[Receipt, asyncio.Future[int]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.journal_mode: str | None = None

    @classmethod
    async def open(cls, url: str, path: str, *, ip_salt: bytes | None = None) -> SQLiteReceiptStore:
        store = cls(url, path, ip_salt)
        try:
            await store._call(store._connect)
        except ReceiptStoreError:
            await store.close()
            raise
        return store

    # -- everything below prefixed _db_ or _connect runs on the store's thread --

    def _connect(self) -> None:
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            self.journal_mode = _switch_to_wal(connection)
            # FULL: a commit survives power loss, which "durable before the cookie" needs.
            connection.execute("PRAGMA synchronous=FULL")
            self._db_migrate(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        logger.info("receipts: SQLite store %s (journal %s)", self.path, self.journal_mode)

    @staticmethod
    def _db_migrate(connection: sqlite3.Connection) -> None:
        # BEGIN IMMEDIATE takes the write lock first, so two processes starting
        # together cannot both apply the same migration.
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(MIGRATIONS_TABLE_SQLITE)
            applied = {row[0] for row in connection.execute("SELECT version FROM schema_migrations")}
            for migration in MIGRATIONS:
                if migration.version in applied:
                    continue
                for statement in migration.sqlite.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.description, _iso(dt.datetime.now(dt.UTC))),
                )
                logger.info("receipts: applied migration %d (%s)", migration.version, migration.description)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ReceiptStoreError("the receipt store is closed")
        return self._connection

    def _db_write_batch(self, receipts: list[Receipt]) -> list[int | Exception]:
        """Each receipt's row id, or the error that kept it out; one transaction for all."""
        connection = self._db()
        results: list[int | Exception] = []
        try:
            connection.execute("BEGIN IMMEDIATE")
            for receipt in receipts:
                connection.execute("SAVEPOINT one_receipt")
                try:
                    cursor = connection.execute(_INSERT, _row_values(receipt))
                except sqlite3.Error as exc:
                    connection.execute("ROLLBACK TO one_receipt")
                    results.append(exc)
                else:
                    results.append(int(cursor.lastrowid or 0))
                connection.execute("RELEASE one_receipt")
            connection.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - the whole transaction is lost: every receipt in it fails
            if connection.in_transaction:
                try:
                    connection.execute("ROLLBACK")
                except sqlite3.Error:
                    logger.exception("receipts: rollback failed after %s", exc)
            return [exc] * len(receipts)
        return results

    def _db_page(self, since: str | None, after_id: int) -> list[Receipt]:
        if since is None:
            rows = self._db().execute(
                f"{_SELECT} WHERE id > ? ORDER BY id LIMIT ?", (after_id, EXPORT_PAGE_SIZE)
            )
        else:
            rows = self._db().execute(
                f"{_SELECT} WHERE id > ? AND created_at >= ? ORDER BY id LIMIT ?", (after_id, since, EXPORT_PAGE_SIZE)
            )
        return [_receipt(row) for row in rows.fetchall()]

    def _db_get(self, consent_id: str) -> list[Receipt]:
        rows = self._db().execute(f"{_SELECT} WHERE consent_id = ? ORDER BY id", (consent_id,))
        return [_receipt(row) for row in rows.fetchall()]

    def _db_prune(self, cutoff: str, now: str) -> int:
        connection = self._db()
        cursor = connection.execute(
            "DELETE FROM receipts WHERE created_at < ? AND (expires_at IS NULL OR expires_at < ?)", (cutoff, now)
        )
        return cursor.rowcount

    def _db_add_impressions(self, rows: list[tuple[str, str, str, int]]) -> None:
        connection = self._db()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(_ADD_IMPRESSIONS, rows)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _db_impressions(self, site_id: str | None, start: str | None, end: str | None) -> list[ImpressionCount]:
        where, args = _range_clause("day", site_id, start, end)
        rows = self._db().execute(
            f"SELECT site_id, day, variant, impressions FROM banner_impressions{where} ORDER BY day, variant", args
        )
        return [
            ImpressionCount(site, dt.date.fromisoformat(day), variant or None, int(count))
            for site, day, variant, count in rows.fetchall()
        ]

    def _db_decisions(self, site_id: str, start: str | None, end: str | None) -> list[DecisionCount]:
        where, args = _range_clause("created_at", site_id, start, end)
        rows = self._db().execute(
            "SELECT substr(created_at, 1, 10), banner_variant, action, granted, count(*) FROM receipts"
            f"{where} GROUP BY 1, 2, 3, 4 ORDER BY 1", args,
        )
        return [
            DecisionCount(dt.date.fromisoformat(day), variant or None, action, tuple(json.loads(granted)), int(count))
            for day, variant, action, granted, count in rows.fetchall()
        ]

    def _db_keep_texts(self, digest: str, site_id: str, lang: str, canonical: str) -> None:
        self._db().execute(
            "INSERT INTO banner_texts (digest, site_id, lang, canonical, first_seen) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (digest) DO NOTHING",
            (digest, site_id, lang, canonical, _iso(dt.datetime.now(dt.UTC))),
        )

    def _db_texts(self, digest: str) -> BannerTexts | None:
        row = self._db().execute(
            "SELECT digest, site_id, lang, canonical, first_seen FROM banner_texts WHERE digest = ?", (digest,)
        ).fetchone()
        if row is None:
            return None
        return BannerTexts(row[0], row[1], row[2], row[3], dt.datetime.fromisoformat(row[4]))

    def _db_check_writable(self) -> None:
        connection = self._db()
        connection.execute("BEGIN IMMEDIATE")
        try:
            probe = Receipt("writability-probe", "-", "-", "-", [], [], "save", dt.datetime.now(dt.UTC))
            connection.execute(_INSERT, _row_values(probe))
        finally:
            connection.execute("ROLLBACK")  # a probe, never kept

    def _db_close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- the asyncio side --

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise ReceiptStoreError("the receipt store is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
        except ReceiptStoreError:
            raise
        except (sqlite3.Error, OSError, RuntimeError, ValueError) as exc:
            raise ReceiptStoreError(f"{self.url}: {exc}") from exc

    async def record(self, receipt: Receipt) -> int:
        """Store one receipt; returns its row id once committed, raises ReceiptStoreError."""
        if self._closed:
            raise ReceiptStoreError("the receipt store is closed")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((receipt, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                results: list[int | Exception] = await self._call(self._db_write_batch, [r for r, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to each waiting caller below
                results = [exc] * len(batch)
            for (receipt, future), error in zip(batch, results, strict=True):
                if future.done():  # the caller gave up (cancelled); the row may still be stored
                    continue
                if isinstance(error, int):
                    future.set_result(error)
                else:
                    message = f"could not record receipt for consent {receipt.consent_id}: {error}"
                    logger.error("receipts: %s", message)
                    future.set_exception(ReceiptStoreError(message))

    async def _page(self, since: dt.datetime | None, after_id: int) -> list[Receipt]:
        return await self._call(self._db_page, _iso(since), after_id)

    async def get(self, consent_id: str) -> list[Receipt]:
        return await self._call(self._db_get, consent_id)

    async def prune(self, retention_days: float, *, now: dt.datetime | None = None) -> int:
        """Delete receipts older than `retention_days` whose consent has expired; returns the count."""
        cutoff, now = prune_cutoff(retention_days, now)
        return await self._call(self._db_prune, _iso(cutoff), _iso(now))

    async def check_writable(self) -> None:
        """Raise ReceiptStoreError unless a receipt could be written right now (for /readyz)."""
        await self._call(self._db_check_writable)

    async def add_impressions(self, counts: Mapping[ImpressionKey, int]) -> None:
        """Add the counts to the stored per-day totals, in one transaction (all or nothing)."""
        rows = [(site, day.isoformat(), variant or "", int(n)) for (site, day, variant), n in counts.items() if n]
        if rows:
            await self._call(self._db_add_impressions, rows)

    async def impression_counts(
        self, site_id: str | None, since: dt.date | None = None, until: dt.date | None = None
    ) -> list[ImpressionCount]:
        """Stored impressions per day and variant (all sites when site_id is None); days inclusive."""
        return await self._call(
            self._db_impressions, site_id, since.isoformat() if since else None,
            (until + dt.timedelta(days=1)).isoformat() if until else None,
        )

    async def decision_counts(
        self, site_id: str, since: dt.date | None = None, until: dt.date | None = None
    ) -> list[DecisionCount]:
        """Receipts of a site counted per UTC day, variant, action and granted set; days inclusive."""
        start, end = day_bounds(since, until)
        return await self._call(self._db_decisions, site_id, _iso(start), _iso(end))

    async def keep_banner_texts(self, digest: str, site_id: str, lang: str, canonical: str) -> None:
        """Keep the texts behind a digest (the first copy wins: same digest, same texts)."""
        await self._call(self._db_keep_texts, digest, site_id, lang, canonical)

    async def banner_texts(self, digest: str) -> BannerTexts | None:
        return await self._call(self._db_texts, digest)

    async def close(self) -> None:
        if self._closed:
            return
        if self._flusher is not None and not self._flusher.done():
            await asyncio.wait([self._flusher])  # let receipts already queued reach the disk
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._db_close)
        finally:
            self._executor.shutdown(wait=False)
