"""Banner experiments in the receipt stores (SQLite and a real PostgreSQL): the two
receipt columns, the texts kept behind each digest, impressions per day and the
aggregate counts `consentry insights` reads. Migration 2 onto a store made by
migration 1 keeps every old receipt."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from receipts.receipt_helpers import T0, receipt

from proxy.receipts import (
    banner_texts_canonical,
    banner_texts_digest,
    export_lines,
    open_store,
    receipts_from_lines,
)
from proxy.receipts.schema import MIGRATIONS, MIGRATIONS_TABLE_SQLITE

DAY = T0.date()


async def test_receipt_keeps_variant_and_texts_digest(store: Any) -> None:
    await store.record(receipt(1, banner_variant="plain-words", banner_texts_digest="sha256:" + "a" * 64))
    await store.record(receipt(2))
    first, second = await store.get("consent-1") + await store.get("consent-2")
    assert (first.banner_variant, first.banner_texts_digest) == ("plain-words", "sha256:" + "a" * 64)
    assert (second.banner_variant, second.banner_texts_digest) == (None, None)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_has_both_columns_and_round_trips(store: Any, fmt: str) -> None:
    written = [receipt(1, banner_variant="b", banner_texts_digest="sha256:" + "b" * 64), receipt(2)]
    for item in written:
        await store.record(item)
    lines = list(export_lines([r async for r in store.export()], format=fmt))
    if fmt == "csv":
        header = lines[0].strip().split(",")
        assert header[-2:] == ["banner_variant", "banner_texts_digest"]
        assert lines[1].strip().endswith(",b,sha256:" + "b" * 64)
        assert lines[2].strip().endswith(",,")
    else:
        assert json.loads(lines[0])["banner_variant"] == "b"
        assert json.loads(lines[1])["banner_texts_digest"] is None
    assert list(receipts_from_lines(lines, format=fmt)) == written


def test_canonical_texts_and_digest_are_the_documented_ones() -> None:
    canonical = banner_texts_canonical("de", {"title": "Ihre Privatsphäre", "accept_all": "Alle akzeptieren"})
    assert canonical == '{"lang":"de","texts":{"accept_all":"Alle akzeptieren","title":"Ihre Privatsphäre"}}'
    assert banner_texts_digest(canonical) == "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    # Key order of the input does not matter; every text does.
    assert canonical == banner_texts_canonical("de", {"accept_all": "Alle akzeptieren", "title": "Ihre Privatsphäre"})
    assert canonical != banner_texts_canonical("de", {"accept_all": "Alle akzeptieren", "title": "Ihre Privatsphare"})


async def test_texts_behind_a_digest_are_kept_once(store: Any) -> None:
    canonical = banner_texts_canonical("en", {"accept_all": "Yes", "reject_all": "No"})
    digest = banner_texts_digest(canonical)
    assert await store.banner_texts(digest) is None
    await store.keep_banner_texts(digest, "shop", "en", canonical)
    await store.keep_banner_texts(digest, "shop", "en", canonical)  # idempotent
    kept = await store.banner_texts(digest)
    assert (kept.digest, kept.site_id, kept.lang, kept.canonical) == (digest, "shop", "en", canonical)
    assert kept.first_seen.tzinfo is not None


async def test_impressions_add_up_per_site_day_and_variant(store: Any) -> None:
    other_day = DAY + dt.timedelta(days=1)
    await store.add_impressions({("shop", DAY, "a"): 3, ("shop", DAY, None): 2, ("blog", DAY, "a"): 7})
    await store.add_impressions({("shop", DAY, "a"): 4, ("shop", other_day, "b"): 1, ("shop", DAY, "z"): 0})
    rows = await store.impression_counts("shop")
    assert {(r.day, r.variant, r.count) for r in rows} == {(DAY, "a", 7), (DAY, None, 2), (other_day, "b", 1)}
    only_first = await store.impression_counts("shop", since=DAY, until=DAY)
    assert {(r.variant, r.count) for r in only_first} == {("a", 7), (None, 2)}
    assert [(r.day, r.count) for r in await store.impression_counts("shop", since=other_day)] == [(other_day, 1)]
    assert {r.site_id for r in await store.impression_counts(None)} == {"shop", "blog"}


async def test_decision_counts_group_by_utc_day_variant_action_and_granted(store: Any) -> None:
    late = dt.datetime.combine(DAY, dt.time(23, 59, 59, 999999), dt.UTC)
    next_morning = late + dt.timedelta(microseconds=1)
    await store.record(receipt(1, banner_variant="a", action="accept_all", granted=["necessary", "analytics", "marketing"], created_at=late))
    await store.record(receipt(2, banner_variant="a", action="accept_all", granted=["necessary", "analytics", "marketing"], created_at=late))
    await store.record(receipt(3, banner_variant="b", action="reject_all", granted=["necessary"], created_at=next_morning))
    await store.record(receipt(4, action="save", granted=["necessary", "analytics"], created_at=next_morning))
    await store.record(receipt(5, site_id="blog", action="save", created_at=next_morning))
    rows = await store.decision_counts("shop")
    assert sorted((r.day, r.variant or "", r.action, r.granted, r.count) for r in rows) == [
        (DAY, "a", "accept_all", ("necessary", "analytics", "marketing"), 2),
        (DAY + dt.timedelta(days=1), "", "save", ("necessary", "analytics"), 1),
        (DAY + dt.timedelta(days=1), "b", "reject_all", ("necessary",), 1),
    ]
    assert sum(r.count for r in await store.decision_counts("shop", until=DAY)) == 2
    assert sum(r.count for r in await store.decision_counts("shop", since=DAY + dt.timedelta(days=1))) == 2


async def test_migration_2_keeps_receipts_written_under_migration_1(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.executescript(MIGRATIONS_TABLE_SQLITE + ";" + MIGRATIONS[0].sqlite)
    connection.execute("INSERT INTO schema_migrations VALUES (1, 'receipts table', '2026-01-01T00:00:00+00:00')")
    connection.execute(
        "INSERT INTO receipts (consent_id, site_id, policy_version, vendor_list_digest, granted, refused, action,"
        " created_at, gpc) VALUES ('old', 'shop', '1', 'sha256:x', '[\"necessary\"]', '[]', 'reject_all',"
        " '2026-01-01T10:00:00.000000+00:00', 0)"
    )
    connection.commit()
    connection.close()
    store = await open_store(f"sqlite://{path}")
    try:
        (old,) = await store.get("old")
        assert (old.action, old.banner_variant, old.banner_texts_digest) == ("reject_all", None, None)
        await store.record(receipt(9, banner_variant="a", banner_texts_digest="sha256:" + "c" * 64))
        assert (await store.get("consent-9"))[0].banner_variant == "a"
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_day_is_utc_whatever_the_session_time_zone(postgres_url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(postgres_url, timeout=30)
    try:
        await connection.execute(f"ALTER DATABASE \"{postgres_url.rsplit('/', 1)[1]}\" SET timezone TO 'Pacific/Auckland'")
    finally:
        await connection.close()
    reopened = await open_store(postgres_url)
    try:
        late = dt.datetime.combine(DAY, dt.time(23, 30), dt.UTC)
        await reopened.record(receipt(1, created_at=late))
        assert [r.day for r in await reopened.decision_counts("shop")] == [DAY]
    finally:
        await reopened.close()
