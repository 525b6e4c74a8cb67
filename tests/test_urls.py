"""proxy.urls: URL resolution as the WHATWG URL Standard says, checked on the WPT suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.engine import Engine
from proxy.urls import resolve
from test_engine import NONE, make_site

DATA = Path(__file__).parent / "data" / "urltestdata.json"
CASES = [case for case in json.loads(DATA.read_text(encoding="utf-8")) if isinstance(case, dict)]


def test_every_wpt_url_test_resolves_as_a_browser_does() -> None:
    wrong = []
    for case in CASES:
        base = case.get("base")
        got = resolve(case["input"], base)
        if base is None and case["input"].lstrip("\t\n\f\r ")[:2] in ("//", "\\\\", "/\\", "\\/"):
            continue  # no base: the proxy reads scheme-relative as https (tested below); the spec fails
        if case.get("failure"):
            # Nothing a browser would fetch: handed back as written (stripped), never invented.
            expected = case["input"].strip("\t\n\f\r ")
        elif base is None and ":" not in case["input"]:
            continue
        else:
            expected = case["href"]
        if got != expected:
            wrong.append((case["input"], base, got, expected))
    assert len(CASES) > 800
    assert wrong == []


@pytest.mark.parametrize(("written", "host"), [
    ("\\\\www.google-analytics.com\\analytics.js", "www.google-analytics.com"),
    ("//www.google-analytics.com/analytics.js", "www.google-analytics.com"),
    ("https://www.goo\tgle-ana\nlytics.com/analytics.js", "www.google-analytics.com"),
    ("https://ＷＷＷ．ＧＯＯＧＬＥ－ＡＮＡＬＹＴＩＣＳ．ＣＯＭ/analytics.js", "www.google-analytics.com"),
    ("https://www.google%2Danalytics.com/analytics.js", "www.google-analytics.com"),
    ("https:\\\\www.google-analytics.com/analytics.js", "www.google-analytics.com"),
    (" \x01https://www.google-analytics.com./analytics.js", "www.google-analytics.com"),
])
def test_spellings_of_a_tracker_url_are_recognised_in_markup(written: str, host: str) -> None:
    from proxy.html.charrefs import decode_attribute  # noqa: F401 - the markup is plain here

    document = f'<img src="{written}">'.encode()
    rewriter = Engine(make_site()).rewriter(NONE, base_url="https://shop.example/")
    out = rewriter.feed(document) + rewriter.close()
    assert b"data-consent-src=" in out, (written, out)
    assert resolve(written, "https://shop.example/").split("/")[2].rstrip(".") == host


def test_without_a_base_relative_stays_relative_and_scheme_relative_gets_https() -> None:
    assert resolve("/a/b.png", None) == "/a/b.png"
    assert resolve("b.png", None) == "b.png"
    assert resolve("//cdn.example/x.js", None) == "https://cdn.example/x.js"
    assert resolve("\\\\cdn.example\\x.js", None) == "https://cdn.example/x.js"
