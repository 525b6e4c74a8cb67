"""A bare ``&#`` in an attribute (found by the fuzzing campaign) used to raise IndexError and
abort the whole page; it is text, as browsers read it, and the rest of the page is rewritten."""

from html_helpers import Recorder, keep_all, run_split

from proxy.html.charrefs import decode_attribute, decode_text


def test_bare_numeric_references_are_text():
    for text in ("&#", "a&#", "&#pl", "&#;", "&#x"):
        assert decode_attribute(text) == text
        assert decode_text(text) == text
    assert decode_attribute("&#65;&#") == "A&#"


def test_a_page_with_a_bare_reference_is_rewritten_whole_and_split():
    page = b'<a href="/?q=1&#">x</a><img title="&#pl" src="https://tracker.test/p.gif"><p>&#</p>'
    assert run_split(page, lambda: keep_all) == page
    out = run_split(page, Recorder)
    assert b'data-consent-src="https://tracker.test/p.gif"' in out
    assert out.startswith(b'<a href="/?q=1&#">x</a>')
