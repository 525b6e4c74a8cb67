"""Context the tokenizer must simulate without a DOM: noscript, template, srcdoc, SVG/MathML."""

from __future__ import annotations

import html5lib

from html_helpers import Recorder, keep_all, run_split
from proxy.html import Action

PIXEL = b'<img src="https://tracker.test/p.gif">'
GTM_NOSCRIPT = (b'<noscript><iframe src="https://tracker.test/ns.html?id=GTM-X" height="0" width="0" '
                b'style="display:none;visibility:hidden"></iframe></noscript>')


def test_noscript_contents_are_rewritten_as_markup() -> None:
    recorder = Recorder()
    out = run_split(b"<body>" + GTM_NOSCRIPT + b"<noscript>" + PIXEL + b"</noscript>", lambda: recorder)
    assert b'data-consent-src="https://tracker.test/ns.html?id=GTM-X"' in out
    assert b'data-consent-src="https://tracker.test/p.gif"' in out
    assert all(e.in_noscript for e in recorder.seen)


def test_noscript_strip_removes_the_tracker_and_keeps_the_noscript() -> None:
    out = run_split(b"<body>" + GTM_NOSCRIPT, lambda: Recorder(Action.STRIP))
    assert out == b"<body><noscript></noscript>"


def test_noscript_end_inside_attribute_is_defused_for_both_readings() -> None:
    # A scripting browser ends the noscript at the first "</noscript>" (inside the
    # attribute value), then sees the pixel as live markup.
    document = b'<body><noscript><p title="</noscript>' + PIXEL + b'"></p></noscript>after'
    out = run_split(document, Recorder)
    for scripting in (True, False):
        tree = html5lib.HTMLParser(namespaceHTMLElements=False).parse(out, scripting=scripting)
        assert not [img for img in tree.iter("img") if img.get("src")], scripting
    assert out.endswith(b"</noscript>after")


def test_noscript_end_inside_comment_and_style_is_defused() -> None:
    document = (b"<body><noscript><!-- </noscript>" + PIXEL + b" --><style></noscript>" + PIXEL
                + b"</style></noscript>x")
    out = run_split(document, Recorder)
    assert out.count(b"</noscript") == 1
    tree = html5lib.HTMLParser(namespaceHTMLElements=False).parse(out, scripting=True)
    assert not [img for img in tree.iter("img") if img.get("src")]


def test_plaintext_inside_noscript_does_not_hide_the_rest() -> None:
    document = b"<body><noscript><plaintext></noscript>" + PIXEL
    out = run_split(document, Recorder)
    assert b"data-consent-src" in out


def test_template_contents_are_rewritten() -> None:
    recorder = Recorder()
    out = run_split(b"<template><div>" + PIXEL + b"</div></template>" + PIXEL, lambda: recorder)
    assert out.count(b"data-consent-src") == 2
    assert [e.in_template for e in recorder.seen[:2]] == [True, False]


def test_srcdoc_is_rewritten_with_the_same_decisions() -> None:
    recorder = Recorder()
    document = b'<iframe srcdoc="<p>hi</p><img src=&quot;https://tracker.test/s.gif&quot;>" title=t></iframe>'
    out = run_split(document, lambda: recorder)
    assert out == (b'<iframe srcdoc="<p>hi</p><img data-consent-src=&quot;https://tracker.test/s.gif&quot; '
                   b'data-consent=&quot;marketing&quot; data-consent-vendor=&quot;tracker-vendor&quot;>" title=t></iframe>')
    inner = [e for e in recorder.seen if e.in_srcdoc]
    assert inner and inner[0].tag == "img"


def test_srcdoc_without_trackers_is_left_as_written() -> None:
    document = b"<iframe srcdoc='<p class=&quot;a&quot;>&amp;x</p>'></iframe>"
    assert run_split(document, Recorder) == document


def test_svg_script_inline_and_external() -> None:
    recorder = Recorder()
    document = (b'<svg><script>trackerSignature()</script><script xlink:href="https://tracker.test/s.js"/>'
                b"<circle r=1 /></svg>")
    out = run_split(document, lambda: recorder)
    assert out == (b'<svg><script type="text/plain" data-consent="analytics">trackerSignature()</script>'
                   b'<script data-consent-xlink:href="https://tracker.test/s.js" type="text/plain" '
                   b'data-consent="marketing" data-consent-vendor="tracker-vendor"/><circle r=1 /></svg>')
    assert all(e.in_foreign for e in recorder.seen[:2])


def test_svg_style_is_markup_so_a_breakout_pixel_inside_is_live() -> None:
    # In SVG, <style> is not raw text: <img> breaks out of foreign content and loads.
    document = b"<svg><style>" + PIXEL + b"</style></svg>"
    out = run_split(document, Recorder)
    assert b"data-consent-src" in out


def test_html_style_is_raw_text() -> None:
    document = b"<style>" + PIXEL + b"</style>"
    assert run_split(document, Recorder) == document


def test_end_of_svg_returns_to_html_rules() -> None:
    document = b"<svg><title>t</title></svg><style>" + PIXEL + b"</style><xmp>" + PIXEL + b"</xmp>"
    assert run_split(document, Recorder) == document


def test_svg_self_closing_does_not_open_foreign_content() -> None:
    document = b"<svg/><style>" + PIXEL + b"</style>"
    assert run_split(document, Recorder) == document


def test_foreign_object_is_an_html_integration_point() -> None:
    # Inside foreignObject, <style> is HTML raw text again; after it, SVG resumes.
    document = (b"<svg><foreignObject><style>" + PIXEL + b"</style></foreignObject>"
                b"<style>" + PIXEL + b"</style></svg>")
    out = run_split(document, Recorder)
    assert out.count(b"data-consent-src") == 1
    assert out.index(b"data-consent-src") > out.index(b"</foreignObject>")


def test_cdata_in_svg_is_read_as_cdata_and_as_the_bogus_comment_html_makes_of_it() -> None:
    # As CDATA (in SVG) the first pixel is text; a browser may have left the SVG at an end
    # tag the scanner cannot match (an HTML ancestor of any name), and there the section is
    # a bogus comment ending at the first ">", after which the pixel is markup: deferred too.
    document = b"<svg><![CDATA[ > " + PIXEL + b" ]]>" + PIXEL + b"</svg>"
    out = run_split(document, Recorder)
    assert out.count(b"data-consent-src") == 2
    assert out.startswith(b"<svg><![CDATA[ > ") and b" ]]>" in out
    assert run_split(document, lambda: keep_all) == document   # nothing refused: byte for byte


def test_breakout_tag_leaves_foreign_content() -> None:
    document = b"<svg><p>x</p><style>" + PIXEL + b"</style>"
    assert run_split(document, Recorder) == document


def test_math_text_integration_point() -> None:
    document = b"<math><mi><style>" + PIXEL + b"</style></mi><mtext>t</mtext></math>" + PIXEL
    out = run_split(document, Recorder)
    assert out.count(b"data-consent-src") == 1


def test_element_in_svg_is_marked_in_foreign() -> None:
    recorder = Recorder()
    run_split(b'<svg><image href="https://tracker.test/i.png"/></svg><img src="https://tracker.test/p.gif">',
              lambda: recorder)
    assert [e.in_foreign for e in recorder.seen[:2]] == [True, False]


def test_raw_text_inside_select_is_read_both_ways() -> None:
    # Parsers that ignore <xmp>/<style> inside <select> read their bodies as markup.
    document = b"<select><xmp>" + PIXEL + b"</xmp></select><xmp>" + PIXEL + b"</xmp>"
    out = run_split(document, Recorder)
    assert out.count(b"data-consent-src") == 1
    assert out.index(b"data-consent-src") < out.index(b"</select>")


def test_stray_html_end_tag_in_svg_is_read_both_ways() -> None:
    # </noscript> with no open noscript leaves SVG open (the <img> breaks out: live);
    # </div> closing an open div leaves SVG (the <style> is raw text). Both are covered.
    for document in (b"<svg></noscript><script>" + PIXEL + b"</script>",
                     b"<div><svg></div><style><!--</style>" + PIXEL + b"-->"):
        out = run_split(document, Recorder)
        assert b"data-consent-src" in out, document
        for scripting in (True, False):
            tree = html5lib.HTMLParser(namespaceHTMLElements=False).parse(out, scripting=scripting)
            assert not [img for img in tree.iter() if str(img.tag).endswith("img") and img.get("src")]
