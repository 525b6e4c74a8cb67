"""The CSP violation report endpoint: both wire formats, bounds, counting, and its place in the proxy."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from csp.csp_browser import serve, violation_count
from proxy.server import csp_routes

TIMEOUT = aiohttp.ClientTimeout(total=10)
CSP_REPORT = "application/csp-report"
REPORTS_JSON = "application/reports+json"


def csp_report(directive: str = "script-src-elem", blocked: str = "https://www.googletagmanager.com/gtm.js?id=GTM-1") -> bytes:
    return json.dumps(
        {
            "csp-report": {
                "document-uri": "http://shop.example/account?email=someone%40example.org",
                "referrer": "",
                "violated-directive": directive,
                "effective-directive": directive,
                "original-policy": "script-src 'self'; report-uri /_consent/csp-report",
                "disposition": "enforce",
                "blocked-uri": blocked,
                "status-code": 200,
            }
        }
    ).encode()


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, CollectorRegistry, aiohttp.ClientSession]]:
    registry = CollectorRegistry()
    app = web.Application()
    csp_routes.register(app, registry=registry, consent_paths=["/privacy/"])

    async def other(request: web.Request) -> web.Response:
        return web.Response(text="site page")

    app.router.add_route("*", "/{tail:.*}", other)
    async with serve(app) as url, aiohttp.ClientSession(timeout=TIMEOUT) as session:
        yield url, registry, session


async def post(session: aiohttp.ClientSession, url: str, body: bytes, content_type: str) -> aiohttp.ClientResponse:
    async with session.post(url, data=body, headers={"Content-Type": content_type}) as response:
        await response.read()
        return response


async def test_report_uri_format_is_counted_by_directive_and_host(endpoint: Any, caplog: pytest.LogCaptureFixture) -> None:
    url, registry, session = endpoint
    caplog.set_level(logging.INFO, logger="proxy.server.csp_routes")
    for _ in range(3):
        response = await post(session, f"{url}/privacy/csp-report", csp_report(), CSP_REPORT)
        assert response.status == 204
    assert violation_count(registry, directive="script-src-elem", host="www.googletagmanager.com") == 3
    # Logged once at INFO, without the document URL (it can carry personal data).
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1 and "www.googletagmanager.com" in infos[0].getMessage()
    assert "someone" not in caplog.text and "account" not in caplog.text


async def test_reporting_api_batches_count_each_csp_violation(endpoint: Any) -> None:
    url, registry, session = endpoint
    batch = [
        {"type": "csp-violation", "age": 10, "url": "http://shop.example/", "body": {
            "documentURL": "http://shop.example/", "effectiveDirective": "img-src",
            "blockedURL": "https://www.facebook.com/tr?id=1", "disposition": "enforce"}},
        {"type": "csp-violation", "age": 12, "url": "http://shop.example/", "body": {
            "documentURL": "http://shop.example/", "effectiveDirective": "script-src-elem",
            "blockedURL": "inline", "disposition": "report"}},
        {"type": "deprecation", "body": {"id": "something"}},
    ]
    response = await post(session, f"{url}/privacy/csp-report", json.dumps(batch).encode(), REPORTS_JSON)
    assert response.status == 204
    assert violation_count(registry, directive="img-src", host="www.facebook.com") == 1
    assert violation_count(registry, directive="script-src-elem", host="inline") == 1
    assert violation_count(registry) == 2


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (csp_report(), "text/plain", 415),
        (b"{not json", CSP_REPORT, 400),
        (json.dumps({"hello": "world"}).encode(), CSP_REPORT, 400),
        (json.dumps([{"type": "deprecation", "body": {}}]).encode(), REPORTS_JSON, 400),
    ],
    ids=["wrong-type", "not-json", "no-report", "no-csp-violation"],
)
async def test_what_is_not_a_report_is_refused_and_not_counted(endpoint: Any, body: bytes, content_type: str, status: int) -> None:
    url, registry, session = endpoint
    response = await post(session, f"{url}/privacy/csp-report", body, content_type)
    assert response.status == status
    assert violation_count(registry) == 0


async def test_bodies_are_bounded_with_or_without_content_length(endpoint: Any) -> None:
    url, registry, session = endpoint
    huge = csp_report(blocked="https://x.example/" + "a" * csp_routes.MAX_REPORT_BYTES)
    assert (await post(session, f"{url}/privacy/csp-report", huge, CSP_REPORT)).status == 413

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(huge), 8192):
            yield huge[start : start + 8192]

    async with session.post(f"{url}/privacy/csp-report", data=chunks(), headers={"Content-Type": CSP_REPORT}) as response:
        assert response.status == 413
        assert "Content-Length" not in response.request_info.headers
    assert violation_count(registry) == 0


async def test_only_post_on_the_report_path_is_the_endpoint(endpoint: Any) -> None:
    url, registry, session = endpoint
    async with session.get(f"{url}/privacy/csp-report") as response:
        assert response.status == 405 and response.headers["Allow"] == "POST"
    # Another path ending the same way belongs to the site.
    async with session.post(f"{url}/blog/csp-report", data=csp_report(), headers={"Content-Type": CSP_REPORT}) as response:
        assert response.status == 200 and await response.text() == "site page"
    assert violation_count(registry) == 0


async def test_host_labels_are_capped(endpoint: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url, registry, session = endpoint
    monkeypatch.setattr(csp_routes, "MAX_HOSTS", 3)
    for n in range(6):
        response = await post(session, f"{url}/privacy/csp-report", csp_report(blocked=f"https://t{n}.example/p"), CSP_REPORT)
        assert response.status == 204
    assert violation_count(registry) == 6
    assert violation_count(registry, host="other") == 3
    assert violation_count(registry, host="t0.example") == 1


@pytest.mark.parametrize(
    ("blocked", "host"),
    [("eval", "eval"), ("data", "data"), ("data:image/gif;base64,R0lGOD", "data"), ("", "none"),
     ("https://WWW.Example.COM:8443/x", "www.example.com"), ("http://[::1", "other")],
)
def test_blocked_uri_becomes_a_bounded_host_label(blocked: str, host: str) -> None:
    found = list(csp_routes.violations_in(json.loads(csp_report(blocked=blocked))))
    assert found == [("script-src-elem", host)]


def test_directive_label_is_a_directive_name_or_other() -> None:
    report = json.loads(csp_report(directive="img-src https://a.example"))
    assert list(csp_routes.violations_in(report)) == [("img-src", "www.googletagmanager.com")]
    report = json.loads(csp_report(directive="<script>alert(1)</script>"))
    assert list(csp_routes.violations_in(report))[0][0] == "other"


# -- in the proxy itself -------------------------------------------------------------------


async def test_proxy_counts_reports_on_its_admin_metrics(tmp_path: Any) -> None:
    os.environ.setdefault("CONSENTRY_SECRET", "test-secret-for-consentry-csp-tests-0123456789")
    from proxy.policy import default_config
    from proxy.receipts import open_store
    from proxy.server import start_servers

    upstream_hits: list[str] = []

    async def upstream_handler(request: web.Request) -> web.Response:
        upstream_hits.append(request.path)
        return web.Response(text="upstream")

    upstream = web.Application()
    upstream.router.add_route("*", "/{tail:.*}", upstream_handler)
    async with serve(upstream) as upstream_url:
        config = default_config(upstream=upstream_url)
        store = await open_store(f"sqlite:///{tmp_path}/receipts.db")
        servers = await start_servers(config, listen=("127.0.0.1", 0), admin_listen=("127.0.0.1", 0), receipts=store)
        try:
            host, port = servers.public_address
            admin_host, admin_port = servers.admin_address
            async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
                response = await post(session, f"http://{host}:{port}/_consent/csp-report", csp_report(), CSP_REPORT)
                assert response.status == 204
                async with session.get(f"http://{admin_host}:{admin_port}/metrics") as metrics:
                    text = await metrics.text()
                # A page elsewhere on the site still goes upstream.
                async with session.post(f"http://{host}:{port}/forms/csp-report", data=b"x") as other:
                    assert await other.text() == "upstream"
        finally:
            await servers.close()
            await store.close()
    line = 'consentry_csp_violations_total{directive="script-src-elem",host="www.googletagmanager.com"} 1.0'
    assert line in text
    assert upstream_hits == ["/forms/csp-report"]
