"""The demo legacy site: an aiohttp app serving a small coffee shop full of trackers.

Pages come from ``pages/`` and first-party assets from ``static/`` exactly as written,
the way a legacy site nobody wants to touch would serve them: Google Tag Manager,
GA4 and Universal Analytics, Meta Pixel, LinkedIn, TikTok, Pinterest, X, Hotjar,
Clarity, Google Ads remarketing, YouTube / Vimeo / Maps / Instagram embeds and an
``<a ping>``, plus a newsletter form with an opt-in checkbox. This module is an adapter
like ``proxy.server`` and may import aiohttp; it must not import the engine, the
policy or the consent packages (the site knows nothing about Consentry).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from aiohttp import web

log = logging.getLogger(__name__)

PAGES_DIR = Path(__file__).resolve().parent / "pages"
STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGES: dict[str, str] = {
    "/": "index.html",
    "/shop": "shop.html",
    "/visit": "visit.html",
    "/newsletter": "newsletter.html",
    "/privacy": "privacy.html",
}
STATIC_TYPES: dict[str, str] = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
SUBSCRIBERS: web.AppKey[list[tuple[str, bool]]] = web.AppKey("subscribers", list)


async def page(request: web.Request) -> web.Response:
    name = PAGES[request.path]
    return web.Response(body=(PAGES_DIR / name).read_bytes(), content_type="text/html", charset="utf-8")


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    path = STATIC_DIR / name
    # Only plain file names: a request must never walk out of the static directory.
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=path.read_bytes(), content_type=STATIC_TYPES[path.suffix],
                        headers={"Cache-Control": "public, max-age=300"})


async def subscribe(request: web.Request) -> web.Response:
    form = await request.post()
    email = str(form.get("email", "")).strip()
    opted_in = form.get("opt_in") == "yes"
    request.app[SUBSCRIBERS].append((email, opted_in))
    log.info("demo newsletter form posted (opt-in: %s)", opted_in)
    if opted_in:
        message = f"Thank you: {email} will get our monthly roast notes."
    else:
        message = "Thank you. You did not tick the box, so we will not send you the newsletter."
    text = (PAGES_DIR / "newsletter.html").read_text("utf-8")
    text = text.replace("<!--MESSAGE-->", f'<p class="thanks" role="status">{html.escape(message)}</p>')
    return web.Response(text=text, content_type="text/html", charset="utf-8")


def make_demo_app() -> web.Application:
    """The demo site as an aiohttp application (no Consentry in it)."""
    app = web.Application()
    app[SUBSCRIBERS] = []
    for path in PAGES:
        app.router.add_get(path, page)
    app.router.add_post("/newsletter", subscribe)
    app.router.add_get("/static/{name}", static)
    return app
