"""Benchmark Consentry against the proxies a user would otherwise pick, side by side on loopback.

Not a test: run it on demand (as root for nginx, from the repository root):

    .venv-test/bin/python bench/bench_proxy.py [--seconds 8] [--connections 50] [--repeat 3] [--variants]

One nginx serves the files (a 60 KB HTML page full of trackers, a 60 KB binary, a
200 MB HTML page) and, with the load generators, is pinned to the last CPU; every proxy
under test is pinned to CPU 0. Rows: direct to the upstream, nginx ``proxy_pass``, a bare
streaming aiohttp passthrough (``bench/passthrough_proxy.py``), Consentry on the binary,
Consentry rewriting the page (no cookie; a full-consent cookie; a full-consent cookie of
another of 365 visitors on every request, from a wrk script, without latencies), mitmproxy reverse
mode with a regex rewrite (``bench/mitm_reference_addon.py``), and Consentry with one and
two workers pinned to both CPUs (the load generator shares them: indicative only on a
2-core machine). Requests/s come from ``wrk``, p50/p99 latency from ``hey`` (wrk's
percentiles are wrong for 60 KB responses).

Two figures per row, because the machines here are shared and noisy:

* requests/s, best of interleaved rounds (what a user sees, distorted by other load);
* CPU time the proxy process (and its workers) spent per request during the wrk run,
  from /proc (user + system): other processes on the machine barely change it, so its
  ratio to the bare passthrough's is the most repeatable measure of the proxy's own cost.

Before a row is counted, its output is checked (the passthroughs return the upstream's
bytes, Consentry defers the page's trackers without consent and keeps them with full
consent, mitmproxy's regex applied): a fast contender with a wrong answer is no result.
Consentry runs with its access log off, like the references (nginx ``access_log off``).
Finally the peak RSS growth of one Consentry worker while 200 MB of HTML streams through it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"

TRACKERS = """
<script async src="https://www.googletagmanager.com/gtag/js?id=G-BENCH1"></script>
<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}gtag('js',new Date());gtag('config','G-BENCH1');</script>
<script>!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments):n.queue.push(arguments)};t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}(window,document,'script','https://connect.facebook.net/en_US/fbevents.js');fbq('init','123');fbq('track','PageView');</script>
<script src="https://static.hotjar.com/c/hotjar-1.js?sv=6"></script>
<link rel="preconnect" href="https://www.google-analytics.com">
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js" defer></script>
"""
BODY_BLOCK = """
<article class="product"><h2>Product {i}</h2><img src="/img/p{i}.jpg" alt="Product {i}" loading="lazy">
<p>Hand-made in small batches. Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor
incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation.</p>
<a href="/products/{i}" class="button">Details</a></article>
"""
EMBEDS = """
<iframe width="560" height="315" src="https://www.youtube.com/embed/dQw4w9WgXcQ" allowfullscreen></iframe>
<img src="https://www.facebook.com/tr?id=123&ev=PageView&noscript=1" width="1" height="1" style="display:none">
<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-BENCH" height="0" width="0"></iframe></noscript>
"""


def html_page(target_size: int) -> bytes:
    head = f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Bench shop</title>{TRACKERS}</head><body>"
    parts = [head, EMBEDS]
    i = 0
    while sum(map(len, parts)) < target_size - 200:
        parts.append(BODY_BLOCK.format(i=i))
        i += 1
    parts.append(EMBEDS + "</body></html>")
    return "".join(parts).encode()


_HANDED_OUT: set[int] = set()


def free_port(consecutive: int = 1) -> int:
    """A free loopback port, with the ``consecutive - 1`` ports after it free too (worker
    N of Consentry listens for admin on admin + N), none handed out before in this run."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        wanted = range(port, port + consecutive)
        if _HANDED_OUT.intersection(wanted) or not all(_bindable(p) for p in wanted[1:]):
            continue
        _HANDED_OUT.update(wanted)
        return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


@dataclass
class Row:
    name: str
    url: str
    headers: tuple[str, ...] = ()
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: str = ""
    cpu_us: float = 0.0                     # proxy CPU time per request (user + system)
    pids: tuple[int, ...] = ()              # the processes whose CPU the row is charged
    check: str = "same"                     # what its output must be (see Bench.check)
    wrk_script: str | None = None           # a wrk Lua script (varies the request); hey then skips the row


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="consentry-bench-"))
        self.tmp.chmod(0o755)   # nginx workers run as an unprivileged user and must read the files
        self.processes: list[subprocess.Popen[bytes]] = []
        cpus = sorted(os.sched_getaffinity(0))
        self.proxy_cpu = str(cpus[0])
        self.load_cpu = str(cpus[-1])
        self.load_at_start = os.getloadavg()[0]   # other work on the machine distorts every figure

    def start(self, argv: list[str], cpu: str | None, **kwargs: object) -> subprocess.Popen[bytes]:
        if cpu is not None:
            argv = ["taskset", "-c", cpu, *argv]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the servers -------------------------------------------------------------------

    def files(self) -> None:
        www = self.tmp / "www"
        www.mkdir()
        page = html_page(60 * 1024)
        (www / "page.html").write_bytes(page)
        # The same page with a per-request token in the middle (nginx SSI writes the request
        # id there), as a form's CSRF token would: a rewrite recorded for one response never
        # matches the next one whole (proxy.html.replay), so this row measures rewriting.
        middle = page.index(b"\n", len(page) // 2) + 1
        (www / "changing.shtml").write_bytes(page[:middle] + b'<input type=hidden name=t value="<!--# echo var="request_id" -->">\n'
                                             + page[middle:])
        (www / "data.bin").write_bytes(os.urandom(60 * 1024))
        block = html_page(1024 * 1024)
        inner = block[block.index(b"<body>") + 6 : block.rindex(b"</body>")]
        with open(www / "big.html", "wb") as out:
            out.write(block[: block.index(b"<body>") + 6])
            for _ in range(200):
                out.write(inner)
            out.write(b"</body></html>")

    def nginx(self, name: str, port: int, location: str, cpu: str) -> None:
        prefix = self.tmp / name
        (prefix / "logs").mkdir(parents=True)
        conf = prefix / "nginx.conf"
        conf.write_text(
            f"""
daemon off; worker_processes 1; pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  types {{ text/html html shtml; application/octet-stream bin; }}
  upstream backend {{ server 127.0.0.1:{self.upstream_port}; keepalive 128; }}
  server {{ listen 127.0.0.1:{port}; {location} }}
}}
"""
        )
        master = self.start(["nginx", "-p", str(prefix), "-c", str(conf)], cpu)
        wait_port(port)
        time.sleep(0.2)
        self.nginx_pids = self.worker_pids(master)

    def consentry(self, port: int, admin_port: int, workers: int, cpu: str | None, *, variants: bool = False) -> subprocess.Popen[bytes]:
        conf = self.tmp / f"consentry-{port}.toml"
        # Two banner variants (docs/insights.md): a draw and an impression count per page view.
        variant_tables = """
[[sites.default.banner.variants]]
id = "control"
weight = 1
[[sites.default.banner.variants]]
id = "plain-words"
weight = 1
[sites.default.banner.variants.texts.en]
accept_all = "Yes, count my visit"
reject_all = "No, don't count me"
""" if variants else ""
        conf.write_text(
            f"""
[proxy]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin_port}"
workers = {workers}
access_log = "off"

[[consent.keys]]
kid = "bench"
alg = "HS256"
secret = "{SECRET}"

[receipts]
url = "sqlite:///{self.tmp}/receipts-{port}.db"

[sites.default]
upstream = "http://127.0.0.1:{self.upstream_port}"
{variant_tables}"""
        )
        process = self.start([PYTHON, "-m", "proxy", "run", "--config", str(conf)], cpu, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_port(port)
        wait_port(admin_port)
        self.consentry_config = conf
        return process

    def full_consent_cookie(self, decided_ago: float = 0.0) -> str:
        sys.path.insert(0, str(ROOT))
        from proxy.consent import KeyRing, issue_token
        from proxy.policy import load_config

        config = load_config(self.consentry_config)
        site = config.sites["default"]
        token, _ = issue_token(KeyRing.single_hs256(SECRET, kid="bench"), site=site,
                               categories=["preferences", "analytics", "marketing"], now=time.time() - decided_ago)
        return f"{site.cookie_name}={token}"

    def many_visitors_script(self, visitors: int) -> str:
        """A wrk script sending each request as the next of ``visitors`` visitors who all
        granted everything, each an hour before the last (so each cookie and consent expiry differs)."""
        cookies = [self.full_consent_cookie(decided_ago=3600 * hour) for hour in range(visitors)]
        script = self.tmp / "visitors.lua"
        script.write_text("local cookies = {" + ",".join(f'"{cookie}"' for cookie in cookies) + "}\n"
                          "local i = 0\n"
                          "request = function()\n"
                          "  i = i % #cookies + 1\n"
                          '  return wrk.format(nil, nil, {["Cookie"] = cookies[i]})\n'
                          "end\n")
        return str(script)

    # -- the load ----------------------------------------------------------------------

    def measure(self, rows: list[Row]) -> None:
        """Interleaved rounds; the best requests/s, the median latencies and CPU per request.

        On a shared machine other processes steal CPU from one run or another; the best
        of several interleaved runs is the figure least distorted by that.
        """
        for row in rows:
            self.check(row)
        rates: dict[str, list[float]] = {row.name: [] for row in rows}
        p50s: dict[str, list[float]] = {row.name: [] for row in rows}
        p99s: dict[str, list[float]] = {row.name: [] for row in rows}
        cpus: dict[str, list[float]] = {row.name: [] for row in rows}
        for round_number in range(self.args.repeat):
            for row in rows:
                self.wrk(row)
                self.hey(row)
                rates[row.name].append(row.rps)
                p50s[row.name].append(row.p50_ms)
                p99s[row.name].append(row.p99_ms)
                if row.cpu_us:
                    cpus[row.name].append(row.cpu_us)
                print(f"  round {round_number + 1}: {row.name}: {row.rps:.0f} req/s, {row.cpu_us:.0f} us CPU/req",
                      file=sys.stderr, flush=True)
        for row in rows:
            row.rps = max(rates[row.name])
            row.p50_ms = sorted(p50s[row.name])[len(p50s[row.name]) // 2]
            row.p99_ms = sorted(p99s[row.name])[len(p99s[row.name]) // 2]
            row.cpu_us = min(cpus[row.name]) if cpus[row.name] else 0.0

    def check(self, row: Row) -> None:
        """Refuse to count a contender whose answer is wrong (see the module docstring)."""
        request = urllib.request.Request(row.url, headers=dict(h.split(": ", 1) for h in row.headers))
        with urllib.request.urlopen(request, timeout=30) as resp:
            body = resp.read()
        name = row.url.rsplit("/", 1)[1]
        upstream = (self.tmp / "www" / name).read_bytes()
        live_tracker = re.search(rb'<script[^>]*\ssrc="https://www\.googletagmanager\.com', body) is not None
        match row.check:
            case "same":
                ok = body == upstream
            case "ssi":   # the upstream's bytes with nginx's request id where the SSI echo was
                directive = b'<!--# echo var="request_id" -->'
                before, after = upstream.split(directive)
                ok = (body.startswith(before) and body.endswith(after)
                      and re.fullmatch(rb"[0-9a-f]{32}", body[len(before):len(body) - len(after)]) is not None)
            case "deferred":
                ok = not live_tracker and b'data-consent-src="https://www.googletagmanager.com' in body
            case "kept":
                ok = live_tracker and b"__consentry_guard" in body and b"data-consent-src=" not in body
            case "regex":
                ok = not live_tracker and b'data-consent-src="https://www.googletagmanager.com' in body
            case _:
                ok = False
        if not ok:
            raise SystemExit(f"bench: {row.name} answered wrongly ({row.check!r} expected): not counting it")

    @staticmethod
    def cpu_seconds(pids: tuple[int, ...]) -> float:
        """User + system CPU seconds of these processes and their reaped children, from /proc."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15])   # utime stime cutime cstime
        return total / ticks

    def worker_pids(self, process: subprocess.Popen[bytes]) -> tuple[int, ...]:
        """The process and its live children (``--workers N`` forks its workers)."""
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        extra = tuple(int(pid) for pid in children.read_text().split()) if children.exists() else ()
        return (process.pid, *extra)

    def wrk(self, row: Row) -> None:
        argv = ["taskset", "-c", self.load_cpu, "wrk", "-t1", f"-c{self.args.connections}", f"-d{self.args.seconds}s", "--timeout", "30s"]
        for header in row.headers:
            argv += ["-H", header]
        if row.wrk_script:
            argv += ["-s", row.wrk_script]
        before = self.cpu_seconds(row.pids) if row.pids else 0.0
        out = subprocess.run([*argv, row.url], capture_output=True, text=True, timeout=self.args.seconds + 60).stdout
        used = self.cpu_seconds(row.pids) - before if row.pids else 0.0
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        row.rps = float(match.group(1)) if match else 0.0
        done = re.search(r"(\d+) requests in", out)
        row.cpu_us = used / int(done.group(1)) * 1e6 if row.pids and done and int(done.group(1)) else 0.0
        errors = re.search(r"(Non-2xx or 3xx responses: \d+|Socket errors: [^\n]+)", out)
        row.errors = errors.group(1) if errors else ""

    def hey(self, row: Row) -> None:
        if row.wrk_script:
            return   # hey cannot vary the request: no latencies for this row
        argv = ["taskset", "-c", self.load_cpu, "hey", "-z", f"{self.args.seconds}s", "-c", str(self.args.connections)]
        for header in row.headers:
            argv += ["-H", header]
        out = subprocess.run([*argv, row.url], capture_output=True, text=True, timeout=self.args.seconds + 60).stdout
        for pct, attr in (("50", "p50_ms"), ("99", "p99_ms")):
            match = re.search(rf"\s{pct}% in ([\d.]+) secs", out)
            setattr(row, attr, float(match.group(1)) * 1000 if match else 0.0)

    def rss_while_streaming(self, process: subprocess.Popen[bytes], url: str) -> tuple[float, float, int]:
        def hwm() -> int:
            # The worker is the proxy process itself with --workers 1.
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
            return 0

        urllib.request.urlopen(url.replace("big.html", "page.html"), timeout=30).read()
        before = hwm()
        received = 0
        with urllib.request.urlopen(url, timeout=300) as resp:
            while chunk := resp.read(1 << 20):
                received += len(chunk)
        return before / 2**20, (hwm() - before) / 2**20, received

    # -- the run -----------------------------------------------------------------------

    def run_variants(self) -> None:
        """``--variants``: the same page through two Consentry processes, one without banner
        variants and one with two, interleaved; what drawing a variant and counting an
        impression per page view costs (the banner is shown on every request: no cookie)."""
        self.files()
        self.upstream_port = free_port()
        self.nginx("upstream", self.upstream_port, f"location / {{ root {self.tmp / 'www'}; etag on; }}", self.load_cpu)
        plain_port, plain_admin, variant_port, variant_admin = free_port(), free_port(2), free_port(), free_port(2)
        processes = [
            self.consentry(plain_port, plain_admin, 1, self.proxy_cpu),
            self.consentry(variant_port, variant_admin, 1, self.proxy_cpu, variants=True),
        ]
        rows = [
            Row("consentry, 60 KB html, no variants", f"http://127.0.0.1:{plain_port}/page.html"),
            Row("consentry, 60 KB html, two variants", f"http://127.0.0.1:{variant_port}/page.html"),
        ]
        # Requests/s swings with whatever else the machine runs; the CPU time the proxy
        # process itself spends per request (utime + stime from /proc over a run, divided
        # by the requests wrk completed) is far less sensitive to that.
        tick = os.sysconf("SC_CLK_TCK")

        def cpu_seconds(pid: int) -> float:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tick

        rates: dict[str, list[float]] = {row.name: [] for row in rows}
        cpu_ms: dict[str, list[float]] = {row.name: [] for row in rows}
        for round_number in range(self.args.repeat):
            for row, process in zip(rows, processes, strict=True):
                before = cpu_seconds(process.pid)
                argv = ["taskset", "-c", self.load_cpu, "wrk", "-t1", f"-c{self.args.connections}",
                        f"-d{self.args.seconds}s", "--timeout", "30s", row.url]
                out = subprocess.run(argv, capture_output=True, text=True, timeout=self.args.seconds + 60).stdout
                used = cpu_seconds(process.pid) - before
                done = re.search(r"(\d+) requests in", out)
                rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
                count = int(done.group(1)) if done else 0
                rates[row.name].append(float(rate.group(1)) if rate else 0.0)
                cpu_ms[row.name].append(1000 * used / count if count else float("nan"))
                print(f"  round {round_number + 1}: {row.name}: {rates[row.name][-1]:.0f} req/s, "
                      f"{cpu_ms[row.name][-1]:.3f} CPU ms/request", file=sys.stderr, flush=True)
        print(f"\n{self.args.connections} connections, {self.args.seconds}s per run, {self.args.repeat} "
              f"interleaved rounds; both proxies on CPU {self.proxy_cpu}, upstream and load on CPU {self.load_cpu}; "
              f"1-minute load average at the start: {self.load_at_start:.1f}\n")
        medians = {}
        for row in rows:
            ms = sorted(cpu_ms[row.name])
            medians[row.name] = ms[len(ms) // 2]
            print(f"{row.name:40} best {max(rates[row.name]):7.0f} req/s   median {medians[row.name]:.3f} CPU ms/request "
                  f"(min {ms[0]:.3f}, max {ms[-1]:.3f})")
        plain, varied = rows
        print(f"\nbest req/s, with variants / without:        {max(rates[varied.name]) / max(rates[plain.name]):.3f}  (target >= 0.98)")
        print(f"CPU per request, with variants / without:  {medians[varied.name] / medians[plain.name]:.3f}  (target <= 1.02)")

    def run(self) -> None:
        if self.args.variants:
            self.run_variants()
            return
        self.files()
        self.upstream_port = free_port()
        upstream_root = self.tmp / "www"
        self.nginx("upstream", self.upstream_port, f"location / {{ root {upstream_root}; etag on; }} "
                   f"location ~ \\.shtml$ {{ root {upstream_root}; ssi on; ssi_types text/html; }}", self.load_cpu)
        nginx_port = free_port()
        self.nginx("proxy", nginx_port,
                   "location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }",
                   self.proxy_cpu)
        passthrough_port = free_port()
        passthrough = self.start([PYTHON, str(ROOT / "bench" / "passthrough_proxy.py"), f"http://127.0.0.1:{self.upstream_port}",
                                  str(passthrough_port)], self.proxy_cpu)
        wait_port(passthrough_port)
        # Memory first, on a fresh process: VmHWM is a lifetime peak, and the load runs
        # below would otherwise have raised it before the 200 MB stream starts.
        rss_port, rss_admin = free_port(), free_port(2)
        rss_process = self.consentry(rss_port, rss_admin, 1, self.proxy_cpu)
        base_rss, growth, received = self.rss_while_streaming(rss_process, f"http://127.0.0.1:{rss_port}/big.html")
        rss_process.send_signal(signal.SIGTERM)
        rss_process.wait(timeout=30)
        consentry_port, admin_port = free_port(), free_port(2)
        consentry = self.consentry(consentry_port, admin_port, 1, self.proxy_cpu)
        cookie = self.full_consent_cookie()
        mitm_port = free_port()
        mitmdump = shutil.which("mitmdump", path=str(Path(PYTHON).parent)) or shutil.which("mitmdump")
        mitm = None
        if mitmdump:
            mitm = self.start([mitmdump, "--mode", f"reverse:http://127.0.0.1:{self.upstream_port}", "-p", str(mitm_port),
                               "--listen-host", "127.0.0.1", "-q", "-s", str(ROOT / "bench" / "mitm_reference_addon.py")],
                              self.proxy_cpu)
            wait_port(mitm_port)

        up = f"http://127.0.0.1:{self.upstream_port}"
        bare = (passthrough.pid,)
        ours = (consentry.pid,)
        rows = [
            Row("direct to upstream (60 KB html)", f"{up}/page.html"),
            Row("nginx proxy_pass (60 KB html)", f"http://127.0.0.1:{nginx_port}/page.html", pids=self.nginx_pids),
            Row("bare aiohttp passthrough (60 KB html)", f"http://127.0.0.1:{passthrough_port}/page.html", pids=bare),
            Row("bare aiohttp passthrough (60 KB binary)", f"http://127.0.0.1:{passthrough_port}/data.bin", pids=bare),
            Row("consentry, non-HTML (60 KB binary)", f"http://127.0.0.1:{consentry_port}/data.bin", pids=ours),
            Row("bare aiohttp passthrough (60 KB html, changing)", f"http://127.0.0.1:{passthrough_port}/changing.shtml",
                pids=bare, check="ssi"),
            Row("consentry, 60 KB html, no cookie", f"http://127.0.0.1:{consentry_port}/page.html", pids=ours,
                check="deferred"),
            Row("consentry, 60 KB html, no cookie, changing", f"http://127.0.0.1:{consentry_port}/changing.shtml",
                pids=ours, check="deferred"),
            Row("consentry, 60 KB html, full consent", f"http://127.0.0.1:{consentry_port}/page.html",
                (f"Cookie: {cookie}",), pids=ours, check="kept"),
            # Every request another visitor (their own cookie and consent expiry), all with
            # the same choices: the rewrite of the page is shared by all of them.
            Row("consentry, 60 KB html, full consent, 365 visitors", f"http://127.0.0.1:{consentry_port}/page.html",
                (f"Cookie: {cookie}",), pids=ours, check="kept", wrk_script=self.many_visitors_script(365)),
            # fetch()ed HTML gets no snippet: under full consent it streams ahead unscanned
            # (no author mark in this page), so the answer is the upstream's bytes.
            Row("consentry, 60 KB html fragment, full consent", f"http://127.0.0.1:{consentry_port}/page.html",
                (f"Cookie: {cookie}", "Sec-Fetch-Dest: empty"), pids=ours, check="same"),
        ]
        if mitm is not None:
            rows.append(Row("mitmproxy reverse + regex (60 KB html)", f"http://127.0.0.1:{mitm_port}/page.html",
                            pids=(mitm.pid,), check="regex"))
        self.measure(rows)

        # Cores: one worker and two, each free to use both CPUs (which the load shares).
        both = ",".join(sorted({self.proxy_cpu, self.load_cpu}))
        scaling = []
        for workers in (1, 2):
            port, admin = free_port(), free_port(2)
            process = self.consentry(port, admin, workers, both)
            time.sleep(1.0)   # let the workers start before their pids are read
            scaling.append(Row(f"consentry --workers {workers} (CPUs {both}), 60 KB html", f"http://127.0.0.1:{port}/page.html",
                               pids=self.worker_pids(process), check="deferred"))
        self.measure(scaling)
        rows += scaling
        self.report(rows, base_rss, growth, received)

    def report(self, rows: list[Row], base_rss: float, growth: float, received: int) -> None:
        by_name = {row.name: row for row in rows}
        bare_html = by_name["bare aiohttp passthrough (60 KB html)"]
        bare_bin = by_name["bare aiohttp passthrough (60 KB binary)"]
        bare_changing_name = "bare aiohttp passthrough (60 KB html, changing)"
        mitm = next((row for row in rows if row.name.startswith("mitmproxy")), None)
        print(f"\n{self.args.connections} connections, {self.args.seconds}s per run, best of {self.args.repeat} rounds; "
              f"proxies on CPU {self.proxy_cpu}, upstream and load on CPU {self.load_cpu}; "
              f"1-minute load average at the start: {self.load_at_start:.1f}\n")
        print(f"{'target':52} {'req/s':>8} {'x bare':>7} {'CPU us/req':>10} {'x bare':>7} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'p99 x bare':>10}  errors")
        for row in rows:
            bare = bare_bin if "binary" in row.name else by_name[bare_changing_name] if "changing" in row.name else bare_html
            ratio = row.rps / bare.rps if bare.rps else 0.0
            cpu_ratio = bare.cpu_us / row.cpu_us if row.cpu_us and bare.cpu_us else 0.0
            p99 = row.p99_ms / bare.p99_ms if bare.p99_ms else 0.0
            cpu = f"{row.cpu_us:10.0f} {cpu_ratio:7.2f}" if row.cpu_us else f"{'':10} {'':7}"
            print(f"{row.name:52} {row.rps:8.0f} {ratio:7.2f} {cpu} {row.p50_ms:8.2f} {row.p99_ms:8.2f} {p99:10.2f}  {row.errors}")
        rewrite = by_name["consentry, 60 KB html, no cookie"]
        changing = by_name["consentry, 60 KB html, no cookie, changing"]
        bare_changing = by_name[bare_changing_name]
        full = by_name["consentry, 60 KB html, full consent"]
        binary = by_name["consentry, non-HTML (60 KB binary)"]

        def both(row: Row, reference: Row) -> str:
            cpu = reference.cpu_us / row.cpu_us if row.cpu_us else 0.0
            return f"{row.rps / reference.rps:.2f} by req/s, {cpu:.2f} by CPU per request"

        print("\nratios (x bare: higher is better; by CPU per request = the reference's CPU/req over ours)")
        print(f"consentry non-HTML / bare passthrough:      {both(binary, bare_bin)}  (target >= 0.9)")
        print(f"consentry rewriting / bare passthrough:     {both(rewrite, bare_html)}  (target >= 0.6)")
        print(f"  the same, a page that changes every time: {both(changing, bare_changing)}  (no replay: every byte scanned)")
        print(f"consentry full consent / bare passthrough:  {both(full, bare_html)}  (target >= 0.9)")
        fragment = by_name["consentry, 60 KB html fragment, full consent"]
        print(f"  the same, a fetch()ed fragment:           {both(fragment, bare_html)}")
        visitors = by_name["consentry, 60 KB html, full consent, 365 visitors"]
        print(f"  the same, another visitor every request:  {both(visitors, bare_html)}")
        if mitm and mitm.rps:
            print(f"consentry rewriting / mitmproxy:            {both(rewrite, mitm)}  (target >= 3)")
            print(f"  the same, a page that changes every time: {both(changing, mitm)}")
        print(f"consentry rewriting p99 / bare p99:         {rewrite.p99_ms / bare_html.p99_ms:.2f}  (target <= 2)")
        one, two = (row for row in rows if "--workers" in row.name)
        print(f"consentry 2 workers / 1 worker:             {two.rps / one.rps:.2f} by req/s  (target >= 1.7; "
              "the load generator shares the 2 CPUs here)")
        print(f"peak RSS growth streaming {received / 2**20:.0f} MB of HTML: {growth:.1f} MB over {base_rss:.1f} MB  (target < 32 MB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (best req/s, median latency)")
    parser.add_argument("--variants", action="store_true",
                        help="only compare Consentry with and without banner variants (impression counting cost)")
    args = parser.parse_args()
    for tool in ("nginx", "wrk", "hey", "taskset"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is not installed (Debian: apt-get install {tool})", file=sys.stderr)
            return 2
    bench = Bench(args)
    try:
        bench.run()
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
