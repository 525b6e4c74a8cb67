"""The shipped assets: what the server may serve, their size budget, and the package's layering."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

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
    # Importing proxy.web loads none of them; rendering (with a real site, which brings
    # pydantic, and a ConsentState, which brings PyJWT) lazily loads no adapter either.
    code = (
        "import sys, proxy.web\n"
        "from proxy.web import head_snippet, render_preferences_page, asset\n"
        "print(','.join(m for m in ('aiohttp', 'mitmproxy', 'jwt', 'pydantic') if m in sys.modules))\n"
        "from factories import make_site\n"
        "from proxy.consent import ConsentState\n"
        "site = make_site(site_id='s', google_consent_mode='basic')\n"
        "assert b'consent.js' in head_snippet(site, ConsentState(), lang='en', nonce='n')\n"
        "render_preferences_page(site, ConsentState(), lang='en', return_to='/', vendors=[])\n"
        "print(','.join(m for m in ('aiohttp', 'mitmproxy') if m in sys.modules))\n"
    )
    tests_dir = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env)
    assert result.stdout.splitlines() == ["", ""], f"proxy.web pulled in: {result.stdout.strip()}"
