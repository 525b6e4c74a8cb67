"""The shared receipt store: PostgreSQL through an asyncpg connection pool.

Same table, columns and numbered migrations as the SQLite store; migrations run
under a transaction-scoped advisory lock so several proxy processes can start at
once. Each `record` is one autocommitted INSERT, durable when it returns (the
server's default synchronous_commit), and returns the row id. A lost connection
(restart, failover, network blip) is retried with backoff until `write_timeout`
is spent; a retry first looks for the identical row, since the lost attempt may
have committed before its answer was lost, so one decision is one receipt.
asyncpg is imported lazily, when a `postgresql://` URL is opened. Must never
depend on aiohttp.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

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
from proxy.receipts.schema import MIGRATIONS, MIGRATIONS_TABLE_POSTGRES, RECEIPT_COLUMNS, row_values

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresReceiptStore"]

logger = logging.getLogger(__name__)

# Any fixed number: the key of the advisory lock that serialises migrations.
_MIGRATION_LOCK_KEY: Final = 0x636F6E73656E74  # "consent"
CONNECT_TIMEOUT_SECONDS: Final = 10.0
COMMAND_TIMEOUT_SECONDS: Final = 30.0
_INSERT: Final = (
    f"INSERT INTO receipts ({', '.join(RECEIPT_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(RECEIPT_COLUMNS) + 1))})"
)
_INSERT_RETURNING: Final = f"{_INSERT} RETURNING id"
# The same decision already stored (NULL-safe on every column): what a retry looks for.
_FIND_SAME: Final = (
    "SELECT id FROM receipts WHERE "
    + " AND ".join(f"{column} IS NOT DISTINCT FROM ${i}" for i, column in enumerate(RECEIPT_COLUMNS, 1))
    + " ORDER BY id DESC LIMIT 1"
)
_SELECT: Final = f"SELECT id, {', '.join(RECEIPT_COLUMNS)} FROM receipts"
_ADD_IMPRESSIONS: Final = (
    "INSERT INTO banner_impressions (site_id, day, variant, impressions) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (site_id, day, variant) DO UPDATE SET impressions = banner_impressions.impressions + EXCLUDED.impressions"
)


def _range_clause(column: str, site_id: str | None, start: Any, end: Any) -> tuple[str, tuple[Any, ...]]:
    """`` WHERE site_id = $1 AND column >= $2 AND column < $3`` with only the parts given."""
    parts: list[str] = []
    args: list[Any] = []
    for clause, value in (("site_id = $", site_id), (f"{column} >= $", start), (f"{column} < $", end)):
        if value is not None:
            args.append(value)
            parts.append(f"{clause}{len(args)}")
    return (" WHERE " + " AND ".join(parts) if parts else ""), tuple(args)
DEFAULT_WRITE_TIMEOUT_SECONDS: Final = 5.0
_FIRST_RETRY_DELAY_SECONDS: Final = 0.05
_MAX_RETRY_DELAY_SECONDS: Final = 1.0


def _transient(exc: BaseException) -> bool:
    """A failure of the connection or of the server's availability, not of the statement."""
    import asyncpg

    return isinstance(
        exc,
        OSError
        | TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.exceptions.OperatorInterventionError
        | asyncpg.exceptions.TooManyConnectionsError,
    ) or (isinstance(exc, asyncpg.InterfaceError) and "connection" in str(exc).lower())


def _receipt(row: Any) -> Receipt:
    return Receipt(
        consent_id=row["consent_id"],
        site_id=row["site_id"],
        policy_version=row["policy_version"],
        vendor_list_digest=row["vendor_list_digest"],
        granted=json.loads(row["granted"]),
        refused=json.loads(row["refused"]),
        action=row["action"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        ip_hash=row["ip_hash"],
        user_agent=row["user_agent"],
        gpc=row["gpc"],
        banner_variant=row["banner_variant"],
        banner_texts_digest=row["banner_texts_digest"],
        receipt_id=row["id"],
    )


def _redacted(url: str) -> str:
    # Never log or raise with a password in it.
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class PostgresReceiptStore(StoreBase):
    """Receipts in PostgreSQL (shared by every proxy process and host)."""

    def __init__(
        self, url: str, pool: asyncpg.Pool, ip_salt: bytes | None, write_timeout: float = DEFAULT_WRITE_TIMEOUT_SECONDS
    ) -> None:
        super().__init__(_redacted(url), ip_salt)
        self._pool: asyncpg.Pool | None = pool
        self.write_timeout = write_timeout

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        ip_salt: bytes | None = None,
        max_connections: int = 4,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT_SECONDS,
    ) -> PostgresReceiptStore:
        try:
            import asyncpg
        except ImportError as exc:  # a dependency of the package, but say what to do if absent
            raise ReceiptStoreError(f"{_redacted(url)}: PostgreSQL needs asyncpg (pip install asyncpg)") from exc
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=max_connections,
                timeout=CONNECT_TIMEOUT_SECONDS,
                command_timeout=COMMAND_TIMEOUT_SECONDS,
            )
        except Exception as exc:
            raise ReceiptStoreError(f"{_redacted(url)}: cannot connect: {exc}") from exc
        store = cls(url, pool, ip_salt, write_timeout)
        try:
            await store._migrate()
        except ReceiptStoreError:
            await store.close()
            raise
        logger.info("receipts: PostgreSQL store %s", store.url)
        return store

    def _live_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise ReceiptStoreError("the receipt store is closed")
        return self._pool

    async def _migrate(self) -> None:
        try:
            async with self._live_pool().acquire() as connection, connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK_KEY)
                await connection.execute(MIGRATIONS_TABLE_POSTGRES)
                applied = {row["version"] for row in await connection.fetch("SELECT version FROM schema_migrations")}
                for migration in MIGRATIONS:
                    if migration.version in applied:
                        continue
                    await connection.execute(migration.postgres)
                    await connection.execute(
                        "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, now())",
                        migration.version,
                        migration.description,
                    )
                    logger.info("receipts: applied migration %d (%s)", migration.version, migration.description)
        except ReceiptStoreError:
            raise
        except Exception as exc:
            raise ReceiptStoreError(f"{self.url}: migrating the schema failed: {exc}") from exc

    async def record(self, receipt: Receipt) -> int:
        """Store one receipt; returns its row id once committed, raises ReceiptStoreError.

        Connection failures are retried (exponential backoff from 50 ms) until
        `write_timeout` seconds have passed since the call; a statement the server
        refuses (a constraint) is not retried.
        """
        values = row_values(receipt)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.write_timeout
        delay = _FIRST_RETRY_DELAY_SECONDS
        attempts = 0
        while True:
            attempts += 1
            try:
                pool = self._live_pool()
                async with asyncio.timeout(max(deadline - loop.time(), 0.001)), pool.acquire() as connection:
                    if attempts > 1:
                        # The lost attempt may have committed before its answer got back.
                        found = await connection.fetchval(_FIND_SAME, *values)
                        if found is not None:
                            logger.info("receipts: receipt %s of consent %s was committed before the connection was lost", found, receipt.consent_id)
                            return int(found)
                    return int(await connection.fetchval(_INSERT_RETURNING, *values))
            except ReceiptStoreError:
                raise
            except Exception as exc:
                if _transient(exc) and loop.time() + delay < deadline:
                    logger.warning(
                        "receipts: attempt %d for consent %s failed (%s); retrying in %.2fs",
                        attempts, receipt.consent_id, _describe(exc), delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _MAX_RETRY_DELAY_SECONDS)
                    continue
                message = (
                    f"could not record receipt for consent {receipt.consent_id} "
                    f"after {attempts} attempt{'s' if attempts != 1 else ''}: {_describe(exc)}"
                )
                logger.error("receipts: %s", message)
                raise ReceiptStoreError(message) from exc

    async def _fetch(self, query: str, *args: Any) -> list[Receipt]:
        try:
            rows = await self._live_pool().fetch(query, *args)
        except ReceiptStoreError:
            raise
        except Exception as exc:
            raise ReceiptStoreError(f"{self.url}: {exc}") from exc
        return [_receipt(row) for row in rows]

    async def _page(self, since: dt.datetime | None, after_id: int) -> list[Receipt]:
        if since is None:
            return await self._fetch(f"{_SELECT} WHERE id > $1 ORDER BY id LIMIT $2", after_id, EXPORT_PAGE_SIZE)
        return await self._fetch(
            f"{_SELECT} WHERE id > $1 AND created_at >= $2 ORDER BY id LIMIT $3", after_id, since, EXPORT_PAGE_SIZE
        )

    async def get(self, consent_id: str) -> list[Receipt]:
        return await self._fetch(f"{_SELECT} WHERE consent_id = $1 ORDER BY id", consent_id)

    async def prune(self, retention_days: float, *, now: dt.datetime | None = None) -> int:
        """Delete receipts older than `retention_days` whose consent has expired; returns the count."""
        cutoff, now = prune_cutoff(retention_days, now)
        try:
            status = await self._live_pool().execute(
                "DELETE FROM receipts WHERE created_at < $1 AND (expires_at IS NULL OR expires_at < $2)", cutoff, now
            )
        except ReceiptStoreError:
            raise
        except Exception as exc:
            raise ReceiptStoreError(f"{self.url}: {exc}") from exc
        return int(status.split()[-1])  # "DELETE <count>"

    async def check_writable(self) -> None:
        """Raise ReceiptStoreError unless a receipt could be written right now (for /readyz)."""
        probe = Receipt("writability-probe", "-", "-", "-", [], [], "save", dt.datetime.now(dt.UTC))
        try:
            async with self._live_pool().acquire() as connection:
                transaction = connection.transaction()
                await transaction.start()
                try:
                    await connection.execute(_INSERT, *row_values(probe))
                finally:
                    await transaction.rollback()  # a probe, never kept
        except ReceiptStoreError:
            raise
        except Exception as exc:
            raise ReceiptStoreError(f"{self.url}: not writable: {exc}") from exc

    async def _rows(self, query: str, *args: Any) -> list[Any]:
        try:
            return list(await self._live_pool().fetch(query, *args))
        except ReceiptStoreError:
            raise
        except Exception as exc:
            raise ReceiptStoreError(f"{self.url}: {exc}") from exc

    async def add_impressions(self, counts: Mapping[ImpressionKey, int]) -> None:
        """Add the counts to the stored per-day totals, in one transaction (all or nothing)."""
        rows = [(site, day, variant or "", int(n)) for (site, day, variant), n in counts.items() if n]
        if not rows:
            return
        try:
            async with self._live_pool().acquire() as connection, connection.transaction():
                await connection.executemany(_ADD_IMPRESSIONS, rows)
        except ReceiptStoreError:
            raise
        except Exception as exc:
            raise ReceiptStoreError(f"{self.url}: could not store impressions: {exc}") from exc

    async def impression_counts(
        self, site_id: str | None, since: dt.date | None = None, until: dt.date | None = None
    ) -> list[ImpressionCount]:
        """Stored impressions per day and variant (all sites when site_id is None); days inclusive."""
        where, args = _range_clause("day", site_id, since, until + dt.timedelta(days=1) if until else None)
        rows = await self._rows(
            f"SELECT site_id, day, variant, impressions FROM banner_impressions{where} ORDER BY day, variant", *args
        )
        return [ImpressionCount(r["site_id"], r["day"], r["variant"] or None, int(r["impressions"])) for r in rows]

    async def decision_counts(
        self, site_id: str, since: dt.date | None = None, until: dt.date | None = None
    ) -> list[DecisionCount]:
        """Receipts of a site counted per UTC day, variant, action and granted set; days inclusive."""
        start, end = day_bounds(since, until)
        where, args = _range_clause("created_at", site_id, start, end)
        rows = await self._rows(
            "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, banner_variant, action, granted, count(*) AS n"
            f" FROM receipts{where} GROUP BY 1, 2, 3, 4 ORDER BY 1", *args,
        )
        return [
            DecisionCount(r["day"], r["banner_variant"] or None, r["action"], tuple(json.loads(r["granted"])), int(r["n"]))
            for r in rows
        ]

    async def keep_banner_texts(self, digest: str, site_id: str, lang: str, canonical: str) -> None:
        """Keep the texts behind a digest (the first copy wins: same digest, same texts)."""
        try:
            await self._live_pool().execute(
                "INSERT INTO banner_texts (digest, site_id, lang, canonical, first_seen) VALUES ($1, $2, $3, $4, now()) "
                "ON CONFLICT (digest) DO NOTHING", digest, site_id, lang, canonical,
            )
        except ReceiptStoreError:
            raise
        except Exception as exc:
            raise ReceiptStoreError(f"{self.url}: could not keep banner texts: {exc}") from exc

    async def banner_texts(self, digest: str) -> BannerTexts | None:
        rows = await self._rows(
            "SELECT digest, site_id, lang, canonical, first_seen FROM banner_texts WHERE digest = $1", digest
        )
        if not rows:
            return None
        r = rows[0]
        return BannerTexts(r["digest"], r["site_id"], r["lang"], r["canonical"], r["first_seen"])

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
