"""One real run: ``mitmdump -s addons/consentry.py`` on loopback, an aiohttp upstream, and an
aiohttp client through it, first as a forward proxy, then in reverse mode. Checks the HTML the
client receives, the JSON-lines report written while running, and the summary and HTML
report written when mitmdump is terminated (by its PID)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import datetime
import ipaddress
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web


GA = "https://www.google-analytics.com/analytics.js"
PIXEL_IMG = "https://www.facebook.com/tr?id=1&ev=PageView&noscript=1"
PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Legacy shop</title>\n"
    '<script src="/static/site.js"></script>\n'
    f'<script async src="{GA}"></script>\n'
    "</head><body>\n"
    f'<noscript><img src="{PIXEL_IMG}"></noscript>\n'
    "<p>Welcome</p>\n</body></html>\n"
)
ADDON_PATH = Path(__file__).resolve().parents[2] / "addons" / "consentry.py"
TRACKER_HIT = "http://www.google-analytics.com/collect?v=1&t=pageview"
FILLER = "<p><img src='/x.png'> <a href='/y'>lorem ipsum</a></p>\n"
BIG_PAGE = PAGE.replace("<p>Welcome</p>", FILLER * 40_000 + f'<img src="{PIXEL_IMG}">')   # ~2.3 MB, tracker last
WAIT = 30.0   # upper bound for any single wait on mitmdump


def mitmdump_path() -> Path:
    path = Path(sys.executable).parent / "mitmdump"
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"mitmdump not found next to {sys.executable}; install the mitmproxy extra")
        pytest.skip(f"mitmdump not found next to {sys.executable} (install consentry[mitmproxy])")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server context for 127.0.0.1 with a throwaway self-signed certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "upstream.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "upstream.pem", tmp_path / "upstream.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


async def serve(ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", charset="utf-8")

    async def compressed(request: web.Request) -> web.Response:
        return web.Response(
            body=gzip.compress(PAGE.encode()),
            headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"},
        )

    async def data(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps({"script": f'<script src="{GA}"></script>'}), content_type="application/json")

    async def big(request: web.Request) -> web.Response:
        return web.Response(text=BIG_PAGE, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/big", big)
    app.router.add_get("/gz", compressed)
    app.router.add_get("/data.json", data)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    scheme = "https" if ssl_context else "http"
    return runner, f"{scheme}://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    runner, url = await serve()
    try:
        yield url
    finally:
        await runner.cleanup()


@pytest.fixture
async def tls_upstream(tmp_path: Path) -> AsyncIterator[str]:
    runner, url = await serve(self_signed(tmp_path))
    try:
        yield url
    finally:
        await runner.cleanup()


class Mitmdump:
    """A mitmdump child process with the addon; always ended by its own PID."""

    def __init__(self, tmp_path: Path, mode: str | None, *options: str) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.report = tmp_path / "audit.jsonl"
        self.log_path = tmp_path / "mitmdump.log"
        self.args = [
            str(mitmdump_path()),
            "--listen-host", "127.0.0.1",
            "--listen-port", str(self.port),
            "--set", f"confdir={tmp_path / 'mitmproxy-conf'}",   # its CA goes here, not in ~
            "-s", str(ADDON_PATH),
            "--set", f"consentry_report={self.report}",
            *(["--mode", mode] if mode else []),
            *options,
        ]
        self.process: asyncio.subprocess.Process | None = None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    async def __aenter__(self) -> Mitmdump:
        log_file = self.log_path.open("wb")
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, stdout=log_file, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL
            )
        finally:
            log_file.close()
        await self._wait_until_listening()
        return self

    async def _wait_until_listening(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while loop.time() < deadline:
            assert self.process is not None
            if self.process.returncode is not None:
                pytest.fail(f"mitmdump exited with {self.process.returncode}:\n{self.log()}")
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), timeout=1.0)
            except (OSError, TimeoutError):
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return
        pytest.fail(f"mitmdump did not listen on {self.port} within {WAIT}s:\n{self.log()}")

    async def stop(self) -> int:
        """SIGTERM by PID (mitmdump runs its addons' done() then exits); SIGKILL if it hangs."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=WAIT)
            except TimeoutError:
                self.process.kill()
                await asyncio.wait_for(self.process.wait(), timeout=WAIT)
                pytest.fail(f"mitmdump ignored SIGTERM:\n{self.log()}")
        assert self.process.returncode is not None
        return self.process.returncode

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await asyncio.wait_for(self.process.wait(), timeout=WAIT)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def assert_rewritten(html: str) -> None:
    assert f'data-consent-src="{GA}"' in html
    assert f' src="{GA}"' not in html
    assert f'data-consent-src="{PIXEL_IMG.replace("&", "&amp;")}"' in html or f'data-consent-src="{PIXEL_IMG}"' in html
    assert '<script src="/static/site.js"></script>' in html
    assert "<p>Welcome</p>" in html


async def test_forward_proxy(tmp_path: Path, upstream: str) -> None:
    timeout = aiohttp.ClientTimeout(total=WAIT)
    async with Mitmdump(tmp_path, None, "--set", "consentry_block=true") as mitm:
        proxy_url = f"http://127.0.0.1:{mitm.port}"
        async with aiohttp.ClientSession(timeout=timeout) as client:
            async with client.get(upstream + "/", proxy=proxy_url) as response:
                assert response.status == 200
                assert_rewritten(await response.text())
            async with client.get(upstream + "/gz", proxy=proxy_url, auto_decompress=False) as response:
                assert response.status == 200
                assert "Content-Encoding" not in response.headers
                assert_rewritten((await response.read()).decode())
            # A page of many chunks, twice on one kept-alive connection: the chunked framing holds.
            for _ in range(2):
                async with client.get(upstream + "/big", proxy=proxy_url) as response:
                    big = await response.text()
                assert big.count(FILLER) == 40_000
                assert big.endswith("</body></html>\n") and f' src="{PIXEL_IMG.replace("&", "&amp;")}"' not in big
                assert f' src="{PIXEL_IMG}"' not in big and PIXEL_IMG.split("?")[0] in big
            async with client.get(upstream + "/data.json", proxy=proxy_url) as response:
                assert json.loads(await response.text()) == {"script": f'<script src="{GA}"></script>'}
            # The page's tracker, requested as the browser would: refused and answered by the proxy.
            # (plain http: the client does not trust mitmproxy's CA, and nothing leaves the machine.)
            async with client.get(TRACKER_HIT, proxy=proxy_url, headers={"Referer": upstream + "/"}) as response:
                assert response.status == 403
                assert "x-consentry-blocked" in response.headers
        lines = records(mitm.report)   # written while running, before mitmdump stops
        assert [r["type"] for r in lines] == ["run", "page", "page", "page", "page", "request"]
        assert all(r["url"].startswith(upstream) for r in lines[1:3])
        assert {t["url"] for t in lines[1]["trackers"]} == {GA, PIXEL_IMG}
        starts = (BIG_PAGE.index(GA), BIG_PAGE.index(PIXEL_IMG), BIG_PAGE.rindex(PIXEL_IMG))
        assert [t["line"] for t in lines[3]["trackers"]] == [BIG_PAGE.count("\n", 0, i) + 1 for i in starts]
        assert lines[5]["url"] == TRACKER_HIT and lines[5]["before_consent"] and lines[5]["blocked"]
        await mitm.stop()
    log = mitm.log()
    assert "consentry audit summary" in log, log
    html_report = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert "analytics.js" in html_report and upstream in html_report


async def test_forward_proxy_to_an_https_site_with_the_ca_trusted(tmp_path: Path, tls_upstream: str) -> None:
    # The client trusts mitmproxy's CA (confdir/mitmproxy-ca-cert.pem, ~/.mitmproxy by default)
    # and nothing else; mitmproxy itself is told not to verify the throwaway upstream cert.
    async with Mitmdump(tmp_path, None, "--set", "ssl_insecure=true") as mitm:
        ca = tmp_path / "mitmproxy-conf" / "mitmproxy-ca-cert.pem"
        trust = ssl.create_default_context(cafile=str(ca))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as client:
            async with client.get(tls_upstream + "/", proxy=f"http://127.0.0.1:{mitm.port}", ssl=trust) as response:
                assert response.status == 200
                assert_rewritten(await response.text())
        await mitm.stop()
    pages = [r for r in records(mitm.report) if r["type"] == "page"]
    assert [p["url"] for p in pages] == [tls_upstream + "/"]


async def test_reverse_proxy(tmp_path: Path, upstream: str) -> None:
    timeout = aiohttp.ClientTimeout(total=WAIT)
    async with Mitmdump(tmp_path, f"reverse:{upstream}", "--set", "consentry_mode=strip") as mitm:
        async with aiohttp.ClientSession(timeout=timeout) as client:
            async with client.get(f"http://127.0.0.1:{mitm.port}/") as response:
                assert response.status == 200
                html = await response.text()
        assert GA not in html and "facebook.com/tr" not in html
        assert '<script src="/static/site.js"></script>' in html and "<p>Welcome</p>" in html
        await mitm.stop()
    lines = records(mitm.report)
    pages = [r for r in lines if r["type"] == "page"]
    assert len(pages) == 1 and {t["action"] for t in pages[0]["trackers"]} == {"strip"}
    assert lines[0]["mode"] == "strip"
    assert (tmp_path / "audit.html").exists()


async def test_a_bad_option_stops_mitmdump_with_the_option_named(tmp_path: Path) -> None:
    mitm = Mitmdump(tmp_path, None, "--set", "consentry_consent=analytic")
    log_file = mitm.log_path.open("wb")
    try:
        process = await asyncio.create_subprocess_exec(
            *mitm.args, stdout=log_file, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL
        )
    finally:
        log_file.close()
    mitm.process = process
    try:
        code = await asyncio.wait_for(process.wait(), timeout=WAIT)
    except TimeoutError:
        await mitm.stop()
        pytest.fail(f"mitmdump kept running with a bad option:\n{mitm.log()}")
    assert code != 0
    assert "consentry_consent" in mitm.log() and "analytics" in mitm.log()
