"""The consent API: preferences page, form and JSON decisions, receipts first, CSRF refusal."""

from __future__ import annotations

import json

import pytest

from proxy.consent import KeyRing, decode_token
from server.server_helpers import BrokenStore, cookie_for, plain_app

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def proxy(start_upstream, start_proxy):
    upstream = await start_upstream(plain_app())
    return await start_proxy(upstream, trusted_proxies=["10.0.0.0/8"])


def consent_cookie(resp) -> str:
    values = [v for v in resp.headers.getall("Set-Cookie", []) if v.startswith("consentry=")]
    assert len(values) == 1
    return values[0]


def claims_of(proxy, set_cookie: str) -> dict:
    token = set_cookie.split(";", 1)[0].split("=", 1)[1]
    return decode_token(KeyRing.from_specs(proxy.config.consent.keys), token, site=proxy.config.sites["default"])


async def receipts_of(proxy, consent_id: str) -> list:
    return await proxy.store.get(consent_id)


async def test_preferences_page_works_without_javascript(proxy, client):
    async with client.get(proxy.url + "/_consent/?return_to=/shop") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        assert resp.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'self'" in resp.headers["Content-Security-Policy"]
        page = await resp.text()
    assert "<form" in page and 'method="post"' in page
    assert 'name="category"' in page and "reject_all" in page
    async with client.get(proxy.url + "/_consent", allow_redirects=False) as resp:
        assert resp.status == 308
        assert resp.headers["Location"] == "/_consent/"


async def test_form_post_answers_303_to_a_same_origin_path_with_a_cookie_and_a_receipt(proxy, client):
    body = "action=save&category=analytics&return_to=%2Fshop%3Fx%3D1"
    async with client.post(proxy.url + "/_consent/", data=body, headers=FORM, allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"] == "/shop?x=1"
        cookie = consent_cookie(resp)
        receipt_id = int(resp.headers["Consentry-Receipt-Id"])
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    claims = claims_of(proxy, cookie)
    assert claims["cats"] == ["analytics"]
    receipts = await receipts_of(proxy, claims["sub"])
    assert len(receipts) == 1
    receipt = receipts[0]
    assert receipt.receipt_id == receipt_id
    assert receipt.action == "save"
    assert receipt.granted == ["necessary", "analytics"]
    assert set(receipt.refused) == {"preferences", "marketing"}
    assert receipt.ip_hash and "127.0.0.1" not in receipt.ip_hash


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
async def test_form_post_never_redirects_off_site(proxy, client, target):
    from urllib.parse import urlencode

    body = urlencode({"action": "reject_all", "return_to": target})
    async with client.post(proxy.url + "/_consent/", data=body, headers=FORM, allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"] == "/"


async def test_json_post_answers_the_new_state_and_status_agrees(proxy, client):
    payload = {"action": "save", "categories": ["analytics", "nonsense"]}
    async with client.post(proxy.url + "/_consent/", json=payload) as resp:
        assert resp.status == 200
        state = json.loads(await resp.read())
        cookie = consent_cookie(resp).split(";", 1)[0]
    assert state["categories"] == ["necessary", "analytics"]
    assert state["consent_id"] and state["expires"]
    # The acknowledgement names the committed receipt (body and header agree).
    assert [r.receipt_id for r in await receipts_of(proxy, state["consent_id"])] == [state["receipt_id"]]
    assert resp.headers["Consentry-Receipt-Id"] == str(state["receipt_id"])
    async with client.get(proxy.url + "/_consent/status", headers={"Cookie": cookie}) as resp:
        assert json.loads(await resp.read())["categories"] == ["necessary", "analytics"]
    async with client.get(proxy.url + "/_consent/status") as resp:
        assert json.loads(await resp.read())["categories"] == ["necessary"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Referer": "https://evil.example/page"},
    ],
)
async def test_cross_site_posts_are_refused_without_cookie_or_receipt(proxy, client, headers):
    async with client.post(proxy.url + "/_consent/", json={"action": "accept_all"}, headers=headers) as resp:
        assert resp.status == 403
        assert "Set-Cookie" not in resp.headers
    exported = [r async for r in proxy.store.export()]
    assert exported == []


async def test_same_origin_posts_are_accepted(proxy, client):
    origin = proxy.url
    for headers in ({"Origin": origin}, {"Sec-Fetch-Site": "same-origin"}, {"Referer": origin + "/page"}):
        async with client.post(proxy.url + "/_consent/", json={"action": "reject_all"}, headers=headers) as resp:
            assert resp.status == 200, headers


async def test_bad_bodies_are_400_413_415(proxy, client):
    async with client.post(proxy.url + "/_consent/", data="action=maybe", headers=FORM) as resp:
        assert resp.status == 400
    async with client.post(proxy.url + "/_consent/", data=b"{not json", headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
    async with client.post(proxy.url + "/_consent/", data="x" * 100_000, headers=FORM) as resp:
        assert resp.status == 413
    async with client.post(proxy.url + "/_consent/", data=b"action=accept_all", headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 415


async def test_a_failing_store_means_503_and_no_cookie(start_upstream, start_proxy, client):
    upstream = await start_upstream(plain_app())
    proxy = await start_proxy(upstream, store=BrokenStore())
    async with client.post(proxy.url + "/_consent/", json={"action": "accept_all"}) as resp:
        assert resp.status == 503
        assert "Set-Cookie" not in resp.headers and "Consentry-Receipt-Id" not in resp.headers
        assert "saved" in (await resp.text())
    async with client.get(proxy.admin_url + "/metrics") as resp:
        assert 'consentry_receipt_errors_total{site="default"} 1.0' in await resp.text()


async def test_withdrawal_expires_cookies_of_refused_categories(proxy, client):
    full = cookie_for(proxy.config, ["analytics", "marketing", "preferences"])
    cookies = f"{full}; _ga=GA1.2.3; _fbp=fb.1; session=keep"
    async with client.post(proxy.url + "/_consent/", json={"action": "withdraw"}, headers={"Cookie": cookies}) as resp:
        assert resp.status == 200
        set_cookies = resp.headers.getall("Set-Cookie")
    expired = {v.split("=", 1)[0] for v in set_cookies if "Max-Age=0" in v}
    assert {"_ga", "_fbp"} <= expired
    assert "session" not in expired and "consentry" not in expired
    claims = claims_of(proxy, consent_cookie(resp))
    # The withdrawal keeps the visitor's consent id: the audit trail is one history.
    old = claims_of(proxy, full + ";")
    assert claims["sub"] == old["sub"]
    assert [r.action for r in await receipts_of(proxy, claims["sub"])] == ["withdraw"]


async def test_cookie_is_secure_behind_a_trusted_tls_terminator_only(proxy, client):
    # The test client connects from 127.0.0.1, which is not in 10.0.0.0/8: the claim is ignored.
    async with client.post(proxy.url + "/_consent/", json={"action": "accept_all"},
                           headers={"X-Forwarded-Proto": "https"}) as resp:
        assert "Secure" not in consent_cookie(resp)


async def test_secure_cookie_when_the_proxy_trusts_the_terminator(start_upstream, start_proxy, client):
    upstream = await start_upstream(plain_app())
    proxy = await start_proxy(upstream, trusted_proxies=["127.0.0.0/8"])
    async with client.post(proxy.url + "/_consent/", json={"action": "accept_all"},
                           headers={"X-Forwarded-Proto": "https", "Origin": "https://" + proxy.url.removeprefix("http://")}) as resp:
        assert resp.status == 200
        assert consent_cookie(resp).endswith("; Secure")


async def test_assets_are_served(proxy, client):
    async with client.get(proxy.url + "/_consent/consent.js") as resp:
        assert resp.status == 200
        assert "javascript" in resp.content_type
        assert len(await resp.read()) > 100
    async with client.get(proxy.url + "/_consent/consent.css") as resp:
        assert resp.status == 200 and resp.content_type == "text/css"
    from yarl import URL

    for name in ("..%2F..%2Fetc%2Fpasswd", "nope.js", "%2e%2e%2fproxy%2fserver%2fapp.py"):
        async with client.get(URL(proxy.url + "/_consent/" + name, encoded=True)) as resp:
            assert resp.status == 404, name


async def test_decisions_are_counted(proxy, client):
    for action in ("accept_all", "reject_all", "reject_all"):
        async with client.post(proxy.url + "/_consent/", json={"action": action}) as resp:
            assert resp.status == 200
    async with client.get(proxy.admin_url + "/metrics") as resp:
        text = await resp.text()
    assert 'consentry_consent_decisions_total{action="reject_all",site="default"} 2.0' in text
    assert 'consentry_consent_decisions_total{action="accept_all",site="default"} 1.0' in text


async def test_https_origin_is_accepted_behind_an_unlisted_tls_terminator(proxy, client):
    host = proxy.url.removeprefix("http://").split(":")[0]
    headers = {"Origin": f"https://{host}", "Host": host}
    async with client.post(proxy.url + "/_consent/", json={"action": "reject_all"}, headers=headers) as resp:
        assert resp.status == 200
    headers = {"Origin": f"http://{host}:1", "Host": host}
    async with client.post(proxy.url + "/_consent/", json={"action": "reject_all"}, headers=headers) as resp:
        assert resp.status == 403
