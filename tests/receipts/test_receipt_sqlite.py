"""What only the SQLite backend promises: WAL, URL conventions, survival across reopen."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from receipts.receipt_helpers import receipt

from proxy.receipts import ReceiptStoreError, open_store
from proxy.receipts.store import sqlite_path


async def test_wal_mode_is_on(tmp_path: Path) -> None:
    path = tmp_path / "receipts.db"
    store = await open_store(f"sqlite://{path}")
    try:
        await store.record(receipt(1))
        connection = sqlite3.connect(path)
        try:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            connection.close()
    finally:
        await store.close()


async def test_receipts_survive_a_reopen(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'receipts.db'}"
    first = await open_store(url)
    await asyncio.gather(*(first.record(receipt(n)) for n in range(20)))
    await first.close()
    second = await open_store(url)
    try:
        assert len([item async for item in second.export()]) == 20
    finally:
        await second.close()


async def test_in_memory_store_for_tests() -> None:
    store = await open_store("sqlite:///:memory:")
    try:
        await store.record(receipt(1))
        assert [item.consent_id for item in await store.get("consent-1")] == ["consent-1"]
    finally:
        await store.close()


async def test_two_stores_on_one_file_both_write(tmp_path: Path) -> None:
    # Two proxy workers share the file; WAL plus the busy timeout serialise their commits.
    url = f"sqlite://{tmp_path / 'shared.db'}"
    one, two = await open_store(url), await open_store(url)
    try:
        await asyncio.gather(*(store.record(receipt(n)) for n in range(100) for store in [(one, two)[n % 2]]))
        assert len([item async for item in one.export()]) == 100
    finally:
        await one.close()
        await two.close()


def test_sqlite_url_conventions() -> None:
    # Three slashes: an absolute path after the empty host, as the config's default writes it.
    assert sqlite_path("sqlite:///var/lib/consentry/receipts.db") == "/var/lib/consentry/receipts.db"
    assert sqlite_path("sqlite:////var/lib/consentry/receipts.db") == "/var/lib/consentry/receipts.db"
    assert sqlite_path("sqlite:receipts.db") == "receipts.db"
    assert sqlite_path("sqlite:data/receipts.db") == "data/receipts.db"
    assert sqlite_path("sqlite:///:memory:") == ":memory:"
    for bad in ("sqlite:", "sqlite:///", "sqlite://somehost/receipts.db"):
        with pytest.raises(ReceiptStoreError):
            sqlite_path(bad)


async def test_relative_urls_and_missing_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store("sqlite:state/consentry/receipts.db")
    try:
        await store.record(receipt(1))
    finally:
        await store.close()
    created = tmp_path / "state" / "consentry"
    assert (created / "receipts.db").is_file()
    assert created.stat().st_mode & 0o777 == 0o700  # receipts are personal data


async def test_unopenable_stores_raise_receipt_store_error(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    with pytest.raises(ReceiptStoreError, match="cannot create directory"):
        await open_store(f"sqlite://{a_file}/receipts.db")
    with pytest.raises(ReceiptStoreError, match="not a receipts URL"):
        await open_store("mysql://localhost/receipts")
    not_a_database = tmp_path / "junk.db"
    not_a_database.write_bytes(os.urandom(4096))
    with pytest.raises(ReceiptStoreError):
        await open_store(f"sqlite://{not_a_database}")


async def test_unreachable_postgres_raises_receipt_store_error() -> None:
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ReceiptStoreError, match="cannot connect") as caught:
        await open_store(f"postgresql://user:hunter2@127.0.0.1:{port}/receipts")
    assert "hunter2" not in str(caught.value)  # passwords never reach logs or error pages
