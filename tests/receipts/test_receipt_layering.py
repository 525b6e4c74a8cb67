"""proxy.receipts loads no adapter, and asyncpg only once a PostgreSQL URL is opened
(checked in a fresh interpreter, the way tests/test_layering.py does for the others)."""

from __future__ import annotations

import json
import subprocess
import sys


def loaded_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_importing_receipts_loads_no_adapter_and_no_asyncpg() -> None:
    loaded = loaded_after("import proxy.receipts")
    assert sorted(name for name in ("aiohttp", "mitmproxy", "pydantic", "jwt", "asyncpg", "proxy.consent", "proxy.policy") if name in loaded) == []


def test_a_sqlite_store_never_loads_asyncpg() -> None:
    code = (
        "import asyncio\nfrom proxy.receipts import open_store\n"
        "async def main():\n    store = await open_store('sqlite:///:memory:')\n    await store.close()\n"
        "asyncio.run(main())"
    )
    assert "asyncpg" not in loaded_after(code)


def test_consent_loads_neither_receipts_nor_adapters() -> None:
    loaded = loaded_after("import proxy.consent")
    assert sorted(name for name in ("aiohttp", "mitmproxy", "pydantic", "asyncpg", "proxy.receipts", "proxy.policy") if name in loaded) == []
