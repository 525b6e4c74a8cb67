"""A tiny stand-in for the proxy, to test consent.js on its own.

It serves pages whose trackers are already deferred exactly as DESIGN.md says the
rewriter leaves them, injects ``proxy.web.head_snippet`` after ``<head>`` as the server
does, serves ``/_consent/<asset>`` from ``proxy.web.asset_reply``, and implements the JSON side
of ``POST /_consent/`` (the state lives in a plain cookie: this is a test double, not
the signed cookie). ``/fp/lib.js?name=X&delay=MS`` is a first-party script that records
that it ran, answering after a delay so that ordering bugs would show.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from types import MappingProxyType
from typing import Any

from aiohttp import web

import factories
from proxy.catalogue import Vendor
from proxy.consent import ConsentState
from proxy.policy import SitePolicy
from proxy.web import asset_reply, body_snippet, head_snippet, pick_language, safe_return_to

STATE_COOKIE = "harness_state"
SITE_KEY: web.AppKey[Any] = web.AppKey("site", object)
PAGES_KEY: web.AppKey[dict[str, str]] = web.AppKey("pages", dict)
POSTS_KEY: web.AppKey[list[dict[str, Any]]] = web.AppKey("posts", list)
VENDORS_KEY: web.AppKey[list[Any]] = web.AppKey("vendors", list)


def lib_body(name: str) -> bytes:
    return (f"(window.order = window.order || []).push({json.dumps(name)});"
            f"window[{json.dumps('lib' + name)}] = true;").encode()


def sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


def make_site(**overrides: Any) -> SitePolicy:
    """The harness site: a real ``SitePolicy`` (tests/factories.py) with a privacy link and no CSP."""
    values: dict[str, Any] = dict(site_id="harness", banner={"privacy_policy_url": "/privacy"}, csp="off")
    values.update(overrides)
    return factories.make_site(**values)


def harness_vendor(id: str, name: str, category: str, privacy_url: str = "https://vendor.example/privacy",
                   cookie_lifetimes: dict[str, str] | None = None, embed: bool = False) -> Vendor:
    """A catalogue ``Vendor`` as the banner lists it (no hosts: nothing to match here)."""
    return Vendor(id=id, name=name, category=category, privacy_url=privacy_url,
                  cookie_lifetimes=MappingProxyType(dict(cookie_lifetimes or {})), embed=embed)


def state_from(request: web.Request) -> ConsentState:
    raw = request.cookies.get(STATE_COOKIE)
    data = json.loads(base64.urlsafe_b64decode(raw.encode())) if raw else None
    if data is None:
        return ConsentState()
    return ConsentState(categories=frozenset(data["categories"]) | {"necessary"}, vendors=data.get("vendors", {}),
                        decided=True, policy_version="1", source="cookie")


async def page(request: web.Request) -> web.Response:
    text = request.app[PAGES_KEY][request.match_info["name"]]
    site = request.app[SITE_KEY]
    lang = pick_language(site, html_lang=None, accept_language=request.headers.get("Accept-Language"))
    snippet = head_snippet(site, state_from(request), lang=lang, nonce=None,
                           vendors=request.app[VENDORS_KEY]).decode("ascii")
    text = text.replace("<head>", "<head>" + snippet, 1)
    # As recommended to the server: the no-JS banner appended after the document; the
    # parser puts it at the end of <body>.
    text += body_snippet(site, state_from(request), lang=lang, return_to=request.path_qs).decode("ascii")
    return web.Response(text=text, content_type="text/html")


async def consent_asset(request: web.Request) -> web.Response:
    # The server's own answer (per-site guard.js and site.js included).
    found = asset_reply(request.app[SITE_KEY], request.match_info["name"], request.query, request.headers)
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(status=found.status, body=found.body or None, headers=found.headers)


async def consent_post(request: web.Request) -> web.StreamResponse:
    if request.content_type == "application/x-www-form-urlencoded":
        return await consent_form_post(request)
    body = await request.json()
    request.app[POSTS_KEY].append(body)
    everything = ["necessary", "preferences", "analytics", "marketing"]
    action = body.get("action")
    categories = {"accept_all": everything, "reject_all": ["necessary"]}.get(action) or ["necessary", *body.get("categories", [])]
    vendors = {k: bool(v) for k, v in (body.get("vendors") or {}).items()}
    state = {"categories": sorted(set(categories)), "vendors": vendors}
    response = web.json_response({**state, "policy_version": "1", "expires": None, "consent_id": "harness"})
    response.set_cookie(STATE_COOKIE, base64.urlsafe_b64encode(json.dumps(state).encode()).decode(), path="/")
    return response


async def consent_form_post(request: web.Request) -> web.StreamResponse:
    """The form side of POST /_consent/ (DESIGN.md): 303 to a same-origin return_to."""
    form = await request.post()
    action = form.get("action")
    chosen = [str(c) for c in form.getall("category", [])]
    request.app[POSTS_KEY].append({"form": True, "action": action, "categories": chosen})
    everything = ["necessary", "preferences", "analytics", "marketing"]
    categories = {"accept_all": everything, "reject_all": ["necessary"]}.get(str(action)) or ["necessary", *chosen]
    state = {"categories": sorted(set(categories)), "vendors": {}}
    response = web.Response(status=303, headers={"Location": safe_return_to(str(form.get("return_to", "/")))})
    response.set_cookie(STATE_COOKIE, base64.urlsafe_b64encode(json.dumps(state).encode()).decode(), path="/")
    return response


async def first_party_lib(request: web.Request) -> web.Response:
    delay = int(request.query.get("delay", "0"))
    if delay:
        await asyncio.sleep(delay / 1000)
    return web.Response(body=lib_body(request.query.get("name", "?")), content_type="text/javascript")


async def first_party_other(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name.endswith(".gif"):
        from web_browser import GIF
        return web.Response(body=GIF, content_type="image/gif")
    if name.endswith(".css"):
        return web.Response(text="body { outline: 1px solid rgb(1, 2, 3); }", content_type="text/css")
    if name.endswith(".html"):
        return web.Response(text="<!doctype html><p>frame</p>", content_type="text/html")
    return web.Response(status=204)


def make_harness(pages: dict[str, str], *, site: Any = None, vendors: list[Any] | None = None) -> web.Application:
    app = web.Application()
    app[SITE_KEY] = site or make_site()
    app[PAGES_KEY] = pages
    app[POSTS_KEY] = []
    app[VENDORS_KEY] = vendors or []
    app.router.add_get("/page/{name}", page)
    app.router.add_post("/_consent/", consent_post)
    app.router.add_get("/_consent/{name}", consent_asset)
    app.router.add_get("/fp/lib.js", first_party_lib)
    app.router.add_route("*", "/fp/{name}", first_party_other)
    return app


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
