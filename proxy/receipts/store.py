"""`open_store(url)`: pick the receipt backend the URL names and open it.

`sqlite:///relative/path.db` (three slashes: relative to the working directory),
`sqlite:////absolute/path.db` (four slashes), `sqlite:///:memory:` for tests, and
`postgresql://user@host:port/db` (or `postgres://`). The convention for SQLite
paths is SQLAlchemy's, so URLs people already have keep their meaning. Imports
the stdlib and the two backends (asyncpg only when a PostgreSQL URL is opened).
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


def sqlite_path(url: str) -> str:
    """The file path of a `sqlite:///` URL (":memory:" stays as is)."""
    path = url.removeprefix("sqlite://")
    if not path.startswith("/"):
        raise ReceiptStoreError(
            f"{url}: a SQLite URL is sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    path = path[1:]  # the third slash separates the (empty) host from the path
    if not path:
        raise ReceiptStoreError(f"{url}: no database file; e.g. sqlite:///receipts.db")
    if path == ":memory:":
        return path
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        hint = ""
        if not path.startswith("/"):
            hint = f" (this URL is the relative path {path}; for /{path} write sqlite:////{path})"
        raise ReceiptStoreError(f"{url}: directory {directory} does not exist{hint}")
    return path


async def open_store(url: str, *, ip_salt: bytes | None = None) -> ReceiptStore:
    """Open (and migrate) the receipt store `url` names; raises ReceiptStoreError."""
    if url.startswith("sqlite:"):
        return await SQLiteReceiptStore.open(url, sqlite_path(url), ip_salt=ip_salt)
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresReceiptStore.open(url, ip_salt=ip_salt)
    raise ReceiptStoreError(
        f"{url!r} is not a receipts URL; use sqlite:///receipts.db or postgresql://user@host:5432/db"
    )
