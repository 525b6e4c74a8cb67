"""The engine judges every window of a script or style body longer than the scanner's cap.

A tracker loader placed after the first 256 KiB of an inline script (or an ``@import`` deep
in a big ``<style>``) used to stay live: only the first window was judged.
"""

from __future__ import annotations

import html5lib

from test_engine import ALL, NONE, rewrite

FILLER_LINE = b"window.app%d = function (x) { return x + %d; };\n"
PIXEL = (b"!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?"
         b"n.callMethod.apply(n,arguments):n.queue.push(arguments)};if(!f._fbq)f._fbq=n;"
         b"n.push=n;n.loaded=!0;n.version='2.0';n.queue=[];t=b.createElement(e);t.async=!0;"
         b"t.src=v;s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}(window,"
         b"document,'script','https://connect.facebook.net/en_US/fbevents.js');fbq('init','1');\n")


def filler(size: int) -> bytes:
    out, index, total = [], 0, 0
    while total < size:
        piece = FILLER_LINE % (index, index)
        out.append(piece)
        total += len(piece)
        index += 1
    return b"".join(out)


def scripts(out: bytes) -> list:
    return list(html5lib.parse(out, namespaceHTMLElements=False, transport_encoding="utf-8").iter("script"))


def test_pixel_after_the_first_window_is_not_live() -> None:
    source = b"<script>" + filler(300 * 1024) + PIXEL + filler(50_000) + b"</script><p>after</p>"
    out, report = rewrite(source, NONE)
    found = scripts(out)
    assert [script.get("type") for script in found] == [None, "text/plain"]
    assert "facebook" not in found[0].text and found[0].text.endswith("\n\\\n-->")
    assert found[1].get("data-consent-cut") == "marketing" and found[1].get("data-consent-vendor") == "meta-pixel"
    assert "connect.facebook.net" in found[1].text
    assert [(entry.action, entry.vendor) for entry in report.entries] == [("defer", "meta-pixel")]
    assert out.endswith(b"</script><p>after</p>")


def test_strip_mode_drops_the_late_pixel() -> None:
    source = b"<script>" + filler(300 * 1024) + PIXEL + b"</script><p>after</p>"
    out, _ = rewrite(source, NONE, mode="strip")
    assert b"facebook" not in out and out.endswith(b"\n\\\n--></script><p>after</p>")


def test_full_consent_and_first_party_megabytes_stay_byte_identical() -> None:
    with_pixel = b"<script>" + filler(300 * 1024) + PIXEL + b"</script>"
    assert rewrite(with_pixel, ALL)[0] == with_pixel
    first_party = b"<!doctype html><script>" + filler(1024 * 1024) + b"</script><p>x</p>"
    out, report = rewrite(first_party, NONE)
    assert out == first_party and report.entries == []


def test_late_import_in_a_big_style_is_not_live() -> None:
    rules = b"".join(b".r%d{color:#%03d}\n" % (index, index % 1000) for index in range(30_000))
    source = b"<style>" + rules + b"@import url(https://connect.facebook.net/x.css);</style>"
    assert len(rules) > 300 * 1024
    out, _ = rewrite(source, NONE)
    live, inert = out.split(b"</style>", 1)
    assert b"facebook" not in live and b'<style type="text/plain" data-consent-cut="marketing"' in inert
    assert b"@\\69mport url(https://connect.facebook.net/x.css)" in inert


def test_bodies_that_never_run_are_not_cut() -> None:
    for start in (b'<script src="/app.js">', b'<script type="application/json">'):
        source = start + filler(300 * 1024) + PIXEL + b"</script>"
        assert rewrite(source, NONE)[0] == source
