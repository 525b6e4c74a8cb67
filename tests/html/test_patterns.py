"""The fast-path pattern: its positive name tries stop exactly where the look-aheads did.

``patterns.SKIP`` writes "a tag name that is not interesting" and "an attribute name
that does not start with an interesting word" as tries instead of negative look-aheads
(for speed). These tests compare both forms on the real pages, on glued broken pages and
on random markup made from the interesting words, from many start positions.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from proxy.html import patterns as P
from proxy.html.fetch import INTERESTING_TAGS, TEXT_STATE_TAGS

PAGES_DIR = Path(__file__).resolve().parents[3] / "shared" / "realworld" / "pages"
PAGES = sorted(PAGES_DIR.glob("*.html")) if PAGES_DIR.is_dir() else []
REFERENCE = P.lookahead_skip()


def _stops(pattern: P.re.Pattern[bytes], data: bytes, starts: list[int]) -> list[int]:
    found = []
    for start in starts:
        match = pattern.match(data, start)
        assert match is not None
        found.append(match.end())
    return found


@pytest.mark.skipif(not PAGES, reason=f"real-world pages not found at {PAGES_DIR}")
def test_same_stops_on_the_real_pages() -> None:
    for page in PAGES:
        data = page.read_bytes()
        starts = list(range(0, len(data), 97)) + [i for i, byte in enumerate(data) if byte == 0x3C][:3000]
        assert _stops(P.SKIP, data, starts) == _stops(REFERENCE, data, starts), page.name


def _random_markup(generator: random.Random) -> bytes:
    words = sorted(INTERESTING_TAGS | TEXT_STATE_TAGS) + P.ATTR_WORDS + P.END_WORDS + P.MARK_WORDS
    pieces = []
    for _ in range(generator.randint(1, 30)):
        word = generator.choice(words + ["div", "p", "a", "span", "on", "o", "st", "x"])
        cut = word[:generator.randint(1, len(word))] if generator.random() < 0.3 else word
        cut = "".join(c.upper() if generator.random() < 0.2 else c for c in cut)
        if generator.random() < 0.3:
            cut += generator.choice(["x", "-", "1", "\x00", "é"])
        pieces.append(generator.choice(["<", "</", " ", "=", '"', "'", "/", ">", "<!--", "-->", "\t", ""]) + cut)
    return "".join(pieces).encode("utf-8")


def test_same_stops_on_random_markup() -> None:
    seed = random.randrange(10**6)
    print(f"seed={seed}")
    generator = random.Random(seed)
    for _ in range(4000):
        data = _random_markup(generator)
        starts = list(range(len(data)))
        assert _stops(P.SKIP, data, starts) == _stops(REFERENCE, data, starts), (seed, data)


def test_positive_tries_are_what_the_look_aheads_say() -> None:
    names = P.re.compile(b"(?:" + P.none_of(sorted(INTERESTING_TAGS), first=P._LETTERS, excluded=P._WS + "/>")
                         + b")(?=[\t\n\f\r />])")
    for word in sorted(INTERESTING_TAGS):
        for variant in (word, word.upper(), word + "x", word[:-1], "x" + word):
            interesting = variant.lower() in INTERESTING_TAGS
            assert (names.match(variant.encode() + b" ") is None) == interesting, variant
    attributes = P.re.compile(b"(?:" + P.not_starting_with(P.ATTR_WORDS, first_excluded=P._WS + "/>",
                                                             excluded=P._WS + "/>=") + b")(?=[\t\n\f\r />=])")
    for word in P.ATTR_WORDS:
        for variant in (word, word.upper(), word + "x", word[:-1], "x" + word):
            interesting = any(variant.lower().startswith(w) for w in P.ATTR_WORDS)
            assert (attributes.match(variant.encode() + b"=") is None) == interesting, variant
