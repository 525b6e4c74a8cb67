"""The engine changes only what must change: granular URL refusals, script bodies it ignores."""

from __future__ import annotations

from test_engine import ALL, NONE, rewrite

FB = "https://www.facebook.com/tr?id=1"


def test_one_tracker_candidate_leaves_the_image_working() -> None:
    out, report = rewrite(f'<img src="/a.png" srcset="/a2.png 2x, {FB} 3x">'.encode(), NONE)
    assert out.startswith(b'<img src="/a.png" srcset="/a2.png 2x" data-consent-srcset="/a2.png 2x, ')
    assert b'data-consent="marketing"' in out and b"data-consent-partial" in out
    assert [entry.action for entry in report.entries] == ["defer"]


def test_tracker_poster_goes_first_party_video_stays() -> None:
    out, _ = rewrite(f'<video src="/v.mp4" poster="{FB}"></video>'.encode(), NONE)
    assert b'<video src="/v.mp4" data-consent-poster=' in out


def test_tracker_ping_goes_first_party_ping_stays() -> None:
    out, _ = rewrite(f'<a href="/" ping="/count {FB}">x</a>'.encode(), NONE)
    assert b' ping="/count" data-consent-ping="/count ' in out


def test_strip_mode_drops_only_the_candidate() -> None:
    out, _ = rewrite(f'<img src="/a.png" srcset="/a2.png 2x, {FB} 3x">'.encode(), NONE, mode="strip")
    assert out == b'<img src="/a.png" srcset="/a2.png 2x">'


def test_full_consent_changes_nothing() -> None:
    source = f'<img src="/a.png" srcset="/a2.png 2x, {FB} 3x"><a href="/" ping="/c {FB}">x</a>'.encode()
    assert rewrite(source, ALL)[0] == source


def test_body_of_a_script_with_src_is_not_classified() -> None:
    # Browsers never run the body of a classic <script src>: it cannot load a tracker.
    source = b"<script src=\"/app.js\">fbq('init', '1'); fbq('track', 'PageView');</script>"
    out, report = rewrite(source, NONE)
    assert out == source and report.entries == []
