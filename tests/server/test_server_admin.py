"""The admin listener: health, readiness (upstreams and receipts store) and Prometheus metrics."""

from __future__ import annotations

import json

from server.server_helpers import BrokenStore, closed_port, plain_app


async def test_healthz_and_readyz_when_all_is_well(start_upstream, start_proxy, client):
    upstream = await start_upstream(plain_app())
    proxy = await start_proxy(upstream)
    async with client.get(proxy.admin_url + "/healthz") as resp:
        assert resp.status == 200
    async with client.get(proxy.admin_url + "/readyz") as resp:
        assert resp.status == 200
        body = json.loads(await resp.read())
    assert body["checks"] == {"upstream:default": True, "receipts": True}


async def test_readyz_fails_for_a_dead_upstream_without_naming_its_address(start_proxy, client):
    upstream = closed_port()
    proxy = await start_proxy(upstream)
    async with client.get(proxy.admin_url + "/readyz") as resp:
        assert resp.status == 503
        text = await resp.text()
    assert json.loads(text)["checks"]["upstream:default"] is False
    assert upstream.rsplit(":", 1)[1] not in text


async def test_readyz_fails_when_the_receipts_store_is_not_writable(start_upstream, start_proxy, client):
    upstream = await start_upstream(plain_app())
    proxy = await start_proxy(upstream, store=BrokenStore())
    async with client.get(proxy.admin_url + "/readyz") as resp:
        assert resp.status == 503
        assert json.loads(await resp.read())["checks"]["receipts"] is False


async def test_metrics_count_requests_latency_rewrites_and_token_failures(start_upstream, start_proxy, client):
    upstream = await start_upstream(plain_app())
    proxy = await start_proxy(upstream)
    for _ in range(3):
        async with client.get(proxy.url + "/page", headers={"Cookie": "consentry=forged.token.value"}) as resp:
            await resp.read()
    async with client.get(proxy.admin_url + "/metrics") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        text = await resp.text()
    assert 'consentry_requests_total{kind="html",site="default",status="2xx"} 3.0' in text
    assert 'consentry_upstream_latency_seconds_count{site="default"} 3.0' in text
    assert 'consentry_rewritten_bytes_total{site="default"}' in text
    assert 'consentry_token_failures_total{reason="malformed"}' in text


async def test_public_port_does_not_serve_admin_paths(start_upstream, start_proxy, client):
    upstream = await start_upstream(plain_app())
    proxy = await start_proxy(upstream)
    async with client.get(proxy.url + "/metrics") as resp:
        assert "consentry_requests_total" not in await resp.text()


async def test_csp_reports_are_received_and_counted_on_the_admin_metrics(start_upstream, start_proxy, client):
    upstream = await start_upstream(plain_app())
    proxy = await start_proxy(upstream)
    report = {"csp-report": {"document-uri": "http://shop.example/", "effective-directive": "script-src-elem",
                             "blocked-uri": "https://www.google-analytics.com/analytics.js"}}
    async with client.post(proxy.url + "/_consent/csp-report", data=json.dumps(report),
                           headers={"Content-Type": "application/csp-report"}) as resp:
        assert resp.status == 204
    async with client.get(proxy.admin_url + "/metrics") as resp:
        text = await resp.text()
    assert 'consentry_csp_violations_total{directive="script-src-elem",host="www.google-analytics.com"} 1.0' in text
