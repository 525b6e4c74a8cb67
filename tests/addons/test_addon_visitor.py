"""The addon in visitor mode (``consentry_consent=visitor``) is the product itself: banner
injected, consent API answered from the same route table and decision core as the server,
receipts stored, and the audit records the visitor's consent before and after the click.
With mitmproxy's own doubles (``taddons``, ``tflow``, ``tutils``)."""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path
from typing import Any

import html5lib
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from mitmproxy import exceptions, http
    from mitmproxy.test import taddons, tflow, tutils

from addons.test_addon_hooks import GA, PAGE, addon_module, html_flow, run_stream  # noqa: F401 (fixture)
from proxy.api import ROUTES

SECRET = "addon-visitor-secret-" + "z" * 32


@pytest.fixture
def pair(addon_module, tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENTRY_SECRET", SECRET)
    main = addon_module.Consentry()
    api = addon_module.ConsentApi(main)
    with taddons.context(api, main) as tctx:
        tctx.configure(main, consentry_consent="visitor", consentry_receipts=str(tmp_path / "receipts.db"),
                       consentry_report=str(tmp_path / "audit.jsonl"))
        yield api, main, tmp_path
    main.done()


def api_flow(method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None) -> http.HTTPFlow:
    request = tutils.treq(method=method.encode(), headers=http.Headers(**(headers or {})), content=body)
    request.url = "http://shop.test" + path
    return tflow.tflow(req=request)


def page_through(main: Any, cookie: str | None = None) -> tuple[http.HTTPFlow, bytes]:
    flow = html_flow()
    if cookie:
        flow.request.headers["cookie"] = cookie
    flow.request.headers["sec-fetch-dest"] = "document"
    main.requestheaders(flow)
    main.responseheaders(flow)
    return flow, run_stream(flow, PAGE)


def test_the_addon_has_a_handler_for_every_route(addon_module):
    handlers = {op.handler for route in ROUTES for op in route.operations}
    assert set(addon_module.ADDON_HANDLERS) == handlers


def test_a_bad_receipts_option_is_an_options_error(addon_module, monkeypatch):
    monkeypatch.setenv("CONSENTRY_SECRET", SECRET)
    main = addon_module.Consentry()
    with taddons.context(main) as tctx:
        with pytest.raises(exceptions.OptionsError, match="consentry_receipts: the directory /nonexistent-dir does not exist"):
            tctx.configure(main, consentry_consent="visitor", consentry_receipts="/nonexistent-dir/r.db")
        with pytest.raises(exceptions.OptionsError, match="consentry_receipts: 'mysql://x' is neither"):
            tctx.configure(main, consentry_consent="visitor", consentry_receipts="mysql://x")


async def test_banner_then_accept_then_trackers_run(pair):
    api, main, tmp_path = pair
    # Before: the page carries the banner (head snippet + no-JS form in <body>), trackers inert.
    flow, out = page_through(main)
    text = out.decode()
    assert "/_consent/consent.js" in text and 'data-consent-src="' + GA in text
    doc = html5lib.parse(out, namespaceHTMLElements=False)
    noscript = doc.find("./body/noscript")
    assert noscript is not None, text[-600:]
    # The banner's assets are answered by the addon, not fetched from the site.
    asset = api_flow("GET", "/_consent/consent.js", headers={"accept-encoding": "gzip"})
    await api.request(asset)
    assert asset.response is not None and asset.response.status_code == 200
    # Sent as the asset layer made it (gzip once, not twice), so it decodes to the script.
    assert asset.response.headers.get("content-encoding") == "gzip"
    assert b"function" in asset.response.content
    # The status is "undecided".
    status = api_flow("GET", "/_consent/status")
    await api.request(status)
    assert json.loads(status.response.content)["decided"] is False
    # Accept all, as the banner's form posts it.
    post = api_flow("POST", "/_consent/", body=b"action=accept_all&return_to=%2F",
                    headers={"content-type": "application/x-www-form-urlencoded", "origin": "http://shop.test"})
    await api.request(post)
    assert post.response.status_code == 303 and post.response.headers["location"] == "/"
    cookie = next(v for v in post.response.headers.get_all("set-cookie") if v.startswith("consentry="))
    receipt_id = post.response.headers["consentry-receipt-id"]
    # After: the same page with the cookie keeps GA live (nothing refused: no deferral).
    flow, out = page_through(main, cookie.split(";", 1)[0])
    assert f'<script async src="{GA}"></script>'.encode() in out
    # The receipt is in the local store, under the cookie's consent id.
    store = main.visitor.store
    consent_id = json.loads((await _status_with(api, cookie)).response.content)["consent_id"]
    receipts = await store.get(consent_id)
    assert [r.action for r in receipts] == ["accept_all"] and receipt_id.isdigit()
    # The audit: the same page, before and after the decision.
    main.done()
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    pages = [r for r in records if r["type"] == "page"]
    assert [p["consent"].startswith("undecided") for p in pages] == [True, False]
    assert [t["action"] for t in pages[0]["trackers"] if t["url"] == GA] == ["defer"]
    assert [t["action"] for t in pages[1]["trackers"] if t["url"] == GA] == ["keep"]
    assert [r["action"] for r in records if r["type"] == "decision"] == ["accept_all"]
    html_report = (tmp_path / "audit.html").read_text()
    assert "visitor&#x27;s consent: undecided" in html_report or "visitor's consent: undecided" in html_report


async def _status_with(api: Any, cookie: str) -> http.HTTPFlow:
    flow = api_flow("GET", "/_consent/status", headers={"cookie": cookie.split(";", 1)[0]})
    await api.request(flow)
    return flow


async def test_json_reject_cross_site_and_bad_bodies(pair):
    api, main, _ = pair
    cases = [
        ({"content-type": "application/json", "origin": "https://evil.example"}, b'{"action": "accept_all"}', 403),
        ({"content-type": "text/plain"}, b"accept", 415),
        ({"content-type": "application/json"}, b'{"action": "maybe"}', 400),
        ({"content-type": "application/json"}, b"{" * 20000, 413),
    ]
    for headers, body, status in cases:
        flow = api_flow("POST", "/_consent/", body=body, headers=headers)
        await api.request(flow)
        assert flow.response.status_code == status, (headers, flow.response.content)
        assert not flow.response.headers.get_all("set-cookie")
    flow = api_flow("POST", "/_consent/", body=b'{"action": "reject_all"}', headers={"content-type": "application/json"})
    await api.request(flow)
    assert flow.response.status_code == 200
    assert json.loads(flow.response.content)["categories"] == ["necessary"]
    # A refused tracker request after the decision is flagged with the consent then.
    tracker = api_flow("GET", "/x")
    tracker.request.url = GA
    tracker.request.headers["referer"] = "http://shop.test/"
    main.request(tracker)
    assert main.result.requests[-1].before_consent and main.result.requests[-1].consent == "necessary"


async def test_routes_methods_and_openapi(pair):
    api, _, _ = pair
    for method, path, status in [("GET", "/_consent", 308), ("GET", "/_consent/", 200), ("DELETE", "/_consent/status", 405),
                                 ("GET", "/_consent/a/b", 404), ("GET", "/_consent/nope.js", 404),
                                 ("GET", "/_consent/openapi.json", 200)]:
        flow = api_flow(method, path)
        await api.request(flow)
        assert flow.response is not None and flow.response.status_code == status, (method, path)
    flow = api_flow("GET", "/_consent/openapi.json")
    await api.request(flow)
    from proxy.api import openapi_document

    assert json.loads(flow.response.content) == openapi_document()
    # Pages elsewhere are left to the upstream.
    flow = api_flow("GET", "/shop")
    await api.request(flow)
    assert flow.response is None
    await asyncio.sleep(0)


def test_simulated_mode_answers_no_api(addon_module):
    main = addon_module.Consentry()
    api = addon_module.ConsentApi(main)
    with taddons.context(api, main):
        flow = api_flow("GET", "/_consent/status")
        asyncio.run(api.request(flow))
        assert flow.response is None   # the simulated consent has no banner and no API
    main.done()


@pytest.mark.parametrize(("option", "needle"), [
    ("consentry_mode=bogus", "consentry_mode: 'bogus' is not a mode"),
    ("consentry_consent=analytic", 'did you mean "analytics"'),
    ("consentry_receipts=/nonexistent-dir/r.db", "consentry_receipts: the directory"),
])
def test_a_bad_option_stops_mitmdump_with_one_line(option, needle, tmp_path):
    """A real mitmdump: the bad option is named with its fix, no traceback, non-zero exit."""
    import os
    import socket
    import subprocess
    import sys

    mitmdump = Path(sys.executable).parent / "mitmdump"
    if not mitmdump.exists():
        pytest.skip("mitmdump not installed next to this interpreter (the mitmproxy extra)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    extra = ["--set", "consentry_consent=visitor"] if option.startswith("consentry_receipts") else []
    result = subprocess.run(
        [str(mitmdump), "--listen-host", "127.0.0.1", "--listen-port", str(port), "--set", f"confdir={tmp_path}",
         "-s", str(Path(__file__).resolve().parents[2] / "addons" / "consentry.py"), *extra, "--set", option],
        capture_output=True, text=True, timeout=60, env={**os.environ, "CONSENTRY_SECRET": SECRET}, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert needle in output and "Traceback" not in output, output
