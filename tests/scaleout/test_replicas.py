"""Three real replicas behind a real nginx on one real PostgreSQL.

The contract under test: a decision is acknowledged (200, a cookie, a receipt id) only
once its receipt is committed, so killing a replica with SIGKILL in the middle of a
few thousand concurrent decisions loses no acknowledged receipt; replicas share keys
and salt, so a cookie from one is honoured by the others and a withdrawal may go
through any of them; a key rotation rolled through the replicas one at a time never
rejects a valid cookie; and `consentry receipts export` on any replica shows exactly
what the database holds.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from scaleout.replica_cluster import Cluster, cookie_of, find_nginx

pytestmark = pytest.mark.postgres

DECISIONS = int(os.environ.get("CONSENTRY_REPLICA_DECISIONS", "3000"))
CONCURRENCY = 24
CATEGORIES = ("preferences", "analytics", "marketing")
BOUND_SECONDS = 600   # the whole load phase; a bound against hangs, not a speed claim


async def _sql(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=30)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def database(postgres_server_url: str) -> Iterator[str]:
    name = f"replicas_{uuid.uuid4().hex[:12]}"
    asyncio.run(_sql(postgres_server_url, f'CREATE DATABASE "{name}"'))
    base, _, _ = postgres_server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_sql(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def cluster(database: str) -> Iterator[Cluster]:
    find_nginx()
    # Not pytest's tmp_path (a 0700 tree): nginx workers run as nobody and need the temp dirs.
    directory = Path(tempfile.mkdtemp(prefix="consentry-replicas."))
    directory.chmod(0o755)
    running = Cluster(directory, database)
    try:
        running.start()
        yield running
    finally:
        running.close()
        shutil.rmtree(directory, ignore_errors=True)


async def rows(database: str, query: str, *args: Any) -> list[Any]:
    import asyncpg

    connection = await asyncpg.connect(database, timeout=30)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


def payload(rng: random.Random) -> dict[str, Any]:
    action = rng.choice(("accept_all", "reject_all", "save"))
    if action == "save":
        return {"action": action, "categories": [c for c in CATEGORIES if rng.random() < 0.5]}
    return {"action": action}


@dataclass
class Outcome:
    sent: dict[str, Any]
    status: int | None
    cookie: str | None = None
    body: dict[str, Any] | None = None
    error: str | None = None


async def decide(session: aiohttp.ClientSession, url: str, sent: dict[str, Any], cookie: str | None = None) -> Outcome:
    headers = {"Cookie": cookie} if cookie else {}
    try:
        async with session.post(url + "/_consent/", json=sent, headers=headers) as resp:
            data = await resp.read()
            body = json.loads(data) if resp.status == 200 else None
            return Outcome(sent, resp.status, cookie_of(resp), body)
    except (aiohttp.ClientError, OSError) as exc:
        return Outcome(sent, None, error=repr(exc))


async def status_on(session: aiohttp.ClientSession, url: str, cookie: str) -> dict[str, Any] | None:
    """The replica's reading of the cookie, or None when the replica is not listening."""
    try:
        async with session.get(url + "/_consent/status", headers={"Cookie": cookie}) as resp:
            assert resp.status == 200
            return dict(json.loads(await resp.read()))
    except (aiohttp.ClientConnectionError, OSError):
        return None


def kid_of(cookie: str) -> str:
    header = cookie.split("=", 1)[1].split(".", 1)[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


async def test_acknowledged_decisions_survive_a_replica_killed_mid_load(cluster: Cluster, database: str) -> None:
    rng = random.Random(random.getrandbits(32))
    victim = rng.choice(cluster.replicas)
    kill_at = rng.randrange(DECISIONS // 5, DECISIONS // 2)
    restart_at = kill_at + DECISIONS // 5
    [[before]] = await rows(database, "SELECT coalesce(max(id), 0) FROM receipts")
    outcomes: list[Outcome] = []
    killed_while_busy = asyncio.Event()
    restarts: list[asyncio.Future[None]] = []
    todo = iter(range(DECISIONS))

    async def worker(session: aiohttp.ClientSession) -> None:
        for _ in todo:
            outcomes.append(await decide(session, cluster.url, payload(rng)))
            done = len(outcomes)
            if done == kill_at:
                victim.kill()
                killed_while_busy.set()
            elif done == restart_at:
                restarts.append(asyncio.ensure_future(asyncio.to_thread(cluster.restart, victim)))

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.wait_for(asyncio.gather(*(worker(session) for _ in range(CONCURRENCY))), BOUND_SECONDS)
        await asyncio.wait_for(asyncio.gather(*restarts), BOUND_SECONDS)
    assert killed_while_busy.is_set() and len(outcomes) == DECISIONS

    acknowledged = [o for o in outcomes if o.status == 200]
    failed = [o for o in outcomes if o.status != 200]
    # An honest failure: a gateway error from nginx (the replica died mid-answer) or a 503,
    # and never a cookie without a receipt.
    assert all(o.status in (502, 503, 504) and o.cookie is None for o in failed), failed[:5]
    assert len(acknowledged) >= DECISIONS * 0.9, f"only {len(acknowledged)} of {DECISIONS} acknowledged"
    for outcome in acknowledged:
        assert outcome.cookie and outcome.body and isinstance(outcome.body["receipt_id"], int)

    stored = {
        row["id"]: row
        for row in await rows(
            database,
            "SELECT id, consent_id, action, granted FROM receipts WHERE id = ANY($1::bigint[])",
            [o.body["receipt_id"] for o in acknowledged if o.body],
        )
    }
    for outcome in acknowledged:
        assert outcome.body is not None
        row = stored.get(outcome.body["receipt_id"])
        assert row is not None, f"acknowledged receipt {outcome.body['receipt_id']} is not in PostgreSQL"
        assert row["consent_id"] == outcome.body["consent_id"]
        assert row["action"] == outcome.sent["action"]
        assert set(json.loads(row["granted"])) == set(outcome.body["categories"])
    [[after]] = await rows(database, "SELECT count(*) FROM receipts WHERE id > $1", before)
    # Receipts committed by the victim just before it died, whose answer never left it:
    # proof of a decision the visitor made but whose cookie never arrived (see docs).
    print(
        f"\n{DECISIONS} decisions, {len(acknowledged)} acknowledged, {len(failed)} failed honestly "
        f"({sorted({o.status for o in failed})}); {after - len(acknowledged)} committed but unanswered; "
        f"replica {victim.index} killed after {kill_at}"
    )
    assert after >= len(acknowledged)


async def test_a_cookie_from_one_replica_is_honoured_by_the_others(cluster: Cluster) -> None:
    async with aiohttp.ClientSession() as session:
        for issuer in cluster.replicas:
            outcome = await decide(session, issuer.url, {"action": "save", "categories": ["analytics"]})
            assert outcome.status == 200 and outcome.cookie and outcome.body
            for reader in cluster.replicas:
                seen = await status_on(session, reader.url, outcome.cookie)
                assert seen is not None, f"replica {reader.index} is down"
                assert seen["decided"] is True, f"replica {reader.index} refused a cookie of replica {issuer.index}"
                assert seen["consent_id"] == outcome.body["consent_id"]
                assert seen["categories"] == ["necessary", "analytics"]


async def test_a_withdrawal_through_another_replica_is_recorded(cluster: Cluster, database: str) -> None:
    first, second, third = cluster.replicas
    async with aiohttp.ClientSession() as session:
        given = await decide(session, first.url, {"action": "accept_all"})
        assert given.status == 200 and given.cookie and given.body
        withdrawn = await decide(session, second.url, {"action": "withdraw"}, cookie=given.cookie)
        assert withdrawn.status == 200 and withdrawn.cookie and withdrawn.body
        assert withdrawn.body["consent_id"] == given.body["consent_id"]   # one history per visitor
        seen = await status_on(session, third.url, withdrawn.cookie)
        assert seen is not None and seen["decided"] is True and seen["categories"] == ["necessary"]
    history = await rows(database, "SELECT id, action FROM receipts WHERE consent_id = $1 ORDER BY id", given.body["consent_id"])
    assert [(r["id"], r["action"]) for r in history] == [
        (given.body["receipt_id"], "accept_all"),
        (withdrawn.body["receipt_id"], "withdraw"),
    ]


async def test_key_rotation_rolled_replica_by_replica_never_rejects_a_valid_cookie(cluster: Cluster) -> None:
    """Rolled as Kubernetes rolls a Deployment: each replica leaves the balancer, drains on
    SIGTERM, comes back with the new key ring and rejoins once ready. No valid cookie is
    refused, and (graceful shutdown) no decision fails either."""
    rejections: list[str] = []
    checks = 0
    statuses: dict[int | None, int] = {}
    stop = asyncio.Event()
    # A new connection per request: a client reusing a keep-alive connection that nginx
    # closes on its reload would see an error that is neither Consentry's nor a visitor's.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        old = [await decide(session, cluster.url, {"action": "accept_all"}) for _ in range(5)]
        assert all(o.status == 200 and o.cookie for o in old)
        assert {kid_of(o.cookie or "") for o in old} == {"k1"}
        # Every replica that answers must honour every valid cookie while the keys roll.
        valid = [o.cookie or "" for o in old]

        async def probe() -> None:
            nonlocal checks
            while not stop.is_set():
                fresh = await decide(session, cluster.url, {"action": "accept_all"})
                statuses[fresh.status] = statuses.get(fresh.status, 0) + 1
                if fresh.status == 200 and fresh.cookie:
                    valid.append(fresh.cookie)
                for cookie in (valid[-1], random.choice(valid)):
                    for replica in cluster.replicas:
                        seen = await status_on(session, replica.url, cookie)
                        if seen is None:
                            continue   # draining or restarting: nginx sends nobody there
                        checks += 1
                        if not seen["decided"]:
                            rejections.append(f"replica {replica.index} ({replica.kids}) refused a {kid_of(cookie)} cookie")

        probes = [asyncio.ensure_future(probe()) for _ in range(3)]
        # Step 1: every replica learns the new key (verify only); step 2: the new key signs.
        for kids in (("k1", "k2"), ("k2", "k1")):
            for replica in cluster.replicas:
                await asyncio.to_thread(cluster.restart, replica, kids, deregister=True)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*probes), BOUND_SECONDS)

        after = await decide(session, cluster.url, {"action": "reject_all"})
        assert after.status == 200 and after.cookie and kid_of(after.cookie) == "k2"
        for cookie in [o.cookie or "" for o in old] + [after.cookie]:
            for replica in cluster.replicas:
                seen = await status_on(session, replica.url, cookie)
                assert seen is not None and seen["decided"] is True
    print(f"\nrotation: {checks} cookie checks on live replicas, decisions by status {statuses}")
    assert rejections == []
    assert checks >= 30, "the probes hardly ran during the rotation"
    assert set(statuses) == {200}, f"decisions failed during a graceful rolling restart: {statuses}"


def _comparable(item: dict[str, Any]) -> tuple[Any, ...]:
    def when(value: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)

    granted, refused = item["granted"], item["refused"]
    return (
        item["consent_id"], item["site_id"], item["policy_version"], item["vendor_list_digest"],
        json.loads(granted) if isinstance(granted, str) else granted,
        json.loads(refused) if isinstance(refused, str) else refused,
        item["action"], when(item["created_at"]), when(item["expires_at"]), item["ip_hash"], item["user_agent"],
        bool(item["gpc"]),
    )


async def test_every_replicas_export_matches_the_database(cluster: Cluster, database: str) -> None:
    async with aiohttp.ClientSession() as session:
        for replica in cluster.replicas:   # at least one receipt, whichever test ran before
            assert (await decide(session, replica.url, {"action": "reject_all"})).status == 200
    in_database = [_comparable(dict(row)) for row in await rows(database, "SELECT * FROM receipts ORDER BY id")]
    assert len({row[-3] for row in in_database if row[-3]}) >= 1   # IPs hashed with the shared salt
    for replica in cluster.replicas:
        result = subprocess.run(
            [sys.executable, "-m", "proxy", "receipts", "--config", str(replica.config), "export"],
            env=cluster.env, cwd=cluster.directory, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        exported = [_comparable(json.loads(line)) for line in result.stdout.splitlines() if line.strip()]
        assert exported == in_database, f"replica {replica.index}'s export differs from the database"
