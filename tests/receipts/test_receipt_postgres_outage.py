"""A PostgreSQL store rides out a short connection outage and fails honestly after a long one.

Between the store and the real server sits a TCP relay the test can cut: every open
connection is reset and new ones are refused, as when the database restarts or a
failover moves it. A decision waits for its receipt for `write_timeout` seconds at
most; the retry that follows a lost answer must not store the same decision twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

import pytest
from receipts.receipt_helpers import receipt

from proxy.receipts import ReceiptStoreError, open_store

pytestmark = pytest.mark.postgres

BOUND_SECONDS = 60   # a hang fails the test instead of the suite; not a speed claim


class Relay:
    """127.0.0.1:port -> the database; `cut()` resets and refuses, `restore()` serves again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.up = True
        self.drop_next_reply = False
        self.connections: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.connections |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer, reply=False), self._pipe(up_reader, writer, reply=True))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, reply: bool) -> None:
        try:
            while data := await reader.read(65536):
                if reply and self.drop_next_reply:
                    # The server has done the work (an autocommitted INSERT); its answer is lost.
                    self.drop_next_reply = False
                    self.cut()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
            self.connections.discard(writer)

    def cut(self) -> None:
        self.up = False
        for writer in list(self.connections):
            writer.transport.abort()
        self.connections.clear()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@contextlib.asynccontextmanager
async def relayed(postgres_url: str):  # type: ignore[no-untyped-def]
    parts = urlsplit(postgres_url)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    port = await relay.start()
    try:
        yield relay, postgres_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{port}")
    finally:
        await relay.close()


async def rows_of(store, consent_id: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [item.receipt_id for item in await store.get(consent_id)]


async def test_short_outage_is_retried_within_the_budget(postgres_url: str) -> None:
    async with relayed(postgres_url) as (relay, url):
        store = await open_store(url, ip_salt=b"s", write_timeout=20.0)
        try:
            await store.record(receipt(1))
            relay.cut()
            loop = asyncio.get_running_loop()
            loop.call_later(0.5, relay.restore)
            receipt_id = await asyncio.wait_for(store.record(receipt(2)), BOUND_SECONDS)
            assert await rows_of(store, "consent-2") == [receipt_id]
        finally:
            await store.close()


async def test_long_outage_is_an_honest_failure_and_stores_nothing(postgres_url: str) -> None:
    async with relayed(postgres_url) as (relay, url):
        store = await open_store(url, ip_salt=b"s", write_timeout=1.0)
        try:
            await store.record(receipt(1))
            relay.cut()
            with pytest.raises(ReceiptStoreError, match=r"consent-3 after \d+ attempts"):
                await asyncio.wait_for(store.record(receipt(3)), BOUND_SECONDS)
            relay.restore()
            assert await rows_of(store, "consent-3") == []
        finally:
            await store.close()


async def test_answer_lost_after_commit_is_one_receipt(postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    async with relayed(postgres_url) as (relay, url):
        store = await open_store(url, ip_salt=b"s", write_timeout=20.0)
        try:
            await store.record(receipt(1))   # the insert statement is prepared: the next one is one round trip
            relay.drop_next_reply = True
            asyncio.get_running_loop().call_later(0.3, relay.restore)
            with caplog.at_level(logging.INFO, logger="proxy.receipts.postgres"):
                receipt_id = await asyncio.wait_for(store.record(receipt(4)), BOUND_SECONDS)
            assert await rows_of(store, "consent-4") == [receipt_id]
            assert any("committed before the connection was lost" in r.getMessage() for r in caplog.records)
        finally:
            await store.close()


async def test_a_refused_statement_is_not_retried(postgres_url: str) -> None:
    store = await open_store(postgres_url, ip_salt=b"s", write_timeout=20.0)
    try:
        bad = receipt(5)
        bad.action = "bogus"   # the CHECK constraint refuses it: retrying cannot help
        with pytest.raises(ReceiptStoreError, match="after 1 attempt:"):
            await store.record(bad)
    finally:
        await store.close()
