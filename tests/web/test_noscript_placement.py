"""The no-JavaScript banner lands inside <body> whatever shape the page has, as html5lib
(an independent WHATWG parser) builds the tree: pages without <body>, without </html>,
ending in their <head>, inside an open <svg>/<math>/<select>/<table>, after </html>.
A page that ends inside a comment, a script or a text-only element, or in an unfinished
tag, gets no banner (appending would change the page or be swallowed); a frameset page
has no body, and what is appended is dropped by every parser."""

from __future__ import annotations

import html5lib
import pytest

from proxy import web as ui
from proxy.consent import ConsentState
from proxy.engine import Engine
from proxy.policy import default_config

HTML = "{http://www.w3.org/1999/xhtml}"

IN_BODY = {
    "whole": "<!doctype html><html><head><title>t</title></head><body><p>x</p></body></html>",
    "no body": "<!doctype html><title>t</title><p>x",
    "ends in head": "<!doctype html><html><head><title>t</title>",
    "head not closed, meta": "<html><head><meta charset=utf-8><link rel=stylesheet href=a.css>",
    "no </html>": "<html><body><p>x</body>",
    "open svg": "<body><svg><g><circle>",
    "open math": "<p><math><mi>x",
    "open select": "<body><select><option>a",
    "open table": "<body><table><tr><td>x",
    "open noscript": "<body><noscript><p>x",
    "after </html>": "<html><body></body></html>\n<!-- c -->",
    "empty": "",
    "only text": "hello",
    "trailing text": "<html><body><p>x</p></body></html>\n\n  ",
    "ends in text": "<body><p>some words, then more words",
}
NONE = {
    "open script": "<body><script>var a = 1",
    "open comment": "<body><!-- never closed",
    "unfinished tag": '<body><div class="x',
    "unfinished end tag": "<body><p>x</p",
    "open textarea": "<body><textarea>abc",
    "plaintext": "<body><plaintext>abc",
}


@pytest.fixture(scope="module")
def setup(monkeypatch_module=None):
    import os

    os.environ.setdefault("CONSENTRY_SECRET", "noscript-placement-" + "s" * 32)
    site = default_config().sites["default"]
    return site, Engine(site), ConsentState.simulated("none", all_categories=list(site.categories))


def rewritten(setup, page: str, chunk: int) -> bytes | None:
    site, engine, state = setup
    rewriter = engine.rewriter(state)
    data = page.encode()
    out = b"".join(rewriter.feed(data[i:i + chunk]) for i in range(0, len(data), chunk)) + rewriter.close()
    reopen = rewriter.body_reopener()
    if reopen is None:
        return None
    return out + reopen + ui.body_snippet(site, state, lang="en")


def ancestors(tree, node) -> list[str]:
    parents = {child: parent for parent in tree.iter() for child in parent}
    names = []
    while node in parents:
        node = parents[node]
        names.append(str(node.tag))
    return names


def our_noscripts(tree) -> list:
    return [n for n in tree.iter(HTML + "noscript") if any("consentry" in (e.get("class") or "") for e in n.iter())]


@pytest.mark.parametrize("chunk", [1, 7, 1 << 16])
@pytest.mark.parametrize("shape", sorted(IN_BODY))
def test_the_banner_lands_in_body(setup, shape, chunk):
    out = rewritten(setup, IN_BODY[shape], chunk)
    assert out is not None
    tree = html5lib.parse(out)
    # The innermost: in the scripting-off reading an open page <noscript> may hold ours
    # (its content renders without JavaScript all the same).
    found = our_noscripts(tree)
    assert found, out[-400:]
    path = ancestors(tree, found[-1])
    assert HTML + "body" in path, path
    assert not [name for name in path if not name.startswith(HTML)], path   # not inside SVG/MathML
    assert HTML + "head" not in path and HTML + "select" not in path


def test_an_open_template_is_closed_first(setup):
    # html5lib does not implement <template> parsing; the spec closes it on </template>.
    out = rewritten(setup, "<body><template><div>", 7)
    assert out is not None and b"</template></head><noscript>" in out


@pytest.mark.parametrize("shape", sorted(NONE))
def test_no_banner_where_it_cannot_be_placed_safely(setup, shape):
    assert rewritten(setup, NONE[shape], 7) is None


def test_a_frameset_page_gets_nothing_visible(setup):
    out = rewritten(setup, "<html><head></head><frameset><frame src=a></frameset></html>", 7)
    assert out is not None
    assert our_noscripts(html5lib.parse(out)) == []


@pytest.mark.parametrize("shape", sorted(IN_BODY) + sorted(NONE) + ["open template", "open svg, template"])
def test_what_the_page_leaves_open_does_not_depend_on_where_the_bytes_were_cut(setup, shape):
    # A tag that an earlier feed left incomplete waits for more bytes before it is looked
    # at again; the end of the page must still see it (it reopened "<templ" + "ate>" as if
    # there were no template).
    page = {"open template": "<body><template>", "open svg, template": "<svg><template>",
            **IN_BODY, **NONE}[shape].encode()
    site, engine, state = setup

    def reopener(pieces: list[bytes]) -> bytes | None:
        rewriter = engine.rewriter(state, encoding="utf-8")
        for piece in pieces:
            rewriter.feed(piece)
        rewriter.close()
        return rewriter.body_reopener()

    whole = reopener([page])
    for cut in range(1, len(page)):
        assert reopener([page[:cut], page[cut:]]) == whole, f"cut at {cut}: {page[:cut]!r}"
