"""Attributes appended after "x=>" (found by fuzzing): a browser reads the first appended
attribute as x's unquoted value, so a deferred <style>/<script> stayed live. Checked with
html5lib, an independent WHATWG parser."""

import html5lib
from html_helpers import Recorder, keep_all, run_split


def _attrs(out: bytes, tag: str) -> dict[str, str]:
    tree = html5lib.HTMLParser(namespaceHTMLElements=False).parse(out)
    element = next(e for e in tree.iter() if e.tag == tag)
    return dict(element.attrib)


def test_a_deferred_style_after_an_empty_unquoted_value_is_inert():
    page = b"<style/x=>a{background:url(https://tracker.test/a.png)}</style><p>after</p>"
    out = run_split(page, Recorder)
    attrs = _attrs(out, "style")
    assert attrs.get("type") == "text/plain" and attrs.get("x") == ""
    assert run_split(page, lambda: keep_all) == page


def test_a_deferred_image_after_an_empty_value_and_spaces():
    page = b'<img src=https://tracker.test/p.gif alt= ><p>x</p>'
    out = run_split(page, Recorder)
    attrs = _attrs(out, "img")
    assert "src" not in attrs and attrs.get("data-consent") == "marketing" and attrs.get("alt") == ""
