"""The shipped assets: what the server may serve, their size budget, and the package's layering."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from proxy.web import asset

BUDGET = 12 * 1024   # consent.js + consent.css, gzipped (issue 6)


def test_runtime_and_stylesheet_are_served_with_their_types() -> None:
    js, js_type = asset("consent.js")
    css, css_type = asset("consent.css")
    assert js_type.startswith("text/javascript") and b"consentry-state" in js
    assert css_type.startswith("text/css") and b".consentry-banner" in css


@pytest.mark.parametrize("name", ["../assets.py", "assets.py", "__init__.py", ".hidden.js", "consent.js/..", "x/../consent.js", "", "CONSENT.JS", "nope.js"])
def test_nothing_else_is_served(name: str) -> None:
    assert asset(name) is None


def test_size_budget() -> None:
    total = sum(len(gzip.compress(asset(name)[0], 9)) for name in ("consent.js", "consent.css"))
    assert total < BUDGET, f"consent.js + consent.css are {total} bytes gzipped; the budget is {BUDGET}"


def test_vendors_json_lists_the_catalogue() -> None:
    from proxy.catalogue import Catalogue

    body, content_type = asset("vendors.json")
    assert content_type == "application/json"
    vendors = {v["id"]: v for v in json.loads(body)}
    assert vendors.keys() == Catalogue.default().vendors.keys()
    ga = vendors["google-analytics"]
    assert ga["category"] == "analytics" and ga["privacy_url"].startswith("https://")
    assert {"name": "_ga", "lifetime": "2 years"} in ga["cookies"]


def test_proxy_web_imports_no_adapter_or_validation_library() -> None:
    code = (
        "import sys, proxy.web\n"
        "from types import SimpleNamespace as NS\n"
        "from proxy.web import head_snippet, render_preferences_page, asset\n"
        "banner = NS(enabled=True, languages=['en'], default_language='en', texts={}, privacy_policy_url=None, theme={})\n"
        "site = NS(site_id='s', hosts=(), categories={}, vendors={}, rules=[], banner=banner, mode='defer', csp='report',\n"
        "          google_consent_mode='basic', honor_gpc=True, consent_path='/_consent', unknown_third_party='allow')\n"
        "state = NS(categories=frozenset({'necessary'}), vendors={}, decided=False, gpc=False, allows=lambda c, v=None: c == 'necessary')\n"
        "assert b'consent.js' in head_snippet(site, state, lang='en', nonce='n')\n"
        "render_preferences_page(site, state, lang='en', return_to='/', vendors=[])\n"
        "bad = [m for m in ('aiohttp', 'mitmproxy', 'jwt', 'pydantic') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "", f"proxy.web pulled in: {result.stdout.strip()}"
