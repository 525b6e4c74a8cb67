"""Script and style bodies longer than ``max_buffer`` are judged whole, window by window.

The start tag of such a body goes out (live) once its first window is judged; every later
window is judged before it is emitted. A refused later window ends the live element right
there (made unable to run) and the rest goes on in an inert element. Judged by html5lib
(what a browser's parser builds from the output), for many chunkings, with the bytes
held back counted (``held_max``), never timed.
"""

from __future__ import annotations

import html5lib

from html_helpers import SIGNATURE, Recorder, run, run_random_chunks, run_split
from proxy.html import Action
from proxy.html.scanner import WINDOW_OVERLAP

CAP = 256 * 1024
STRIDE = CAP - WINDOW_OVERLAP
CUT_SCRIPT = b"\n\\\n--></script>"
CUT_STYLE = b'\n\n"</style>'
LOADER = (SIGNATURE + '); new Image().src = "https://tracker.test/p.gif";\n').encode()


def filler(size: int, *, seed: int = 0) -> bytes:
    """First-party code, ``size`` bytes of it."""
    line = b"window.firstParty%d = function (x) { return x * %d + '</p>'; };\n"
    out, index = [], seed
    total = 0
    while True:
        piece = line % (index, index % 7)
        if total + len(piece) > size:
            return b"".join(out) + b" " * (size - total)  # whole statements, then spaces
        out.append(piece)
        total += len(piece)
        index += 1


def css_filler(size: int) -> bytes:
    rule = b".c%d{color:#123;background:url(/img/%d.png)}\n"
    out, index, total = [], 0, 0
    while True:
        piece = rule % (index, index)
        if total + len(piece) > size:
            return b"".join(out) + b" " * (size - total)  # whole rules, then spaces
        out.append(piece)
        total += len(piece)
        index += 1


def elements(out: bytes, name: str) -> list:
    tree = html5lib.parse(out, namespaceHTMLElements=False, transport_encoding="utf-8")
    return list(tree.iter(name))


def live(element) -> bool:  # noqa: ANN001
    return element.get("type", "").strip().lower() not in ("text/plain",)


def test_tracker_loader_after_the_first_window_is_not_live() -> None:
    body = filler(300 * 1024) + LOADER + filler(200 * 1024, seed=9)
    document = b"<!doctype html><body><script>" + body + b"</script><p>after</p>"
    out = run_random_chunks(document, Recorder, seed=1, trials=2, largest=70_000)
    # The window the loader is in starts at STRIDE: everything from there on is inert.
    assert out == (b"<!doctype html><body><script>" + body[:STRIDE] + CUT_SCRIPT
                   + b'<script type="text/plain" data-consent-cut="analytics">' + body[STRIDE:]
                   + b"</script><p>after</p>")
    scripts = elements(out, "script")
    assert [live(script) for script in scripts] == [True, False]
    assert SIGNATURE not in scripts[0].text and "tracker.test" not in scripts[0].text
    assert scripts[0].text.endswith("\n\\\n-->")
    assert SIGNATURE in scripts[1].text
    assert [p.text for p in elements(out, "p")] == ["after"]


def test_every_later_window_is_asked_with_its_offset() -> None:
    recorder = Recorder()
    body = filler(700 * 1024)
    document = b"<script>" + body + b"</script>"
    assert run(document, recorder) == document
    assert [element.text_offset for element in recorder.seen] == [0, STRIDE, 2 * STRIDE]
    assert all(element.text_truncated for element in recorder.seen)
    assert recorder.seen[1].text == body[STRIDE:STRIDE + CAP].decode()
    assert recorder.seen[2].text == body[2 * STRIDE:].decode()


def test_first_party_megabyte_script_is_byte_identical_in_bounded_memory() -> None:
    body = filler(1024 * 1024)
    document = b"<!doctype html><script>" + body + b"</script><p>x</p>"
    assert run_random_chunks(document, Recorder, seed=2, trials=2, largest=50_000) == document
    for chunk in (1, 4096, 65_536):
        rewriter = __import__("proxy.html", fromlist=["Rewriter"]).Rewriter(Recorder())
        out = b"".join(rewriter.feed(document[at:at + chunk]) for at in range(0, len(document), chunk))
        assert out + rewriter.close() == document
        # Held back: one window and what the last feed brought, never the whole body.
        assert rewriter.held_max <= CAP + chunk + 16, (chunk, rewriter.held_max)


def test_loader_split_across_a_window_boundary_is_seen_whole() -> None:
    # Small cap, many windows, the signature at every offset around a boundary.
    cap = 1000
    overlap = cap // 4
    for shift in range(-len(SIGNATURE) - 2, 3):
        at = 2 * (cap - overlap) + shift + cap  # inside the overlap of windows 2 and 3
        body = b"x" * at + SIGNATURE.encode() + b"y" * 1500
        document = b"<script>" + body + b"</script>"
        out = run_random_chunks(document, Recorder, seed=shift + 50, trials=2, largest=300, max_buffer=cap)
        scripts = elements(out, "script")
        assert SIGNATURE not in scripts[0].text and live(scripts[0]) and scripts[0].text.endswith("-->")
        assert not live(scripts[1]) and SIGNATURE in scripts[1].text


def test_every_split_of_a_small_capped_document_agrees() -> None:
    body = b"a" * 1200 + SIGNATURE.encode() + b"b" * 300
    document = b"<p>x</p><script>" + body + b"</script><p>y</p>"
    out = run_split(document, Recorder, max_buffer=800)
    assert out.count(CUT_SCRIPT) == 1 and out.endswith(b"</script><p>y</p>")


def test_strip_mode_drops_the_rest_of_the_body() -> None:
    body = filler(300 * 1024) + LOADER + filler(10_000, seed=3)
    document = b"<p>a</p><script>" + body + b"</script><p>b</p>"
    out = run_random_chunks(document, lambda: Recorder(Action.STRIP), seed=4, trials=2, largest=90_000)
    assert out == b"<p>a</p><script>" + body[:STRIDE] + CUT_SCRIPT + b"<p>b</p>"


def test_cut_in_double_escaped_state_follows_the_output() -> None:
    # "<!--<script>" makes the first "</script>" a mere state change in the input; the
    # inert element after the cut starts afresh, so it ends there and what follows is markup.
    body = (b"<!--<script>" + filler(300 * 1024) + LOADER + b"</script> late <img src=https://tracker.test/late.gif> -->")
    document = b"<script>" + body + b"</script><p>after</p>"
    out = run_random_chunks(document, Recorder, seed=5, trials=2, largest=80_000)
    scripts = elements(out, "script")
    assert live(scripts[0]) and SIGNATURE not in scripts[0].text
    assert all(not live(script) for script in scripts[1:])
    assert [img.get("src") for img in elements(out, "img")] == [None]
    assert b"<img data-consent-src=https://tracker.test/late.gif data-consent=" in out


def test_cut_in_escaped_state_ends_the_live_element() -> None:
    body = b"<!--" + filler(300 * 1024) + LOADER + b"-->"
    document = b"<script>" + body + b"</script><p>after</p>"
    out = run_random_chunks(document, Recorder, seed=6, trials=2, largest=80_000)
    scripts = elements(out, "script")
    assert [live(script) for script in scripts] == [True, False]
    assert [p.text for p in elements(out, "p")] == ["after"]


def test_style_import_after_the_first_window_is_not_live() -> None:
    body = css_filler(300 * 1024) + b"@import url(https://tracker.test/late.css);\n" + css_filler(5000)
    document = b"<style>" + body + b"</style><p>after</p>"
    out = run_random_chunks(document, Recorder, seed=7, trials=2, largest=60_000)
    styles = elements(out, "style")
    assert [live(style) for style in styles] == [True, False]
    assert "tracker.test" not in styles[0].text and styles[0].text.endswith('\n\n"')
    assert styles[1].get("data-consent-cut") == "marketing"
    # Chromium's preload scanner reads @import whatever the type: hidden in the inert part.
    assert "@import" not in styles[1].text and "@\\69mport url(https://tracker.test/late.css)" in styles[1].text
    assert out.startswith(b"<style>" + body[:STRIDE] + CUT_STYLE)


def test_deferred_long_style_hides_every_import_in_any_chunking() -> None:
    body = b"body{background:url(https://tracker.test/bg.png)}\n" + css_filler(3000) + b"@import 'x.css';" * 40
    document = b"<style>" + body + b"</style>"
    out = run_random_chunks(document, Recorder, seed=8, trials=5, largest=9, max_buffer=1000)
    assert out.count(b"@\\69mport") == 40 and b"@import" not in out
    assert out.startswith(b'<style type="text/plain" data-consent="marketing" data-consent-vendor="tracker-vendor">')


def test_body_that_only_starts_long_and_ends_inside_the_overlap() -> None:
    # The last window may lie wholly inside the previous one's overlap: judged all the same.
    cap = 1000
    body = b"z" * (cap + 10)
    document = b"<script>" + body + b"</script>"
    recorder = Recorder()
    assert run_split(document, Recorder, max_buffer=cap) == document
    run(document, recorder, max_buffer=cap)
    assert [element.text_offset for element in recorder.seen] == [0, cap - cap // 4]


def test_svg_script_longer_than_the_cap_does_not_run() -> None:
    # Its body is markup to the tokenizer and streams as such: judged on the first window
    # only, so a body that long is made inert (fail closed); a short one stays live.
    late = b"<svg><script>" + b"var a = 1;\n" * 200 + SIGNATURE.encode() + b")</script></svg><p>x</p>"
    out = run_random_chunks(late, Recorder, seed=12, trials=3, largest=300, max_buffer=1000)
    assert out.startswith(b'<svg><script type="text/plain" data-consent="unclassified">')
    short = b"<svg><script>var a = 1;</script></svg>"
    assert run(short, Recorder(), max_buffer=1000) == short
    svg_style = b"<svg><style>" + b".a{fill:red}\n" * 200 + b"</style></svg>"
    assert run(svg_style, Recorder(), max_buffer=1000).startswith(b'<svg><style type="text/plain" data-consent=')


def test_style_in_select_longer_than_the_cap_is_not_applied() -> None:
    # Read both ways there (raw text, or ignored with its body as markup): not windowed.
    document = b"<select><style>" + b".a{color:red}\n" * 200 + b"</style></select>"
    out = run_random_chunks(document, Recorder, seed=13, trials=3, largest=300, max_buffer=1000)
    assert out.startswith(b'<select><style type="text/plain" data-consent="unclassified">')
    short = b"<select><style>.a{color:red}</style></select>"
    assert run(short, Recorder(), max_buffer=1000) == short
