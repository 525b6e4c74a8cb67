"""The second judge, parse5 (the current HTML standard's tree builder, fuzz/second_judge.py):
nothing the rewriter refused is live in its tree either, on the two-readings forms, the
search's pages and the html target's seeds. It found a form html5lib 1.1 missed (a
breakout tag in a MathML <mo>, tests/html/test_reading_union.py)."""

from __future__ import annotations

import itertools
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def judge() -> Iterator[Any]:
    from fuzz.second_judge import Parse5Judge, unavailable

    reason = unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"CI must provide the parse5 judge: {reason}")
        pytest.skip(reason)
    with Parse5Judge() as running:
        yield running


def _forms() -> list[bytes]:
    sys.path.insert(0, str(ROOT / "tests" / "html"))
    from test_reading_union import FORMS

    return list(FORMS)


def test_parse5_sees_the_two_readings_forms_live_as_written_and_none_after_the_rewrite(judge: Any) -> None:
    from fuzz.sequences import refused

    forms = _forms()
    # (parse5 builds a few of them as only one of the readings does.)
    assert sum(map(bool, judge.live(forms))) >= len(forms) * 2 // 3, "the forms load their trackers as written"
    assert judge.live(refused(form) for form in forms) == [[] for _ in forms]


def test_pages_built_from_the_tags_that_make_two_readings_leave_nothing_live_for_parse5(judge: Any) -> None:
    from fuzz.sequences import every_page, random_pages, refused

    pages = [page for _, page in every_page(1)]
    pages += [page for _, page in itertools.islice(random_pages(random.Random(20261207), 5), 1500)]
    verdicts = judge.live(refused(page) for page in pages)
    failing = [(page, live) for page, live in zip(pages, verdicts, strict=True) if live]
    assert failing == [], failing[:5]


def test_the_html_targets_seeds_leave_nothing_live_for_parse5(judge: Any) -> None:
    from fuzz.sequences import PREFIXES, refused
    from fuzz.targets import _PLANTS

    pages = []
    for seed in sorted((ROOT / "fuzz" / "corpus" / "html").iterdir()):
        data = seed.read_bytes()
        if not data:
            continue
        body = data[1:]   # the page the html target builds: a tracker planted in the middle
        page = body[:len(body) // 2] + _PLANTS[data[0] % len(_PLANTS)] + body[len(body) // 2:]
        pages.append(PREFIXES[data[0] % len(PREFIXES)] + page if data[0] >= 0xC0 else page)
    assert len(pages) > 100
    verdicts = judge.live(refused(page) for page in pages)
    assert [page for page, live in zip(pages, verdicts, strict=True) if live] == []


def test_parse5_catches_a_scanner_that_forgets_a_reading(judge: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the doubt about foreign content, parse5 sees trackers live at once: the judge
    # can fail.
    from fuzz.sequences import every_page, refused
    from proxy.html import scanner

    close = scanner.Scanner._close_contexts

    def forgets_the_doubt(self: Any, name: str) -> None:
        close(self, name)
        self._foreign_doubt = False

    monkeypatch.setattr(scanner.Scanner, "_close_contexts", forgets_the_doubt)
    pages = [page for _, page in every_page(1, prefixes=(b"<svg></noscript>",), tags=(b"<plaintext>", b"<title>"))]
    assert any(judge.live(refused(page) for page in pages))


def test_the_judge_reads_bytes_as_browsers_decode_them() -> None:
    from fuzz.second_judge import browser_text

    assert browser_text(b"\xff\xfe<\x00p\x00>\x00") == "<p>"                  # a UTF-16LE mark
    assert browser_text(b'<meta charset="utf-8"><p>\xc3\xa9') == '<meta charset="utf-8"><p>\u00e9'
    assert browser_text(b"<p>\xe9") == "<p>\u00e9"                             # windows-1252 by default
    assert browser_text(b'<meta charset="utf-16"><p>\xc3\xa9').endswith("\u00e9")   # a meta cannot ask for UTF-16


def test_the_html_target_asks_parse5_too(judge: Any) -> None:
    # Every 64th input of the html fuzz target is judged by html5lib and by parse5.
    from fuzz import targets

    with pytest.raises(AssertionError, match="parse5 sees a live"):
        targets._parse5_check(b'<math><mi><mglyph><textarea/><h1><img src="//tracker.test/p.gif">')
    targets._parse5_check(b'<img data-consent-src="//tracker.test/p.gif">')
