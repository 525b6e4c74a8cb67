"""Scale-out benchmark: one replica against two, and what one PostgreSQL holds.

Not a test: run it on demand (as root for nginx, from the repository root):

    .venv-test/bin/python bench/bench_replicas.py [--seconds 8] [--rounds 3] [--connections 32]

A throwaway PostgreSQL (scripts/test-postgres.sh) holds the receipts; one nginx
(worker_processes 1) serves the upstream page and balances round-robin over the
replicas, on two front ports: one with replica 0 only, one with replicas 0 and 1.
Replica 0 is pinned to CPU 0, replica 1 to CPU 1 (`taskset`), each `consentry run`
with one worker, so "2 replicas" is two machines' worth of proxy on this 2-core box.
`wrk` drives each front port in turn, interleaved round by round, with two workloads:
a 60 KB HTML page full of trackers rewritten for a visitor without consent, and consent
decisions (`POST /_consent/`, one receipt committed in PostgreSQL each). Reported: the
median requests/s of the rounds, the 2/1 ratio, and the replicas' CPU seconds per
1000 requests (from /proc), which says whether a second replica makes each request
dearer (a shared bottleneck) or only adds capacity. Last, the receipts write rate of
the PostgreSQL alone: concurrent `record` calls through the store, 1, 2 and 4 client
processes. The machine's load average is printed: on a shared machine every figure is
a lower bound of the hardware and the ratio is what to read.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_proxy import html_page  # noqa: E402

PYTHON = sys.executable
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
PG_SCRIPT = ROOT / "scripts" / "test-postgres.sh"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ok(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"not ready: {url}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


NGINX = """\
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
    server {{ listen 127.0.0.1:{upstream}; root {d}/site; }}
    upstream one {{ server 127.0.0.1:{r0}; keepalive 64; }}
    upstream two {{ server 127.0.0.1:{r0}; server 127.0.0.1:{r1}; keepalive 64; }}
    server {{ listen 127.0.0.1:{front1}; location / {{ proxy_pass http://one; proxy_http_version 1.1;
        proxy_set_header Connection ""; proxy_set_header Host $host; }} }}
    server {{ listen 127.0.0.1:{front2}; location / {{ proxy_pass http://two; proxy_http_version 1.1;
        proxy_set_header Connection ""; proxy_set_header Host $host; }} }}
}}
"""

REPLICA = """\
[proxy]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin}"
workers = 1
access_log = "off"
trusted_proxies = ["127.0.0.1/32"]
[proxy.limits]
consent_decisions_per_minute = 1000000
[receipts]
url_env = "CONSENTRY_RECEIPTS_URL"
ip_salt_env = "CONSENTRY_IP_SALT"
[sites.default]
upstream = "http://127.0.0.1:{upstream}"
"""

POST_LUA = """\
wrk.method = "POST"
wrk.body = '{"action": "accept_all"}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk(url: str, seconds: float, connections: int, script: Path | None = None) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        # Under a starved CPU a decision may exceed [receipts] write_timeout: an honest 503.
        print(f"  ({non2xx.group(1)} non-2xx answers from {url})", flush=True)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    requests = re.search(r"(\d+) requests in", out)
    assert match and requests, out
    return float(match.group(1))


async def write_rate(url: str, seconds: float, concurrency: int) -> tuple[int, float]:
    from proxy.receipts import Receipt, open_store

    store = await open_store(url, ip_salt=b"bench")
    done = 0
    stop = time.monotonic() + seconds

    async def writer() -> None:
        nonlocal done
        while time.monotonic() < stop:
            now = dt.datetime.now(dt.UTC)
            await store.record(Receipt(uuid.uuid4().hex, "default", "1", "sha256:bench", ["necessary", "analytics"],
                                       ["marketing"], "save", now, now + dt.timedelta(days=182), "0123456789abcdef",
                                       "bench", False))
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(writer() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    await store.close()
    return done, elapsed


def pg_write_rate(url: str, seconds: float, processes: int, concurrency: int) -> float:
    code = (
        "import asyncio, sys; sys.path.insert(0, sys.argv[1]); import bench_replicas as b; "
        "n, t = asyncio.run(b.write_rate(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))); print(n, t)"
    )
    children = [
        subprocess.Popen([PYTHON, "-c", code, str(ROOT / "bench"), url, str(seconds), str(concurrency)],
                         stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    total = 0.0
    for child in children:
        out, _ = child.communicate(timeout=seconds + 120)
        count, elapsed = out.split()
        total += int(count) / float(elapsed)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is needed (apt-get install wrk nginx-light util-linux)")
    directory = Path(tempfile.mkdtemp(prefix="consentry-bench-replicas."))
    directory.chmod(0o755)
    (directory / "tmp").mkdir(mode=0o777)
    (directory / "tmp").chmod(0o777)
    (directory / "site").mkdir()
    (directory / "site" / "page.html").write_bytes(html_page(60_000))
    (directory / "decide.lua").write_text(POST_LUA)
    cluster = tempfile.mkdtemp(prefix="consentry-pg.")
    url = subprocess.run([str(PG_SCRIPT), "start", cluster], capture_output=True, text=True, check=True).stdout.strip()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ports = {name: free_port() for name in ("upstream", "r0", "r1", "a0", "a1", "front1", "front2")}
        env = {**os.environ, "CONSENTRY_RECEIPTS_URL": url, "CONSENTRY_IP_SALT": "bench-salt", "CONSENTRY_SECRET": SECRET}
        replicas = []
        for index in (0, 1):
            config = directory / f"replica-{index}.toml"
            config.write_text(REPLICA.format(port=ports[f"r{index}"], admin=ports[f"a{index}"], upstream=ports["upstream"]))
            process = subprocess.Popen(["taskset", "-c", str(index), PYTHON, "-m", "proxy", "run", "--config", str(config)],
                                       env=env, stdout=subprocess.DEVNULL, stderr=(directory / f"r{index}.log").open("wb"))
            processes.append(process)
            replicas.append(process)
        conf = directory / "nginx.conf"
        conf.write_text(NGINX.format(d=directory, **ports))
        processes.append(subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-p", str(directory)]))
        for index in (0, 1):
            wait_ok(f"http://127.0.0.1:{ports[f'a{index}']}/readyz")
        wait_ok(f"http://127.0.0.1:{ports['front2']}/_consent/status")

        workloads = {"html page (60 KB, no consent)": ("/page.html", None), "consent decision (receipt)": ("/_consent/", directory / "decide.lua")}
        results: dict[tuple[str, int], list[float]] = {}
        cpu: dict[tuple[str, int], list[float]] = {}
        for path, script in workloads.values():   # warm up both replicas
            wrk(f"http://127.0.0.1:{ports['front2']}{path}", 2, args.connections, script)
        print(f"load average before: {os.getloadavg()[0]:.1f} (2 CPUs)", flush=True)
        for round_ in range(args.rounds):
            for count in ((1, 2) if round_ % 2 == 0 else (2, 1)):
                for name, (path, script) in workloads.items():
                    before = sum(cpu_seconds(p.pid) for p in replicas)
                    # taskset execs python: the pid is the replica's own.
                    rate = wrk(f"http://127.0.0.1:{ports[f'front{count}']}{path}", args.seconds, args.connections, script)
                    used = sum(cpu_seconds(p.pid) for p in replicas) - before
                    results.setdefault((name, count), []).append(rate)
                    cpu.setdefault((name, count), []).append(1000 * used / (rate * args.seconds))
                    print(f"round {round_ + 1}: {count} replica(s), {name}: {rate:,.0f} req/s, "
                          f"{1000 * used / (rate * args.seconds):.2f} CPU-s per 1000", flush=True)
        print(f"\nload average after: {os.getloadavg()[0]:.1f} (2 CPUs)\n")
        print(f"{'workload':<32} {'1 replica':>12} {'2 replicas':>12} {'ratio':>7}   CPU-s/1000 req (1 -> 2)")
        for name in workloads:
            one, two = statistics.median(results[(name, 1)]), statistics.median(results[(name, 2)])
            c1, c2 = statistics.median(cpu[(name, 1)]), statistics.median(cpu[(name, 2)])
            print(f"{name:<32} {one:>10,.0f}/s {two:>10,.0f}/s {two / one:>6.2f}x   {c1:.2f} -> {c2:.2f}")

        for process in replicas:   # the database alone now
            process.terminate()
            process.wait(30)
        print("\nPostgreSQL receipts write rate (store.record, one commit each, synchronous_commit on):")
        for count, concurrency in ((1, 16), (2, 16), (4, 16)):
            rate = pg_write_rate(url, args.seconds, count, concurrency)
            print(f"  {count} process(es) x {concurrency} concurrent writers: {rate:,.0f} receipts/s", flush=True)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
        subprocess.run([str(PG_SCRIPT), "stop", cluster], capture_output=True, check=False)
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
