"""``consentry run`` as an operator starts it: real processes, real ports, what they print.

Two zero-config instances on different ports coexist (each admin listener on a free
loopback port, printed in the banner); ``--admin-listen off`` has none; the banner names
listen, upstream, admin, policy, receipts and the access log; one common-format access
line per request reaches stdout; a reload is logged once when it works and once when it
is refused.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from server.server_helpers import ROOT, named_app

SECRET = "run-cli-secret-" + "y" * 32
TIMEOUT = aiohttp.ClientTimeout(total=10)


class Running:
    def __init__(self, process: asyncio.subprocess.Process, banner: list[str]) -> None:
        self.process = process
        self.banner = banner
        self.url = re.search(r"listening on (http://\S+/)", banner[0]).group(1).rstrip("/")
        admin = next(line for line in banner if line.strip().startswith("admin"))
        found = re.search(r"(http://\S+/)", admin)
        self.admin_url = found.group(1).rstrip("/") if found else None

    async def stop(self) -> tuple[str, str]:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(self.process.communicate(), 30)
        return out.decode(), err.decode()


async def start(tmp_path: Path, *argv: str) -> Running:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CONSENTRY_SECRET": SECRET, "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("CONSENTRY_LOG_LEVEL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "run", *argv, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines = [(await asyncio.wait_for(process.stdout.readline(), 30)).decode().rstrip("\n")]
    assert "listening on" in lines[0], lines
    while not lines[-1].strip().startswith("access log"):
        lines.append((await asyncio.wait_for(process.stdout.readline(), 10)).decode().rstrip("\n"))
    return Running(process, lines)


@pytest.fixture
async def upstream(start_upstream):
    return await start_upstream(named_app("upstream"))


async def test_two_zero_config_instances_coexist(upstream, tmp_path):
    first = await start(tmp_path, "--upstream", upstream, "--listen", "127.0.0.1:0")
    second = await start(tmp_path, "--upstream", upstream, "--listen", "127.0.0.1:0")
    try:
        assert first.url != second.url
        assert first.admin_url and second.admin_url and first.admin_url != second.admin_url
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            for running in (first, second):
                async with session.get(running.url + "/") as resp:
                    assert resp.status == 200 and "upstream" in await resp.text()
                async with session.get(running.admin_url + "/healthz") as resp:
                    assert resp.status == 200
    finally:
        out1, err1 = await first.stop()
        out2, err2 = await second.stop()
    assert first.process.returncode == 0 and second.process.returncode == 0
    assert "Traceback" not in err1 + err2
    banner = "\n".join(first.banner)
    assert f"upstream   {upstream}" in banner
    assert "policy     zero-config" in banner and "receipts   sqlite://" in banner and "access log common" in banner
    # One access line per request, Common Log Format, on stdout, without the client address.
    access = [line for line in out1.splitlines() if '"GET / HTTP/1.1"' in line]
    assert len(access) == 1, out1
    assert re.fullmatch(r'127\.0\.0\.1:\d+ - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET / HTTP/1\.1" 200 \d+ [\d.]+ms', access[0]), access[0]


async def test_admin_off_and_json_access_log(upstream, tmp_path):
    running = await start(tmp_path, "--upstream", upstream, "--listen", "127.0.0.1:0", "--admin-listen", "off",
                          "--access-log", "json")
    try:
        assert running.admin_url is None and any(line.split() == ["admin", "off"] for line in running.banner)
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            async with session.get(running.url + "/page?email=a@b.example") as resp:
                assert resp.status == 200
                await resp.read()
    finally:
        out, err = await running.stop()
    import json

    entries = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [("GET", "/page", 200)], err[-3000:]
    assert "a@b.example" not in out


async def test_reload_is_logged_once_each_way(upstream, tmp_path):
    site = tmp_path / "site.toml"
    good = f'[proxy]\nadmin_listen = "off"\n[sites.default]\nupstream = "{upstream}"\n'
    site.write_text(good, encoding="utf-8")
    running = await start(tmp_path, "--config", str(site), "--listen", "127.0.0.1:0", "--log-format", "json")
    try:
        assert any("policy     " + str(site) in line for line in running.banner)
        running.process.send_signal(signal.SIGHUP)
        await asyncio.sleep(1.5)
        site.write_text(good + 'mode = "strp"\n', encoding="utf-8")
        running.process.send_signal(signal.SIGHUP)
        await asyncio.sleep(1.5)
    finally:
        out, err = await running.stop()
    import json

    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records), err
    reloaded = [r for r in records if "reloaded" in r["message"]]
    refused = [r for r in records if "refused" in r["message"] or "reload failed" in r["message"]]
    assert len(reloaded) == 1 and reloaded[0]["level"] == "info", err
    assert len(refused) == 1 and refused[0]["level"] == "error" and "strp" in refused[0]["message"], err
