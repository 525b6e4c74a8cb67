"""A ``</noscript`` defused inside a body that is also read as SVG markup.

Found by fuzzing (the html target, 2026-12-07 13:2x, seed
``fuzz/corpus/html/regression-noscript-defuse-exposes-svg``; minimised to
``<svg></noscript><noscript><style></noscript <k href=//tracker.test>``). After
``<svg></noscript>`` the tree may still be in SVG, so a ``<style>`` body inside the
``<noscript>`` is read both as raw text and as SVG markup. In the markup reading,
``</noscript <image href=...>`` is one end tag (``<image`` and ``href`` are its
attributes) and nothing fetches. The rewriter defuses that ``</noscript`` to
``<\\/noscript`` (so a scripting browser does not end the noscript there) and read the body
as markup *before* the defusing: the edit turned the end tag into text and what was inside
it into a live SVG ``<image>``, which Chromium 156 fetched (with JavaScript on and off)
from a page that fetched nothing before the rewrite. A fail-open made by our own edit.
The markup reading now reads the defused bytes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from html_helpers import Recorder, keep_all, live_tracker_urls, run, run_split
from test_browser import _requests, _require_chromium, _tracker_test

from fuzz.targets import _PLANTS, TARGETS, _decide_factory, _html5lib_check, _rewrite
from proxy.html import Action

SEED = Path(__file__).resolve().parents[2] / "fuzz" / "corpus" / "html" / "regression-noscript-defuse-exposes-svg"

# Before the fix, the rewritten form of the first two fetched the tracker in Chromium.
PAGES = [
    b'<svg></noscript><noscript><style></noscript <image href="https://tracker.test/a.png">',
    b'<svg></noscript><noscript><style></noscript <image href="https://tracker.test/b.png"></style></svg>',
    b'<svg></noscript><noscript><style></noscript <k href=//tracker.test>',                 # the fuzzer's form
    b'<svg></noscript><noscript><script></noscript <image href="https://tracker.test/c.png"></script>',
    b'<svg></div><noscript><style>x</noscript/<use href="https://tracker.test/u.svg#a">',
    b'<noscript><select><style></noscript <img src="https://tracker.test/d.png">',
]


@pytest.mark.parametrize("page", PAGES, ids=range(len(PAGES)))
@pytest.mark.parametrize("mode", [Action.DEFER, Action.STRIP])
def test_what_the_defusing_exposes_is_read_as_markup(page: bytes, mode: Action) -> None:
    out = run_split(page, lambda: Recorder(mode), encoding="utf-8")
    assert b"<\\/noscript" in out            # the scripting reading still cannot end the noscript there
    assert live_tracker_urls(out) == []            # and no element the edit exposed fetches
    assert run_split(page, lambda: keep_all, encoding="utf-8", defuse_ambiguous=False) == page


def test_the_fuzzer_input_holds_every_invariant() -> None:
    data = SEED.read_bytes()
    TARGETS["html"](data)
    body = data[1:]
    page = body[:len(body) // 2] + _PLANTS[data[0] % len(_PLANTS)] + body[len(body) // 2:]
    _html5lib_check(_rewrite(page, _decide_factory()))


@pytest.mark.browser
def test_chromium_fetches_nothing_before_or_after_the_rewrite() -> None:
    _require_chromium()
    documents = [b"<!doctype html><body>" + page for page in PAGES]
    for javascript in (True, False):
        before = _requests(documents, javascript=javascript, refused=_tracker_test)
        assert before == [[] for _ in documents], before     # the input itself fetches nothing
        after = _requests([run(d, Recorder(Action.DEFER), encoding="utf-8") for d in documents],
                          javascript=javascript, refused=_tracker_test)
        assert after == [[] for _ in documents], [(p, a) for p, a in zip(PAGES, after) if a]
