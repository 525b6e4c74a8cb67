"""Workers start side by side and open the same new SQLite file: none may fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

OPEN_TWICE = """
import asyncio, sys
from proxy.receipts import open_store

async def main():
    store = await open_store("sqlite:///" + sys.argv[1])
    await store.close()

asyncio.run(main())
"""


def test_two_processes_opening_a_new_store_together_both_succeed(tmp_path: Path) -> None:
    for attempt in range(15):   # the race showed about once in seven tries before the fix
        path = tmp_path / f"receipts-{attempt}.db"
        processes = [
            subprocess.Popen([sys.executable, "-c", OPEN_TWICE, str(path)], stderr=subprocess.PIPE, env=dict(os.environ))
            for _ in range(2)
        ]
        for process in processes:
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 0, stderr.decode()
