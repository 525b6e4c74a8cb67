"""The mitmproxy reference for the benchmark: reverse mode plus a trivial regex rewrite.

What a user would otherwise write to block trackers with mitmproxy: turn every
``<script src=...google-analytics...>`` into an inert ``text/plain`` script. Run:
``mitmdump --mode reverse:UPSTREAM -p PORT -s bench/mitm_reference_addon.py -q``.
"""

from __future__ import annotations

import re

from mitmproxy import http

TRACKER_SCRIPT = re.compile(rb'<script([^>]*)\ssrc="(https://[^"]*(?:google-analytics|googletagmanager|facebook)[^"]*)"')


def response(flow: http.HTTPFlow) -> None:
    if "text/html" not in flow.response.headers.get("content-type", ""):
        return
    body = flow.response.content or b""
    flow.response.content = TRACKER_SCRIPT.sub(rb'<script\1 type="text/plain" data-consent-src="\2"', body)
