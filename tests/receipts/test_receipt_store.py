"""The receipt store contract, run against SQLite and a real PostgreSQL alike."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from receipts.receipt_helpers import T0, receipt

from proxy.receipts.schema import MIGRATIONS
from proxy.receipts import (
    Receipt,
    ReceiptStoreError,
    export_lines,
    open_store,
    prune_once,
    receipts_from_lines,
    run_retention,
)


async def all_receipts(store: Any, since: dt.datetime | None = None) -> list[Receipt]:
    return [item async for item in store.export(since=since)]


async def test_round_trip(store: Any) -> None:
    written = [receipt(0), receipt(1, action="accept_all", granted=["necessary", "analytics", "marketing"], refused=[])]
    for item in written:
        await store.record(item)
    assert await store.get("consent-1") == [written[1]]
    assert await all_receipts(store) == written
    stored = (await store.get("consent-0"))[0]
    assert stored.created_at == T0 and stored.created_at.tzinfo is not None
    assert stored.receipt_id is not None
    assert await store.get("nobody") == []


async def test_record_is_committed_when_it_returns(store: Any, raw_sql: Callable[..., Any]) -> None:
    receipt_id = await store.record(receipt(7, action="withdraw", granted=["necessary"], refused=["analytics"]))
    # Another connection sees the row: it is committed, not waiting in a buffer.
    rows = await raw_sql("SELECT id, consent_id, action FROM receipts")
    assert rows == [(receipt_id, "consent-7", "withdraw")]


async def test_history_of_one_consent_id_in_order(store: Any) -> None:
    changes = [
        receipt(0, action="accept_all", granted=["necessary", "analytics", "marketing"], refused=[]),
        receipt(0, action="save", created_at=T0 + dt.timedelta(hours=1)),
        receipt(0, action="withdraw", granted=["necessary"], refused=["analytics"], created_at=T0 + dt.timedelta(hours=2)),
    ]
    for item in changes:
        await store.record(item)
    assert [item.action for item in await store.get("consent-0")] == ["accept_all", "save", "withdraw"]


async def test_five_hundred_concurrent_records_lose_nothing(store: Any) -> None:
    await asyncio.wait_for(asyncio.gather(*(store.record(receipt(n)) for n in range(500))), timeout=120)
    stored = await all_receipts(store)
    assert len(stored) == 500
    assert {item.consent_id for item in stored} == {f"consent-{n}" for n in range(500)}


async def test_one_bad_receipt_fails_alone(store: Any) -> None:
    bad = receipt(99)
    bad.action = "bogus"  # slips past Receipt validation; the database CHECK refuses it
    results = await asyncio.gather(*(store.record(item) for item in [receipt(1), bad, receipt(2)]), return_exceptions=True)
    assert isinstance(results[1], ReceiptStoreError) and "consent-99" in str(results[1])
    # Each good one gets the id of its own committed row.
    assert {item.receipt_id: item.consent_id for item in await all_receipts(store)} == {
        results[0]: "consent-1",
        results[2]: "consent-2",
    }


async def test_export_since_and_paging(store: Any) -> None:
    # More than two export pages, so paging must carry on where the last page ended.
    await asyncio.wait_for(asyncio.gather(*(store.record(receipt(n)) for n in range(1203))), timeout=120)
    assert len(await all_receipts(store)) == 1203
    since = T0 + dt.timedelta(seconds=1000)
    later = await all_receipts(store, since=since)
    assert sorted(int(item.consent_id.split("-")[1]) for item in later) == list(range(1000, 1203))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_export_round_trip(store: Any, fmt: str) -> None:
    written = [receipt(0), receipt(1, expires_at=None, ip_hash=None, user_agent=None, refused=[]), receipt(2, granted=["necessary"])]
    for item in written:
        await store.record(item)
    lines = list(export_lines(await all_receipts(store), format=fmt))
    assert all(line.endswith("\n") for line in lines)
    assert list(receipts_from_lines(lines, format=fmt)) == written


async def test_migrations_are_idempotent(store_url: str, raw_sql: Callable[..., Any]) -> None:
    first = await open_store(store_url)
    await first.record(receipt(1))
    await first.close()
    for _ in range(2):
        again = await open_store(store_url)
        await again.close()
    assert await raw_sql("SELECT version FROM schema_migrations ORDER BY version") == [(m.version,) for m in MIGRATIONS]
    assert await raw_sql("SELECT consent_id FROM receipts") == [("consent-1",)]


async def test_concurrent_openers_migrate_once(store_url: str, raw_sql: Callable[..., Any]) -> None:
    stores = await asyncio.gather(*(open_store(store_url) for _ in range(4)))
    for opened in stores:
        await opened.close()
    assert await raw_sql("SELECT version FROM schema_migrations ORDER BY version") == [(m.version,) for m in MIGRATIONS]


async def test_prune_keeps_consent_still_in_force(store: Any) -> None:
    now = T0 + dt.timedelta(days=400)
    old_expired = receipt(1, created_at=T0, expires_at=T0 + dt.timedelta(days=180))
    old_still_valid = receipt(2, created_at=T0, expires_at=now + dt.timedelta(days=1))
    old_without_expiry = receipt(3, created_at=T0, expires_at=None)
    recent = receipt(4, created_at=now - dt.timedelta(days=1), expires_at=now + dt.timedelta(days=179))
    for item in (old_expired, old_still_valid, old_without_expiry, recent):
        await store.record(item)
    assert await store.prune(365, now=now) == 2
    assert {item.consent_id for item in await all_receipts(store)} == {"consent-2", "consent-4"}
    assert await store.prune(365, now=now) == 0
    with pytest.raises(ValueError):
        await store.prune(-1)


async def test_check_writable_leaves_no_trace(store: Any) -> None:
    await store.check_writable()
    assert await all_receipts(store) == []


async def test_a_broken_store_raises_and_keeps_nothing(store: Any, raw_sql: Callable[..., Any]) -> None:
    await store.record(receipt(1))
    await raw_sql("DROP TABLE receipts")
    with pytest.raises(ReceiptStoreError, match="consent-2"):
        await store.record(receipt(2))
    with pytest.raises(ReceiptStoreError):
        await store.check_writable()
    with pytest.raises(ReceiptStoreError):
        await store.get("consent-1")


async def test_a_closed_store_raises(store_url: str) -> None:
    closed = await open_store(store_url)
    await closed.close()
    with pytest.raises(ReceiptStoreError, match="closed"):
        await closed.record(receipt(1))
    with pytest.raises(ReceiptStoreError):
        await closed.check_writable()
    await closed.close()  # closing twice is harmless


async def test_ip_hashing_uses_the_stores_salt(store: Any) -> None:
    hashed = store.hash_ip("203.0.113.7")
    assert hashed is not None and len(hashed) == 16 and "203" not in hashed
    assert store.hash_ip("203.0.113.7") == hashed
    assert store.hash_ip(None) is None


async def test_retention_loop_prunes_and_stops(store: Any) -> None:
    ancient = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    await store.record(receipt(1, created_at=ancient, expires_at=ancient + dt.timedelta(days=180)))
    await store.record(receipt(2, created_at=dt.datetime.now(dt.UTC), expires_at=None))
    stop = asyncio.Event()
    pruned = asyncio.Event()
    real_prune = store.prune

    async def prune_then_stop(days: float, **kwargs: Any) -> int:
        deleted: int = await real_prune(days, **kwargs)
        pruned.set()
        stop.set()  # one round is enough to observe
        return deleted

    store.prune = prune_then_stop
    await asyncio.wait_for(run_retention(store, 365, interval_seconds=3600, stop=stop), timeout=60)
    assert pruned.is_set()
    assert [item.consent_id for item in await all_receipts(store)] == ["consent-2"]


async def test_prune_once_survives_a_broken_store(store: Any, raw_sql: Callable[..., Any]) -> None:
    await raw_sql("DROP TABLE receipts")
    assert await prune_once(store, 30) is None
