"""Receipt store fixtures: every store test runs against SQLite and a real PostgreSQL.

PostgreSQL (``postgres_url``, a fresh database per test) comes from the session's
cluster in tests/pgcluster.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from proxy.receipts import open_store
from proxy.receipts.store import sqlite_path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty store of the backend under test."""
    if backend == "sqlite":
        return f"sqlite://{tmp_path / 'receipts.db'}"  # tmp_path is absolute: sqlite:///tmp/...
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Any]:
    # The contract tests flood one store with up to 1203 simultaneous records, which queue
    # for the pool's 4 connections: on a loaded machine that queue alone can outlast the
    # default 5 s budget of one decision (tests/receipts/test_receipt_postgres_outage.py
    # is where the budget itself is tested).
    opened = await open_store(store_url, ip_salt=b"test-salt", write_timeout=60.0)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def raw_sql(store_url: str) -> Callable[[str], Any]:
    """Run SQL on the store's database behind its back (to break it, or to check it)."""

    async def run(sql: str) -> list[tuple[Any, ...]]:
        if store_url.startswith("sqlite:"):
            import sqlite3

            connection = sqlite3.connect(sqlite_path(store_url), timeout=10)
            try:
                rows = connection.execute(sql).fetchall()
                connection.commit()
                return rows
            finally:
                connection.close()
        import asyncpg

        connection = await asyncpg.connect(store_url, timeout=30)
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()

    return run
