"""Shared helpers for the proxy.html tests: decide functions and whole/split runners.

Every scanner test runs its input whole and split (STYLE.md habit 5): split at every
offset for small inputs, and byte by byte, asserting identical output each time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from proxy.html import KEEP, Action, Decision, Element, Rewriter

TRACKER_HOST = "tracker.test"
SIGNATURE = "trackerSignature("


def is_tracker_url(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host == TRACKER_HOST or host.endswith("." + TRACKER_HOST)


class Recorder:
    """A decide function: tracker.test URLs are marketing, SIGNATURE in code is analytics."""

    def __init__(self, refused: Action = Action.DEFER, *, extra: tuple[tuple[str, str], ...] = (),
                 activate: bool = False) -> None:
        self.refused = refused
        self.extra = extra
        self.activate = activate
        self.seen: list[Element] = []

    def __call__(self, element: Element) -> Decision:
        self.seen.append(element)
        if self.activate and ("data-consent" in element.attrs or "data-category" in element.attrs):
            return Decision(Action.ACTIVATE, element.attrs.get("data-consent") or element.attrs.get("data-category"),
                            extra_attrs=self.extra)
        if any(is_tracker_url(url.url) for url in element.urls):
            return Decision(self.refused, "marketing", "tracker-vendor")
        if element.text and SIGNATURE in element.text:
            return Decision(self.refused, "analytics")
        return Decision(Action.KEEP, extra_attrs=self.extra) if self.extra else KEEP

    def tags(self) -> list[str]:
        return [element.tag for element in self.seen]


def keep_all(element: Element) -> Decision:
    return KEEP


def run(data: bytes, decide: Callable[[Element], Decision], chunks: Iterable[int] | None = None, **options) -> bytes:
    rewriter = Rewriter(decide, **options)
    if chunks is None:
        return rewriter.feed(data) + rewriter.close()
    out, position = [], 0
    for size in chunks:
        out.append(rewriter.feed(data[position:position + size]))
        position += size
    out.append(rewriter.feed(data[position:]))
    out.append(rewriter.close())
    return b"".join(out)


def run_split(data: bytes, make_decide: Callable[[], Callable[[Element], Decision]], **options) -> bytes:
    """Output for the whole input, asserting every two-way split and byte-by-byte agree."""
    whole = run(data, make_decide(), **options)
    for offset in range(1, len(data)):
        assert run(data, make_decide(), [offset], **options) == whole, f"split at {offset} differs"
    assert run(data, make_decide(), [1] * len(data), **options) == whole, "byte-by-byte differs"
    return whole


def run_random_chunks(data: bytes, make_decide: Callable[[], Callable[[Element], Decision]], *, seed: int,
                      trials: int = 3, largest: int = 4096, **options) -> bytes:
    whole = run(data, make_decide(), **options)
    generator = random.Random(seed)
    for trial in range(trials):
        sizes = []
        remaining = len(data)
        while remaining > 0:
            size = generator.randint(1, largest)
            sizes.append(size)
            remaining -= size
        assert run(data, make_decide(), sizes, **options) == whole, f"seed {seed} trial {trial} differs"
    return whole


def live_tracker_urls(out: bytes) -> list[str]:
    """Tracker URLs our own scanner still finds fetchable in ``out`` (a second pass)."""
    seen = Recorder(Action.KEEP)
    run(out, seen, encoding="utf-8")
    return [u.url for element in seen.seen for u in element.urls if is_tracker_url(u.url)]
