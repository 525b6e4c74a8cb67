"""DESIGN.md's table, row by row, in defer and in strip mode; activation; extra attributes."""

from __future__ import annotations

import pytest

from html_helpers import Recorder, keep_all, run_split
from proxy.html import Action, Decision, Element

T = "https://tracker.test"
MARK = b' data-consent="marketing" data-consent-vendor="tracker-vendor"'

# (input, deferred output, stripped output)
ROWS = {
    "script src": (
        b'<script src="https://tracker.test/a.js" async defer integrity="sha384-x" crossorigin nonce=n></script>after',
        b'<script data-consent-src="https://tracker.test/a.js" async defer integrity="sha384-x" crossorigin nonce=n'
        + b' type="text/plain"' + MARK + b"></script>after",
        b"after"),
    "script with type": (
        b'<script type="module" src="https://tracker.test/m.js"></script>',
        b'<script data-consent-type="module" data-consent-src="https://tracker.test/m.js" type="text/plain"' + MARK + b"></script>",
        b""),
    "inline script": (
        b"<script>trackerSignature(1); var s = '<b>';</script>x",
        b'<script type="text/plain" data-consent="analytics">trackerSignature(1); var s = \'<b>\';</script>x',
        b"x"),
    "iframe": (
        b'<iframe src="https://tracker.test/embed" width=5>fallback <b></iframe>',
        b'<iframe data-consent-src="https://tracker.test/embed" width=5' + MARK + b">fallback <b></iframe>",
        b""),
    "img src and srcset": (
        b'<img src="/a.png" srcset="/a2.png 2x, https://tracker.test/b.png 3x">',
        b'<img data-consent-src="/a.png" data-consent-srcset="/a2.png 2x, https://tracker.test/b.png 3x"' + MARK + b">",
        b""),
    "source srcset": (
        b'<picture><source srcset="https://tracker.test/s.webp"><img src=/x></picture>',
        b'<picture><source data-consent-srcset="https://tracker.test/s.webp"' + MARK + b"><img src=/x></picture>",
        b"<picture><img src=/x></picture>"),
    "embed": (
        b'<embed src="https://tracker.test/f.swf">',
        b'<embed data-consent-src="https://tracker.test/f.swf"' + MARK + b">",
        b""),
    "video poster": (
        b'<video poster="https://tracker.test/p.jpg" controls><track src=/t.vtt>text</video>after',
        b'<video data-consent-poster="https://tracker.test/p.jpg" controls' + MARK + b"><track src=/t.vtt>text</video>after",
        b"after"),
    "audio": (
        b'<audio src="https://tracker.test/a.mp3"></audio>',
        b'<audio data-consent-src="https://tracker.test/a.mp3"' + MARK + b"></audio>",
        b""),
    "track": (
        b'<track src="https://tracker.test/t.vtt">',
        b'<track data-consent-src="https://tracker.test/t.vtt"' + MARK + b">",
        b""),
    "object": (
        b'<object data="https://tracker.test/o.swf"><param name=a value=b></object>after',
        b'<object data-consent-data="https://tracker.test/o.swf"' + MARK + b"><param name=a value=b></object>after",
        b"after"),
    "input type=image": (
        b'<input type=image src="https://tracker.test/i.png">',
        b'<input type=image data-consent-src="https://tracker.test/i.png"' + MARK + b">",
        b""),
    "link preload": (
        b'<link rel=preload as=script href="https://tracker.test/a.js">',
        b'<link rel=preload as=script data-consent-href="https://tracker.test/a.js"' + MARK + b">",
        b""),
    "link dns-prefetch": (
        b'<link rel="dns-prefetch" href="//tracker.test">',
        b'<link rel="dns-prefetch" data-consent-href="//tracker.test"' + MARK + b">",
        b""),
    "link imagesrcset": (
        b'<link rel=preload as=image imagesrcset="https://tracker.test/1.png 1x">',
        b'<link rel=preload as=image data-consent-imagesrcset="https://tracker.test/1.png 1x"' + MARK + b">",
        b""),
    "a ping": (
        b'<a href="/next" ping="https://tracker.test/ping">go</a>',
        b'<a href="/next" data-consent-ping="https://tracker.test/ping"' + MARK + b">go</a>",
        b'<a href="/next">go</a>'),
    "area ping": (
        b'<area href="/x" ping="/own https://tracker.test/ping">',
        b'<area href="/x" data-consent-ping="/own https://tracker.test/ping"' + MARK + b">",
        b'<area href="/x">'),
    "meta refresh": (
        b'<meta http-equiv="refresh" content="0; url=https://tracker.test/r">',
        b'<meta data-consent-http-equiv="refresh" content="0; url=https://tracker.test/r"' + MARK + b">",
        b""),
    "style block": (
        b"<style>@import 'https://tracker.test/a.css'; p{color:red}</style>x",
        # "@\69mport": the same rule to CSS, invisible to Chromium's preload scanner.
        b'<style type="text/plain"' + MARK + b">@\\69mport 'https://tracker.test/a.css'; p{color:red}</style>x",
        b"x"),
    "style block with type": (
        b'<style type="text/css">b{background:url(https://tracker.test/b.png)}</style>',
        b'<style data-consent-type="text/css" type="text/plain"' + MARK + b">b{background:url(https://tracker.test/b.png)}</style>",
        b""),
    "style attribute": (
        b'<div class=c style="background-image: url(\'https://tracker.test/bg.png\')">kept</div>',
        b'<div class=c data-consent-style="background-image: url(\'https://tracker.test/bg.png\')"' + MARK + b">kept</div>",
        b"<div class=c>kept</div>"),
    "style attribute with CSS escape": (
        b'<p style="background:\\75 rl(https://tracker.test/e.png)">kept</p>',
        b'<p data-consent-style="background:\\75 rl(https://tracker.test/e.png)"' + MARK + b">kept</p>",
        b"<p>kept</p>"),
    "style attribute with char ref": (
        b'<p style="background:url&#40;https://tracker.test/e.png)">kept</p>',
        b'<p data-consent-style="background:url&#40;https://tracker.test/e.png)"' + MARK + b">kept</p>",
        b"<p>kept</p>"),
    "background attribute": (
        b'<td background="https://tracker.test/bg.gif">cell</td>',
        b'<td data-consent-background="https://tracker.test/bg.gif"' + MARK + b">cell</td>",
        b"<td>cell</td>"),
    "lazy data-src": (
        b'<img class=lazy data-src="https://tracker.test/l.png" src="/placeholder.gif">',
        b'<img class=lazy data-consent-data-src="https://tracker.test/l.png" data-consent-src="/placeholder.gif"' + MARK + b">",
        b""),
    "lazy data-bg on a div": (
        b'<div data-bg="https://tracker.test/bg.jpg">x</div>',
        b'<div data-consent-data-bg="https://tracker.test/bg.jpg"' + MARK + b">x</div>",
        b"<div>x</div>"),
    "svg image xlink:href": (
        b'<svg><image xlink:href="https://tracker.test/i.svg" /></svg>',
        b'<svg><image data-consent-xlink:href="https://tracker.test/i.svg" ' + MARK + b"/></svg>",
        b"<svg></svg>"),
    "svg use": (
        b'<svg><use href="https://tracker.test/s.svg#a"></use><rect/></svg>',
        b'<svg><use data-consent-href="https://tracker.test/s.svg#a"' + MARK + b"></use><rect/></svg>",
        b"<svg><rect/></svg>"),
    "svg script": (
        b'<svg><script href="https://tracker.test/s.js"></script><rect/></svg>',
        b'<svg><script data-consent-href="https://tracker.test/s.js" type="text/plain"' + MARK + b"></script><rect/></svg>",
        b"<svg><rect/></svg>"),
    "protocol-relative": (
        b'<img src="//tracker.test/p.gif">',
        b'<img data-consent-src="//tracker.test/p.gif"' + MARK + b">",
        b""),
}


@pytest.mark.parametrize("row", list(ROWS))
def test_defer(row: str) -> None:
    document, deferred, _ = ROWS[row]
    assert run_split(document, Recorder) == deferred


@pytest.mark.parametrize("row", list(ROWS))
def test_strip(row: str) -> None:
    document, _, stripped = ROWS[row]
    assert run_split(document, lambda: Recorder(Action.STRIP)) == stripped


@pytest.mark.parametrize("row", list(ROWS))
def test_keep_is_byte_identical(row: str) -> None:
    document = ROWS[row][0]
    assert run_split(document, lambda: keep_all) == document


def test_event_handler_is_shown_with_its_code_and_deferred() -> None:
    recorder = Recorder()
    document = b'<img src="/a.png" onload="trackerSignature(\'x\')" alt=a>'
    out = run_split(document, lambda: recorder)
    assert out == b'<img src="/a.png" data-consent-onload="trackerSignature(\'x\')" alt=a data-consent="analytics">'
    handler = [e for e in recorder.seen if e.attribute == "onload"][0]
    assert handler.text == "trackerSignature('x')" and handler.tag == "img"


def test_event_handler_strip_removes_only_the_attribute() -> None:
    out = run_split(b'<body onload="trackerSignature()" class=x>', lambda: Recorder(Action.STRIP))
    assert out == b"<body class=x>"


def test_existing_target_attribute_is_not_duplicated() -> None:
    document = b'<img data-consent-src="/old.png" src="https://tracker.test/p.gif">'
    out = run_split(document, Recorder)
    assert out.count(b"data-consent-src") == 1
    assert b'data-consent-src="https://tracker.test/p.gif"' in out


def test_existing_consent_marker_is_replaced_not_duplicated() -> None:
    out = run_split(b'<img data-consent="preferences" src="https://tracker.test/p.gif">', Recorder)
    assert out.count(b"data-consent=") == 1 and b'data-consent="marketing"' in out


def test_script_already_inert_keeps_its_type() -> None:
    document = b'<script type="text/plain" data-consent="analytics">trackerSignature()</script>'
    assert run_split(document, Recorder) == document


def test_extra_attrs_are_added_to_kept_elements_once() -> None:
    def make() -> Recorder:
        return Recorder(extra=(("nonce", "abc"),))
    assert run_split(b"<script>ok()</script>", make) == b'<script nonce="abc">ok()</script>'
    assert run_split(b"<script nonce=old>ok()</script>", make) == b"<script nonce=old>ok()</script>"
    # a deferred element does not get the nonce
    assert b"nonce" not in run_split(b"<script>trackerSignature()</script>", make)


@pytest.mark.parametrize("document,expected", [
    (b'<script type="text/plain" data-category="analytics" src="/ga.js"></script>',
     b'<script data-category="analytics" src="/ga.js" nonce="n1"></script>'),
    (b'<script type="text/plain" data-consent="analytics" data-consent-type="module" data-consent-src="/m.js"></script>',
     b'<script type="module" data-consent="analytics" src="/m.js" nonce="n1"></script>'),
    (b'<iframe data-consent="marketing" data-consent-src="https://video.example/e" src="about:blank"></iframe>',
     b'<iframe data-consent="marketing" src="https://video.example/e" nonce="n1"></iframe>'),
    (b'<div data-consent="marketing" data-consent-style="background:url(/x.png)">w</div>',
     b'<div data-consent="marketing" style="background:url(/x.png)" nonce="n1">w</div>'),
])
def test_activate_author_marked_markup(document: bytes, expected: bytes) -> None:
    assert run_split(document, lambda: Recorder(activate=True, extra=(("nonce", "n1"),))) == expected


def test_author_marked_element_is_shown_to_decide() -> None:
    recorder = Recorder()
    run_split(b'<div data-cookieconsent="statistics" type="text/plain">x</div><span>y</span>', lambda: recorder)
    assert set(recorder.tags()) == {"div"}


def test_strip_of_author_marked_element_removes_its_content() -> None:
    def decide(element: Element) -> Decision:
        return Decision(Action.STRIP, "marketing") if "data-consent" in element.attrs else Decision(Action.KEEP)
    document = b'<p>a</p><div data-consent="marketing"><div>inner<img src=/x></div>more</div><p>b</p>'
    assert run_split(document, lambda: decide) == b"<p>a</p><p>b</p>"


def test_elements_without_fetches_are_never_shown() -> None:
    recorder = Recorder()
    document = (b'<!doctype html><html><head><meta charset="utf-8"><meta name=x content=y></head>'
                b'<body class=a><div style="color:red" id=b><a href="/x">l</a><form action="https://tracker.test/f">'
                b'<input name=q type=text><button formaction=/z>b</button></form><span title="url(x)">s</span></div></body></html>')
    assert run_split(document, lambda: recorder) == document
    assert recorder.seen == []


def test_urls_are_resolved_against_base_href_then_base_url() -> None:
    recorder = Recorder()
    document = b'<base href="/sub/"><base href="https://ignored.example/"><img src="a.png"><img src="//cdn.example/b.png">'
    run_split(document, lambda: recorder, base_url="http://site.example/page")
    urls = [e.urls[0].url for e in recorder.seen if e.tag == "img"]
    assert urls[:2] == ["http://site.example/sub/a.png", "http://cdn.example/b.png"]


def test_protocol_relative_without_base_is_https() -> None:
    recorder = Recorder()
    run_split(b'<script src="//tracker.test/a.js"></script>', lambda: recorder)
    assert recorder.seen[0].urls[0].url == "https://tracker.test/a.js"


def test_srcset_lists_every_candidate() -> None:
    recorder = Recorder()
    run_split(b'<img srcset="a.png 1x, b.png 2x,c.png" data-srcset="d.png 100w">', lambda: recorder,
              base_url="https://s.example/")
    urls = [(u.attribute, u.url) for u in recorder.seen[0].urls]
    assert urls == [("srcset", "https://s.example/a.png"), ("srcset", "https://s.example/b.png"),
                    ("srcset", "https://s.example/c.png"), ("data-srcset", "https://s.example/d.png")]


def test_inline_script_and_style_text_are_given() -> None:
    recorder = Recorder()
    run_split(b"<script>var a = 1;</script><style>p{background:url(/x.png)}</style>", lambda: recorder,
              base_url="https://s.example/")
    script, style = recorder.seen[:2]
    assert script.text == "var a = 1;" and not script.text_truncated
    assert style.text == "p{background:url(/x.png)}"
    assert [(u.attribute, u.url) for u in style.urls] == [("text", "https://s.example/x.png")]
