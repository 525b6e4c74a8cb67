"""Insights end to end, on SQLite and a real PostgreSQL: page views and a seeded set of
decisions through two banner variants over real sockets, a graceful restart in the
middle, then every figure of `consentry insights` (JSON and CSV), the admin
/insights.json and the receipts export compared with what the test did."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from proxy.policy import load_config
from proxy.server import start_servers

VARIANT = re.compile(r'data-consentry-variant="([a-z0-9-]+)"')
CATEGORIES = ["preferences", "analytics", "marketing"]
JSON_HEADERS = {"Content-Type": "application/json"}


def wilson(x: int, n: int) -> list[float]:
    """Written out independently of proxy.insights: the Wilson score interval, z = 1.96."""
    z = 1.96
    p = x / n
    centre = (2 * n * p + z * z) / (2 * (n + z * z))
    half = z * math.sqrt(z * z + 4 * n * p * (1 - p)) / (2 * (n + z * z))
    return [max(0.0, centre - half), min(1.0, centre + half)]


class Truth:
    """What the test did, to compare every reported figure with."""

    def __init__(self) -> None:
        self.impressions: Counter[str] = Counter()
        self.decisions: Counter[str | None] = Counter()
        self.actions: Counter[tuple[str | None, str]] = Counter()
        self.granted: Counter[str] = Counter()


async def drive(client: aiohttp.ClientSession, url: str, truth: Truth, rng: random.Random, views: int) -> None:
    for _ in range(views):
        async with client.get(url + "/") as resp:
            assert resp.status == 200 and "Set-Cookie" not in resp.headers
            (variant,) = VARIANT.findall(await resp.text())
        truth.impressions[variant] += 1
        if rng.random() < 0.4:
            continue   # this visitor looks and leaves
        action = rng.choices(["accept_all", "reject_all", "save"], weights=[5, 3, 2] if variant == "plain-words" else [3, 5, 2])[0]
        body: dict[str, Any] = {"action": action, "variant": variant, "lang": "en"}
        granted = {"accept_all": CATEGORIES, "reject_all": []}.get(action)
        if granted is None:
            granted = [c for c in CATEGORIES if rng.random() < 0.5]
            body["categories"] = granted
        async with client.post(url + "/_consent/", data=json.dumps(body), headers=JSON_HEADERS) as resp:
            assert resp.status == 200
        truth.decisions[variant] += 1
        truth.actions[(variant, action)] += 1
        truth.granted.update(granted)
    # A decision naming a variant that does not exist is stored as no variant.
    async with client.post(url + "/_consent/", data=json.dumps({"action": "reject_all", "variant": "gone"}), headers=JSON_HEADERS) as resp:
        assert resp.status == 200
    truth.decisions[None] += 1
    truth.actions[(None, "reject_all")] += 1


def cli(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "proxy", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def check_report(report: dict[str, Any], truth: Truth) -> None:
    impressions = sum(truth.impressions.values())
    decisions = sum(truth.decisions.values())
    assert report["site"] == "shop.test"
    assert report["impressions"] == impressions
    assert report["decisions"] == decisions
    assert report["decision_rate"] == decisions / impressions
    for action in ("accept_all", "reject_all", "save", "withdraw"):
        assert report["actions"][action] == sum(n for (_, a), n in truth.actions.items() if a == action)
    assert set(report["categories"]) == set(CATEGORIES)
    for name in CATEGORIES:
        assert report["categories"][name] == {"granted": truth.granted[name], "rate": truth.granted[name] / decisions}
    assert [v["id"] for v in report["variants"]] == ["control", "plain-words", None]
    for entry in report["variants"]:
        variant = entry["id"]
        n = truth.decisions[variant]
        accepted = truth.actions[(variant, "accept_all")]
        assert entry["impressions"] == truth.impressions.get(variant or "", 0)
        assert entry["decisions"] == n
        assert entry["accept_all_rate"] == accepted / n
        low, high = entry["ci95"]
        assert math.isclose(low, wilson(accepted, n)[0], abs_tol=1e-12)
        assert math.isclose(high, wilson(accepted, n)[1], abs_tol=1e-12)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert [(d["day"], d["impressions"], d["decisions"]) for d in report["days"]] == [(today, impressions, decisions)]


async def test_figures_match_what_was_done_across_a_restart(
    policy_file: Any, client: aiohttp.ClientSession, store_url: str, tmp_path: Path
) -> None:
    path = policy_file()
    truth = Truth()
    rng = random.Random(19)
    for views in (70, 50):   # two runs of the proxy on one store: a graceful restart between them
        config = load_config(path)
        servers = await start_servers(config, listen=("127.0.0.1", 0), admin_listen=("127.0.0.1", 0))
        try:
            url = "http://127.0.0.1:%d" % servers.public_address[1]
            await drive(client, url, truth, rng, views)
        finally:
            await servers.close()   # the impressions reach the store here (the flush interval is an hour)
    assert set(truth.impressions) == {"control", "plain-words"}

    report = json.loads(cli("insights", "--config", str(path), "--format", "json"))
    check_report(report, truth)
    assert json.loads(cli("insights", "--config", str(path), "--site", "shop.test", "--format", "json")) == report
    today = dt.datetime.now(dt.UTC).date()
    empty = json.loads(cli("insights", "--config", str(path), "--format", "json", "--since", (today + dt.timedelta(days=1)).isoformat()))
    assert (empty["impressions"], empty["decisions"], empty["days"]) == (0, 0, [])

    rows = list(csv.DictReader(io.StringIO(cli("insights", "--config", str(path), "--format", "csv"))))
    by_variant = {row["variant"]: row for row in rows if row["scope"] == "variant"}
    assert int(by_variant["plain-words"]["impressions"]) == truth.impressions["plain-words"]
    assert int(by_variant["control"]["accept_all"]) == truth.actions[("control", "accept_all")]
    assert "plain-words" in cli("insights", "--config", str(path))

    # The admin listener answers the CLI's JSON (a third run, nothing new counted).
    config = load_config(path)
    servers = await start_servers(config, listen=("127.0.0.1", 0), admin_listen=("127.0.0.1", 0))
    try:
        admin = "http://127.0.0.1:%d" % servers.admin_address[1]
        async with client.get(admin + "/insights.json?site=shop.test") as resp:
            assert resp.status == 200
            assert await resp.json() == report
        async with client.get(admin + "/insights.json?site=nowhere.test") as resp:
            assert resp.status == 404
    finally:
        await servers.close()

    # Receipts export carries both columns; the texts behind each digest are kept.
    exported = list(csv.DictReader(io.StringIO(cli("receipts", "--config", str(path), "export", "--format", "csv"))))
    assert Counter(row["banner_variant"] or None for row in exported) == truth.decisions
    digests = {row["banner_variant"]: row["banner_texts_digest"] for row in exported}
    assert len(set(digests.values())) == 2   # control and the unknown id show the same texts; plain-words its own
    shown = json.loads(cli("receipts", "--config", str(path), "texts", digests["plain-words"]))
    assert shown["lang"] == "en" and shown["texts"]["accept_all"] == "Yes, count my visit"
    assert shown["texts"]["reject_all"] == "No, don't count me"
    result = subprocess.run([sys.executable, "-m", "proxy", "receipts", "--config", str(path), "texts", "sha256:" + "0" * 64],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "no banner texts kept" in result.stderr
