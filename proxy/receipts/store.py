"""`open_store(url)`: pick the receipt backend the URL names and open it.

`sqlite:///absolute/path.db` (the path after the empty host, as in `file:///`
URLs and in the config's default), `sqlite:relative/path.db` (no slashes:
relative to the working directory, as in SQLite's own `file:` URIs),
`sqlite:///:memory:` for tests, and `postgresql://user@host:port/db` (or
`postgres://`). SQLAlchemy's four-slash absolute form (`sqlite:////abs.db`) means
the same file. Missing parent directories of a SQLite file are created (mode
0700), so the default under $XDG_STATE_HOME works on a first run. Imports the
stdlib and the two backends (asyncpg only when a PostgreSQL URL is opened).
"""

from __future__ import annotations

import logging
import os

from proxy.receipts.base import ReceiptStore
from proxy.receipts.model import ReceiptStoreError
from proxy.receipts.postgres import PostgresReceiptStore
from proxy.receipts.sqlite import SQLiteReceiptStore

__all__ = ["open_store", "sqlite_path"]

logger = logging.getLogger(__name__)

MEMORY = ":memory:"


def sqlite_path(url: str) -> str:
    """The file path a `sqlite:` URL names (":memory:" stays as is)."""
    rest = url.removeprefix("sqlite:")
    if rest.startswith("//"):
        if not rest.startswith("///"):
            raise ReceiptStoreError(f"{url}: SQLite has no host; write sqlite:///absolute/path.db")
        path = rest[2:]  # keep the slash that starts the absolute path
        path = "/" + path.lstrip("/")
        if path == "/" + MEMORY:
            return MEMORY
    else:
        path = rest
    if path in ("", "/"):
        raise ReceiptStoreError(f"{url}: no database file; e.g. sqlite:///var/lib/consentry/receipts.db")
    return path


def _ensure_directory(url: str, path: str) -> None:
    if path == MEMORY:
        return
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(directory):
        return
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ReceiptStoreError(f"{url}: cannot create directory {directory}: {exc.strerror}") from None
    logger.info("receipts: created directory %s", directory)


async def open_store(url: str, *, ip_salt: bytes | None = None, write_timeout: float | None = None) -> ReceiptStore:
    """Open (and migrate) the receipt store `url` names; raises ReceiptStoreError.

    `write_timeout` bounds one `record`, retries of a lost PostgreSQL connection
    included (SQLite waits out a locked database on its own busy timeout).
    """
    if url.startswith("sqlite:"):
        path = sqlite_path(url)
        _ensure_directory(url, path)
        return await SQLiteReceiptStore.open(url, path, ip_salt=ip_salt)
    if url.startswith(("postgresql://", "postgres://")):
        if write_timeout is None:
            return await PostgresReceiptStore.open(url, ip_salt=ip_salt)
        return await PostgresReceiptStore.open(url, ip_salt=ip_salt, write_timeout=write_timeout)
    raise ReceiptStoreError(
        f"{url!r} is not a receipts URL; use sqlite:///var/lib/consentry/receipts.db or postgresql://user@host:5432/db"
    )
