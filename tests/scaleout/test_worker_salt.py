"""Forked workers without a configured salt still hash one visitor's IP alike.

The fallback salt is random per process tree: drawn before `run` forks, so the workers
of one `consentry run --workers 2` agree (replicas on other hosts cannot, which is why
a PostgreSQL store requires a configured salt).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from scaleout.replica_cluster import http_ok
from server.server_helpers import free_port

DECISIONS = 40   # fresh connections: SO_REUSEPORT spreads them over both workers


def test_workers_share_the_fallback_salt(tmp_path: Path) -> None:
    port, upstream = free_port(), free_port()
    # Worker i listens for admin on admin + i: both ports free, and neither one taken above.
    admin = free_port(run=2)
    while {admin, admin + 1} & {port, upstream}:
        admin = free_port(run=2)
    database = tmp_path / "receipts.db"
    config = tmp_path / "site.toml"
    config.write_text(
        f'[proxy]\nlisten = "127.0.0.1:{port}"\nadmin_listen = "127.0.0.1:{admin}"\nworkers = 2\n'
        f"[proxy.limits]\nconsent_decisions_per_minute = 100000\n"
        f'[receipts]\nurl = "sqlite://{database}"\n'
        f'[sites.default]\nupstream = "http://127.0.0.1:{upstream}"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "CONSENTRY_SECRET": "worker-salt-test-" + "s" * 40}
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "proxy", "run", "--config", str(config)], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 90
        while not all(http_ok(f"http://127.0.0.1:{admin + i}/healthz") for i in (0, 1)):
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.1)
        for _ in range(DECISIONS):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/_consent/", data=b'{"action": "reject_all"}',
                headers={"Content-Type": "application/json", "Connection": "close"}, method="POST",
            )
            with urllib.request.urlopen(request, timeout=30) as resp:
                assert resp.status == 200
    finally:
        process.terminate()
        process.wait(60)
        log.close()
    with sqlite3.connect(database) as connection:
        hashes = [row[0] for row in connection.execute("SELECT ip_hash FROM receipts")]
    assert len(hashes) == DECISIONS
    assert len(set(hashes)) == 1, "the workers hashed 127.0.0.1 with different salts"
