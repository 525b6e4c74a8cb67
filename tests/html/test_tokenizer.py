"""Tokenizer states: where tags start and end, whole and split at every offset.

Each case is a template in which ``{T}`` stands for a tracker pixel. A ``{T}`` that a
WHATWG tokenizer reads as a live tag must come out deferred; one inside a comment,
attribute, RCDATA/RAWTEXT/script body, CDATA or PLAINTEXT must come out byte-identical
and never be shown to ``decide``.
"""

from __future__ import annotations

import pytest

from html_helpers import Recorder, run_split

PIXEL = b'<img src="https://tracker.test/p.gif">'
DEFERRED = b'<img data-consent-src="https://tracker.test/p.gif" data-consent="marketing" data-consent-vendor="tracker-vendor">'

# (template, liveness of each {T} in order)
CASES = {
    "data": (b"<p>{T}</p>", [True]),
    "comment": (b"<!-- {T} -->{T}", [False, True]),
    "comment abrupt <!-->": (b"<!-->{T}", [True]),
    "comment abrupt <!--->": (b"<!--->{T}", [True]),
    "comment <!---->": (b"<!---->{T}", [True]),
    "comment --!>": (b"<!-- x --!>{T}", [True]),
    "comment -- > does not end": (b"<!-- -- >{T} -->{T}", [False, True]),
    "comment <!-- inside": (b"<!-- <!-- {T} -->{T}", [False, True]),
    "comment unterminated": (b"<p><!-- {T}", [False]),
    "bogus <?": (b"<?php {T}", [False]),
    "bogus <? closed": (b"<?xml version='1.0'?>{T}", [True]),
    "bogus </ space": (b"</ {T}", [False]),
    "bogus <!x": (b"<!x{T}", [False]),
    "</> is dropped": (b"</>{T}", [True]),
    "doctype": (b"<!DOCTYPE html>{T}", [True]),
    "doctype ends at first >": (b'<!DOCTYPE html PUBLIC "{T}', [False]),
    "cdata in html is a bogus comment": (b"<![CDATA[{T}]]>", [False]),
    "cdata in svg": (b"<svg><![CDATA[{T}]]></svg>{T}", [False, True]),
    "title rcdata": (b"<title>{T}</title>{T}", [False, True]),
    "textarea rcdata": (b"<textarea>{T}</textarea>{T}", [False, True]),
    "rcdata needs the right end tag": (b"<title>{T}</titlex>{T}</title >{T}", [False, False, True]),
    "rcdata end tag case": (b"<TITLE>{T}</TiTlE\t>{T}", [False, True]),
    "xmp rawtext": (b"<xmp>{T}</xmp>{T}", [False, True]),
    "noembed rawtext": (b"<noembed>{T}</noembed>{T}", [False, True]),
    "noframes rawtext": (b"<noframes>{T}</noframes>{T}", [False, True]),
    "iframe rawtext": (b"<iframe>{T}</iframe>{T}", [False, True]),
    "style rawtext": (b"<style>{T}</style>{T}", [False, True]),
    "end tag with quoted >": (b'<style>{T}</style x=">{T}">{T}', [False, False, True]),
    "script": (b"<script>{T}</script>{T}", [False, True]),
    "</script in a JS string ends the script": (b'<script>var s = "</script>{T}";</script>', [True]),
    "script escaped": (b"<script><!--{T}</script>{T}", [False, True]),
    "script double escaped": (b"<script><!--<script>{T}</script>{T}-->{T}</script>{T}", [False, False, False, True]),
    "script double escaped --> returns to data": (b"<script><!--<script>{T}-->{T}</script>{T}", [False, False, True]),
    "script <!--> is open and closed": (b"<script><!-->{T}</script>{T}", [False, True]),
    "script <!--- and -->": (b"<script><!--->{T}</script>{T}", [False, True]),
    "script mixed case": (b"<ScRiPt>{T}</sCrIpT >{T}", [False, True]),
    "script unterminated": (b"<script>{T}</script", [False]),
    "script end tag needs terminator": (b"<script>{T}</scripts>{T}</script/>{T}", [False, False, True]),
    "plaintext": (b"<plaintext>{T}</plaintext>{T}", [False, False]),
    "double-quoted attribute": (b'<p title="{T}">{T}', [False, True]),
    "single-quoted attribute": (b"<p title='{T}'>{T}", [False, True]),
    "unquoted attribute ends at space": (b"<p title={T}{T}", [False, True]),
    "quote in attribute name": (b'<p a"b="{T}">{T}', [False, True]),
    "equals sign starts a name": (b'<p ="{T}">{T}', [False, True]),
    "no space between attributes": (b'<p a="1"b="{T}">{T}', [False, True]),
    "slash separates attributes": (b'<p/a="{T}"/>{T}', [False, True]),
    "NUL in tag name": (b"<scr\x00ipt>{T}</scr\x00ipt>{T}", [True, True]),
    "lone <": (b"a < b <3 {T}", [True]),
    "uppercase tag": (b"<P>{T}<IMG SRC='https://tracker.test/q.gif'>", [True]),
}


def _fill(template: bytes, live: list[bool], *, output: bool) -> bytes:
    pieces = template.split(b"{T}")
    assert len(pieces) == len(live) + 1
    out = pieces[0]
    for is_live, piece in zip(live, pieces[1:]):
        out += (DEFERRED if is_live and output else PIXEL) + piece
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_tag_boundaries(name: str) -> None:
    template, live = CASES[name]
    document = _fill(template, live, output=False)
    expected = _fill(template, live, output=True)
    if name == "uppercase tag":
        expected = expected.replace(b"<IMG SRC='https://tracker.test/q.gif'>",
                                    b"<IMG data-consent-SRC='https://tracker.test/q.gif' data-consent=\"marketing\" data-consent-vendor=\"tracker-vendor\">")
    assert run_split(document, Recorder) == expected


@pytest.mark.parametrize("name", list(CASES))
def test_only_live_pixels_are_shown_to_decide(name: str) -> None:
    template, live = CASES[name]
    recorder = Recorder()
    run_split(_fill(template, live, output=False), lambda: recorder)
    pixels = [e for e in recorder.seen if e.tag == "img"]
    live_count = sum(live) + (1 if name == "uppercase tag" else 0)
    # run_split runs the document len+2 times; each run must see exactly the live ones.
    runs = len(_fill(template, live, output=False)) + 1
    assert len(pixels) == live_count * runs


def test_duplicate_attribute_first_wins() -> None:
    # The browser loads the first src; the second (a tracker) is ignored, so keep all.
    document = b'<img src="/a.png" src="https://tracker.test/p.gif">'
    recorder = Recorder()
    assert run_split(document, lambda: recorder) == document
    assert recorder.seen[0].attrs["src"] == "/a.png"


def test_duplicate_attribute_tracker_first_is_deferred_and_duplicate_dropped() -> None:
    document = b'<img src="https://tracker.test/p.gif" src="/a.png">'
    out = run_split(document, Recorder)
    assert out == b'<img data-consent-src="https://tracker.test/p.gif" data-consent="marketing" data-consent-vendor="tracker-vendor">'


@pytest.mark.parametrize("reference", [b"https&#58;//tracker.test/p", b"https&colon;//tracker.test/p",
                                       b"https:&#x2F;&#x2f;tracker.test/p", b"&#104;ttps://tracker&period;test/p"])
def test_character_references_in_urls_are_decoded(reference: bytes) -> None:
    document = b'<img src="' + reference + b'">'
    recorder = Recorder()
    out = run_split(document, lambda: recorder)
    assert b"data-consent-src" in out
    assert recorder.seen[0].urls[0].url == "https://tracker.test/p"


def test_legacy_reference_before_equals_is_not_decoded_in_attribute() -> None:
    recorder = Recorder()
    run_split(b'<img src="/p?a=1&copy=2&amp=3&lt;">', lambda: recorder)
    assert recorder.seen[0].attrs["src"] == "/p?a=1&copy=2&amp=3<"


def test_attribute_names_are_lowercased_and_nul_replaced() -> None:
    recorder = Recorder()
    run_split(b'<IMG SRC="/a" Alt\x00x="b">', lambda: recorder)
    assert recorder.seen[0].attrs == {"src": "/a", "alt\ufffdx": "b"}


def test_whitespace_kinds_separate_attributes() -> None:
    recorder = Recorder()
    out = run_split(b'<img\tsrc="https://tracker.test/a"\x0calt=x\rid=y\n>', lambda: recorder)
    assert out.startswith(b'<img\tdata-consent-src="https://tracker.test/a"\x0calt=x\rid=y\n')
    assert recorder.seen[0].attrs["alt"] == "x" and recorder.seen[0].attrs["id"] == "y"


def test_self_closing_marker_stays_last() -> None:
    out = run_split(b'<svg><image href="https://tracker.test/i.png"/></svg>', Recorder)
    assert out == b'<svg><image data-consent-href="https://tracker.test/i.png" data-consent="marketing" data-consent-vendor="tracker-vendor"/></svg>'


def test_unquoted_value_ending_in_slash_is_not_self_closing() -> None:
    out = run_split(b"<img src=https://tracker.test/a/>", Recorder)
    assert out == b'<img data-consent-src=https://tracker.test/a/ data-consent="marketing" data-consent-vendor="tracker-vendor">'


def test_offsets_and_lines_are_reported() -> None:
    document = b"<p>\n\n<img src=/a>\n<script src=/b></script>"
    recorder = Recorder()
    run_split(document, lambda: recorder)
    first, second = recorder.seen[:2]
    assert (first.offset, first.line) == (document.index(b"<img"), 3)
    assert (second.offset, second.line) == (document.index(b"<script"), 4)
