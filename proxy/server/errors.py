"""Clean error answers for the visitor: 421, 502, 504, 503 and friends.

A browser gets a small HTML page, an API client asking for ``application/json`` gets
``{"error": ..., "status": ...}``. Neither ever contains internal details (upstream
addresses, exception text): those go to the log only.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import html
import json

from aiohttp import web

MESSAGES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported media type",
    408: "Request timeout",
    421: "This server does not serve that host",
    429: "Too many requests",
    502: "The site is not reachable right now",
    503: "The service is temporarily unavailable",
    504: "The site took too long to answer",
}


def wants_json(request: web.BaseRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(request: web.BaseRequest, status: int, message: str | None = None) -> web.Response:
    text = message or MESSAGES.get(status, "Error")
    headers = {"Cache-Control": "no-store"}
    if wants_json(request):
        body = json.dumps({"error": text, "status": status})
        return web.Response(status=status, text=body, content_type="application/json", headers=headers)
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{status} {html.escape(text)}</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}</style>"
        f"<h1>{html.escape(text)}</h1><p>Error {status}. Please try again in a moment.</p></html>"
    )
    return web.Response(status=status, text=page, content_type="text/html", headers=headers)
