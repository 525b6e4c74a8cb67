"""``proxy.html.tags.quick_attributes`` remembers decoded attributes per tag bytes; a
caller changing what it got must not change what the next caller gets."""

from __future__ import annotations

from proxy.html import tags


def test_each_caller_gets_its_own_attributes() -> None:
    raw = b'<img src="/a.jpg" alt="x&amp;y">'
    first, closing = tags.quick_attributes(raw, 4, "utf-8")
    assert first == {"src": "/a.jpg", "alt": "x&y"} and not closing
    first["src"] = "changed"
    again, _ = tags.quick_attributes(raw, 4, "utf-8")
    assert again == {"src": "/a.jpg", "alt": "x&y"}


def test_long_tags_are_decoded_but_not_remembered() -> None:
    tags._QUICK.clear()
    raw = b'<img src="data:image/png;base64,' + b"A" * (tags._QUICK_LENGTH + 1) + b'">'
    decoded, _ = tags.quick_attributes(raw, 4, "utf-8")
    assert decoded["src"].startswith("data:image/png;base64,AAA")
    assert not tags._QUICK
