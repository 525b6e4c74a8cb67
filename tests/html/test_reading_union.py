"""Where browsers may read the same bytes two ways, every element either reading loads is
deferred.

Found while the fourth html campaign ran: its judge (html5lib) stopped twice on SVG that an
HTML end tag may or may not have closed (test_foreign_doubt.py), and a search over short
sequences of the tags that change a tokenizer's state, after the prefixes that open a
second reading, found more of the same family. Each form below left a tracker live for
html5lib before its fix; the kinds of second reading:

* SVG/MathML an HTML end tag may have left open (``</noscript>`` in ``<svg>``), ended only
  when that reading's own root closes, and also when this reading is the foreign one;
* an end tag that would pop past an integration point, which the tree builder does only
  when no HTML element is open in it (not tracked);
* ``<select>``, whose tags older parsers (and the standard before customizable selects)
  ignore: no ``<plaintext>`` switch, bodies read as markup, ``<![CDATA[`` a bogus comment;
* ``<![CDATA[`` at an integration point: CDATA if the SVG/MathML element is the current
  node, a bogus comment if an HTML element is open in it;
* a scripting browser's ``<noscript>``, raw text up to the first ``</noscript``, also
  inside a CDATA section and when the end tag closes an SVG element named noscript;
* names that mean something in one namespace only: ``<mi>``, ``<annotation-xml>`` are
  integration points in MathML only, ``<math>`` in SVG is an SVG element;
* ``<mglyph>`` and ``<malignmark>`` at a MathML text integration point (``<mi>``, ``<mo>``,
  ``<mn>``, ``<ms>``, ``<mtext>``): MathML elements, so foreign content follows, unless an
  HTML element is open inside the point (not tracked). Found by the search with a wider
  vocabulary (the fifth run);
* ``<annotation-xml encoding>`` compared as browsers do (ASCII case-insensitively, nothing
  stripped): ``" text/html"`` makes no integration point, so a ``<style>`` in it is MathML
  and holds markup;
* a breakout tag in doubt takes the other reading out of foreign content only as far as its
  innermost integration point (``<mo><body>`` stays in the ``<mo>``, where an ``<mglyph>``
  goes back into MathML). Found by a second judge, parse5 (spec-current), in the fifth run;
* a ``<textarea>`` (even self-closing) in SVG/MathML inside a ``<select>``: older parsers
  never entered the SVG, so to them it closes the select and holds RCDATA up to
  ``</textarea>``, where the foreign reading may be inside a script. Its body is read both
  ways (parse5, fifth run), and so is a ``<style>``, ``<noscript>``... there (an ``<input>``
  closed the select for older parsers, which then read raw text);
* an end tag in SVG/MathML that matches no element the scanner tracks may close an HTML
  ancestor of any name (``<mglyph><math></mglyph>``: an unknown tag is an HTML element),
  so every CDATA section in foreign content is also read as the bogus comment HTML makes
  of it, and its text as markup (parse5, fifth run).
"""

from __future__ import annotations

import pytest
from html_helpers import Recorder, keep_all, live_tracker_urls, run_split
from test_browser import _requests, _require_chromium, _tracker_test

FORMS = [
    b'<math></noscript></svg><title><img src="https://tracker.test/1.gif">',
    b'<svg><foreignObject></div><select><plaintext><script src="https://tracker.test/2.js"></script>',
    b'<select><svg></noscript><title><title><script src="https://tracker.test/3.js"></script>',
    b'<select><svg></noscript><svg><![CDATA[><script src="https://tracker.test/4.js"></script>',
    b'<math><mi></div><![CDATA[><script>]]><link rel=preload as=script href="https://tracker.test/5.js">',
    b'<svg></noscript><noframes><mi><script><img src="https://tracker.test/6.gif">',
    b'<svg><desc></span><svg><select><annotation-xml encoding=text/html><title><script src="https://tracker.test/7.js"></script>',
    b'<svg></div><![CDATA[><!--]]><body><iframe src="https://tracker.test/8"></iframe>',
    b'<noscript><svg><![CDATA[</noscript><script src="https://tracker.test/9.js"></script>',
    b'<svg><foreignObject><svg><math><annotation-xml encoding=text/html><script><image href="https://tracker.test/10.svg">',
    b'<svg></noscript><math></svg><a><![CDATA[><script src="https://tracker.test/11.js"></script>',
    b'<svg><foreignObject><annotation-xml encoding=text/html></style><math></svg><plaintext><img src="https://tracker.test/12.gif">',
    b'<noscript><svg><noscript><title></noscript><![CDATA[><br><iframe src="https://tracker.test/13"></iframe>',
    b'<select><math><script><!--<p><textarea/></script><script src="https://tracker.test/14.js"></script>',
    b'<math></noscript><mi></br><foreignObject></mi><style/><img src="https://tracker.test/15.gif">',
    b'<math><mi><mglyph><textarea/><h1><img src="https://tracker.test/16.gif">',
    b'<math><mtext><malignmark><style/><p><script src="https://tracker.test/17.js"></script>',
    b'<math><mo><mglyph><plaintext/><img src="https://tracker.test/18.gif">',
    b'<math><annotation-xml encoding=" text/html"><style><img src="https://tracker.test/19.gif">',
    b'<math></noscript><mo><body><mglyph></style><textarea\n><img src="https://tracker.test/20.gif">',
    b'<select><svg><textarea/><p><script><!--</textarea><img src="https://tracker.test/21.gif">',
    b'<mglyph><math></mglyph><![CDATA[<!----><img src="https://tracker.test/22.gif">',
    b'<select><math><input><noscript><b><textarea/></noscript><script src="https://tracker.test/23.js"></script>',
]


def _judge_sees_live(page: bytes) -> bool:
    from fuzz.targets import judge_sees_live

    return judge_sees_live(page)


@pytest.mark.parametrize("page", FORMS, ids=range(len(FORMS)))
def test_each_reading_s_tracker_is_deferred(page: bytes) -> None:
    assert _judge_sees_live(page)                 # html5lib loads it as written
    out = run_split(page, Recorder)               # the same output at every split
    assert out != page                            # deferred, or (noscript) the end tag defused
    assert not _judge_sees_live(out)
    assert live_tracker_urls(out) == []           # nor does our own second pass see it live
    assert run_split(page, lambda: keep_all, defuse_ambiguous=False) == page   # full consent: untouched


@pytest.mark.browser
def test_chromium_loads_none_of_them_after_the_rewrite() -> None:
    from html_helpers import run

    _require_chromium()
    documents = [b"<!doctype html><body>" + page for page in FORMS]
    after = _requests([run(d, Recorder(), encoding="utf-8") for d in documents], javascript=True,
                      refused=_tracker_test)
    assert after == [[] for _ in documents], [(p, a) for p, a in zip(FORMS, after) if a]


# Inside <noscript>, an end tag closing an SVG element named noscript is written as text
# for both readings; its attribute junk ("</noscript/<img src=...>" is one end tag) must
# not become markup then. Found by the html fuzz target's second pass in the fifth run:
# the image loaded in Chromium without JavaScript.
DEFUSED_END_TAG = b'<noscript><svg><noscript></noscript/<img src="https://tracker.test/24.gif">'


def test_a_defused_end_tag_turns_nothing_it_held_into_markup() -> None:
    out = run_split(DEFUSED_END_TAG, Recorder)
    assert b"<\\/noscript" in out and b"<img" not in out
    assert live_tracker_urls(out) == []           # our second pass reads <noscript> as markup


@pytest.mark.browser
def test_chromium_without_javascript_loads_nothing_from_a_defused_end_tag() -> None:
    from html_helpers import run

    _require_chromium()
    document = b"<!doctype html><body>" + DEFUSED_END_TAG
    after = _requests([run(document, Recorder(), encoding="utf-8")], javascript=False, refused=_tracker_test)
    assert after == [[]]
