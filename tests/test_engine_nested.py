"""Nested documents and URL maps are pages too: data:/javascript: URLs, import maps, speculation rules."""

from __future__ import annotations

import base64

import pytest

from test_engine import ALL, NONE, rewrite

PIXEL = "https://www.facebook.com/tr?id=1"
LOADER = "https://connect.facebook.net/en_US/fbevents.js"
B64 = base64.b64encode(f"<script src={LOADER}></script>".encode()).decode()

REFUSED = {
    "data: frame": f'<iframe src="data:text/html,<img src={PIXEL}>"></iframe>',
    "base64 data: frame": f'<iframe src="data:text/html;base64,{B64}"></iframe>',
    "data: object": f'<object data="data:text/html,<img src={PIXEL}>"></object>',
    "data: embed": f'<embed src="data:text/html,<img src={PIXEL}>">',
    "data: frame in a frameset": f'<frameset><frame src="data:text/html,<img src={PIXEL}>"></frameset>',
    "data: svg document": f'<iframe src="data:image/svg+xml,<svg xmlns=%22http://www.w3.org/2000/svg%22><image href=%22{PIXEL}%22/></svg>"></iframe>',
    "data: frame inside a data: frame": f'<iframe src="data:text/html,<iframe src=&quot;data:text/html,<img src={PIXEL}>&quot;></iframe>"></iframe>',
    "data: script": f"<script src=\"data:text/javascript,new Image().src='{PIXEL}'\"></script>",
    "data: stylesheet": f'<link rel=stylesheet href="data:text/css,@import url({PIXEL});">',
    "javascript: frame": f"<iframe src=\"javascript:'<img src={PIXEL}>'\"></iframe>",
    "percent-encoded javascript: frame": "<iframe src=\"javascript:%27%3Cimg%20src%3D" + PIXEL.replace(":", "%3A") + "%3E%27\"></iframe>",
    "import map": f'<script type=importmap>{{"imports": {{"x": "{LOADER}", "y": "/own.js"}}}}</script>',
    "speculation rules": f'<script type=speculationrules>{{"prefetch": [{{"source": "list", "urls": ["{PIXEL}"]}}]}}</script>',
    "static import in a module": f'<script type=module>import "{LOADER}";</script>',
}
KEPT = {
    "harmless data: frame": '<iframe src="data:text/html,<p>hello</p>"></iframe>',
    "data: image": '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">',
    "svg image with a tracker inside": f'<img src="data:image/svg+xml,<svg xmlns=%22http://www.w3.org/2000/svg%22><image href=%22{PIXEL}%22/></svg>">',
    "own import map": '<script type=importmap>{"imports": {"y": "/own.js"}}</script>',
    "own module": '<script type=module>import {a} from "/own.js"; a();</script>',
    "javascript: link": "<a href=\"javascript:fbq('track', 'Lead')\">x</a>",
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_nested_tracker_refuses_the_element(name: str) -> None:
    source = REFUSED[name].encode()
    out, report = rewrite(source, NONE)
    assert b'data-consent="marketing"' in out, out
    assert rewrite(source, ALL)[0] == source


@pytest.mark.parametrize("name", list(KEPT))
def test_harmless_nested_content_stays(name: str) -> None:
    source = KEPT[name].encode()
    assert rewrite(source, NONE)[0] == source
