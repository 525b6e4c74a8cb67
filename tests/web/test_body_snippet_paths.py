"""The <noscript> banner is rendered once per site and language; each page gets its own
return path in it, escaped as the form and the link each need."""

from __future__ import annotations

from urllib.parse import quote

import html5lib

from proxy import web as ui
from proxy.consent import ConsentState
from proxy.policy import default_config

SITE = next(iter(default_config("http://127.0.0.1:9").sites.values()))


def form_of(snippet: bytes) -> tuple[str, str]:
    """(hidden return_to value, the Choose link's href) as a browser reads them."""
    # With scripting off a browser parses <noscript> content as markup.
    tree = html5lib.parse(snippet.decode("ascii"), namespaceHTMLElements=False, scripting=False)
    hidden = tree.find(".//input[@name='return_to']")
    link = tree.find(".//a")
    assert hidden is not None and link is not None
    return hidden.get("value"), link.get("href")


def test_each_page_gets_its_own_return_path_escaped() -> None:
    undecided = ConsentState()
    first = ui.body_snippet(SITE, undecided, lang="en", return_to="/shop?a=1&b=<x>\"")
    second = ui.body_snippet(SITE, undecided, lang="en", return_to="/other/page")
    value, href = form_of(first)
    assert value == "/shop?a=1&b=<x>\""
    assert href.endswith("return_to=" + quote("/shop?a=1&b=<x>\"", safe="/"))
    assert form_of(second) == ("/other/page", href.split("return_to=")[0] + "return_to=/other/page")
    assert b"\x01" not in first + second


def test_an_unsafe_return_path_becomes_the_root_and_decided_visitors_get_a_settings_link() -> None:
    assert form_of(ui.body_snippet(SITE, ConsentState(), lang="en", return_to="//evil.example/"))[0] == "/"
    decided = ConsentState(categories=frozenset({"necessary", "analytics"}), decided=True)
    snippet = ui.body_snippet(SITE, decided, lang="en", return_to="/a b")
    assert b'class="consentry-settings"' in snippet and b"return_to=/a%20b" in snippet and b"<form" not in snippet
