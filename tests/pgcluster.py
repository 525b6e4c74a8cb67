"""PostgreSQL for the tests, one throwaway cluster per session (a pytest plugin, see tests/conftest.py).

``postgres_server_url`` is CONSENTRY_TEST_POSTGRES_URL when set (its user needs the
CREATEDB privilege: every test gets a database of its own), else a cluster this
session starts with scripts/test-postgres.sh and stops at the end. ``postgres_url``
is a fresh, empty database on it for one test. When PostgreSQL cannot start, its
tests skip with the reason, except under CI=true, where they fail: CI must prove
the PostgreSQL backend.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "test-postgres.sh"
START_TIMEOUT_SECONDS = 120


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
    print(f"\nskipping PostgreSQL receipts tests: {reason}", file=sys.stderr)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """The URL of a PostgreSQL server whose user may create databases."""
    given = os.environ.get("CONSENTRY_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    # Not pytest's tmp_path: that lives under a 0700 directory the postgres user cannot enter.
    cluster = tempfile.mkdtemp(prefix="consentry-pg.")
    try:
        result = subprocess.run(
            [str(SCRIPT), "start", cluster], capture_output=True, text=True, timeout=START_TIMEOUT_SECONDS
        )
        problem = None if result.returncode == 0 else f"{SCRIPT.name} start failed: {result.stderr.strip()[-500:]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = f"{SCRIPT.name} start: {exc}"
    if problem is not None:
        # A half-made cluster (e.g. the timeout hit after pg_ctl start) must not outlive us.
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run([str(SCRIPT), "stop", cluster], capture_output=True, timeout=START_TIMEOUT_SECONDS, check=False)
        shutil.rmtree(cluster, ignore_errors=True)
        _unavailable(problem)
    try:
        yield result.stdout.strip()
    finally:
        subprocess.run([str(SCRIPT), "stop", cluster], capture_output=True, timeout=START_TIMEOUT_SECONDS, check=False)


@pytest.fixture
async def postgres_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh, empty database on the test server for one test (dropped afterwards)."""
    import asyncpg

    name = f"receipts_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_server_url, timeout=30)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = postgres_server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(postgres_server_url, timeout=30)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
