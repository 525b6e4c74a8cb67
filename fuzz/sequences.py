"""Sequences of the tags that make browsers read markup two ways, judged by html5lib.

Coverage-guided fuzzing of the html target (``fuzz.run``) reaches the places where the
same bytes have two readings (SVG that an HTML end tag may or may not have closed, a
``<select>`` older parsers do not enter SVG in, a ``<noscript>`` a scripting browser reads
as raw text, CDATA at an integration point...) only rarely: its fourth run stopped there
twice in 3 hours. This search builds pages from those tags directly: a prefix that opens a
second reading, up to ``--tokens`` tags that change a tokenizer's or tree builder's state,
then a tracker. Each page is rewritten with the tracker refused and must leave nothing
live to html5lib (the judge of the html target, ``fuzz.targets._html5lib_check``) nor to a
second pass of our own scanner. It found 195 forms of that family in 150 s before their
fixes (docs/security.md, fourth run). Run::

    python -m fuzz.sequences --seconds 600 --tokens 6 --seed 1

It prints each failing page (at most one per prefix and tag sequence) and exits 1 if any.
With ``--parse5`` a second judge, parse5 (the current standard's tree builder), looks at
every page too (``fuzz/second_judge.py``).
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from collections.abc import Iterator

PREFIXES = (
    b"", b"<svg></noscript>", b"<svg></div>", b"<math></noscript>", b"<svg><foreignObject></div>",
    b"<math><mi></div>", b"<svg><desc></span>", b"<select><svg></noscript>", b"<noscript><svg></div>",
    b"<noscript><svg>", b"<noscript><math><mi>", b"<select><math>", b"<noscript><select><svg>",
    b"<svg><foreignObject>", b"<math><annotation-xml encoding=text/html>", b"<noscript>", b"<select>",
    b"<template>", b"<svg>", b"<math>", b"<table>", b"<svg><title>", b"<math><mtext>", b"<noscript><select>",
    b"<template><svg>", b"<math><mi><mglyph>", b"<math><mo>",
)
TAGS = (
    b"<title>", b"<e>", b"<![CDATA[>", b"<![CDATA[", b"]]>", b"<plaintext>", b"<style>", b"<script>",
    b"<textarea>", b"<xmp>", b"<iframe>", b"<noembed>", b"<noframes>", b"<noscript>", b"</noscript>",
    b"<template>", b"</template>", b"<select>", b"</select>", b"<mi>", b"<mtext>", b"<desc>", b"<foreignObject>",
    b"<annotation-xml encoding=text/html>", b"</svg>", b"</title>", b"<!-->", b"<!--", b"-->", b"<svg>", b"<math>",
    b"<p>", b"</p>", b"<table>", b"<font color=1>", b"</div>", b"<a>", b"<image>", b"</style>", b"</script>",
    b"<option>", b"<frameset>", b"<body>", b"<br>", b"</br>", b"<object>", b"<embed>", b"<frame>", b"<caption>",
    b"<td>", b"<tr>", b"<colgroup>", b"<col>", b"<?x>", b"<!doctype html>", b"</noscript >", b"<noscript/>",
    b'<a title="</noscript>">', b'<a title="<!--">', b"<a title='-->'>", b"<style>/*</style>*/", b"<script><!--",
    b"<script><!--<script>", b"</textarea>", b"</xmp>", b"</iframe>", b"</noembed>", b"</noframes>",
    b"</plaintext>", b"<optgroup>", b"<input>", b"<keygen>", b"<hr>", b"<html>", b"<head>", b"</head>",
    b"</body>", b"</html>", b"</math>", b"</foreignObject>", b"</desc>", b"</mi>", b"</annotation-xml>",
    b"<svg/>", b"<math/>", b"<title/>", b"<style/>", b"<script/>", b"<textarea/>", b"<listing>", b"<pre>",
    b"<form>", b"</form>", b"<button>", b"<div>", b"<span>", b"<font face=x>", b"<image src=x>", b"<li>",
    b"</li>", b"<dd>", b"<mglyph>", b"<malignmark>", b"</mglyph>", b"<mo>", b"<mn>", b"<ms>", b"<h1>",
    b"<foreignobject>", b"<SVG>", b"<ANNOTATION-XML ENCODING=TEXT/HTML>",
    b"<annotation-xml encoding='application/xhtml+xml'>", b"<input type=hidden>", b"<font size=1>",
    b'<annotation-xml encoding=" text/html">',
)
TRACKERS = (
    b'<img src="//tracker.test/p.gif">',
    b'<image href="//tracker.test/i.svg">',
    b'<script src="https://tracker.test/t.js"></script>',
    b'<link rel=preload as=script href="https://tracker.test/x.js">',
    b'<iframe src="https://tracker.test/f"></iframe>',
)


def refused(page: bytes) -> bytes:
    """The rewrite of ``page`` with its trackers refused."""
    from fuzz.targets import _decide_factory, _rewrite

    return _rewrite(page, _decide_factory())


def problem(page: bytes) -> str | None:
    """What is wrong with the rewrite of ``page`` (trackers refused), or None."""
    from fuzz.targets import _html5lib_check, _is_tracker, _rewrite

    try:
        out = refused(page)
        _html5lib_check(out)
        live: list[str] = []

        def second(element: object) -> object:
            from proxy.html import KEEP

            attrs = getattr(element, "attrs", {})
            if getattr(element, "tag", "") in ("script", "style") and attrs.get("type", "").strip().lower() == "text/plain":
                return KEEP
            live.extend(u.url for u in getattr(element, "urls", ()) if _is_tracker(u.url))
            return KEEP

        _rewrite(out, second)
        if live:
            return f"our second pass sees {live[0]} live"
    except AssertionError as exc:
        return str(exc)
    return None


def random_pages(rng: random.Random, tokens: int) -> Iterator[tuple[tuple[bytes, bytes], bytes]]:
    while True:
        prefix = rng.choice(PREFIXES)
        middle = b"".join(rng.choice(TAGS) for _ in range(rng.randint(1, tokens)))
        yield (prefix, middle), prefix + middle + rng.choice(TRACKERS)


def every_page(tokens: int, prefixes: tuple[bytes, ...] = PREFIXES,
               tags: tuple[bytes, ...] = TAGS) -> Iterator[tuple[tuple[bytes, bytes], bytes]]:
    for prefix in prefixes:
        for sequence in itertools.product(tags, repeat=tokens):
            middle = b"".join(sequence)
            for tracker in TRACKERS:
                yield (prefix, middle), prefix + middle + tracker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--tokens", type=int, default=5, help="at most this many tags between prefix and tracker")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parse5", action="store_true", help="also judge with parse5 (fuzz/second_judge.py)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.seconds
    found: dict[tuple[bytes, bytes], str] = {}
    checked = 0
    judge = None
    if args.parse5:
        from fuzz.second_judge import Parse5Judge

        judge = Parse5Judge()
    waiting: list[tuple[tuple[bytes, bytes], bytes]] = []   # pages for parse5, asked in batches

    def report(key: tuple[bytes, bytes], page: bytes, wrong: str) -> None:
        if key not in found:
            found[key] = wrong
            sys.stdout.write(f"{page!r}: {wrong}\n")
            sys.stdout.flush()

    def ask_parse5() -> None:
        assert judge is not None
        for (key, page), live in zip(waiting, judge.live(refused(page) for _, page in waiting), strict=True):
            if live:
                report(key, page, f"parse5 sees a live {live[0]}")
        waiting.clear()

    for key, page in random_pages(rng, args.tokens):
        if time.monotonic() > deadline:
            break
        checked += 1
        wrong = problem(page)
        if wrong:
            report(key, page, wrong)
        elif judge is not None:
            waiting.append((key, page))
            if len(waiting) == 64:
                ask_parse5()
    if judge is not None:
        if waiting:
            ask_parse5()
        judge.close()
    sys.stderr.write(f"checked {checked} pages, {len(found)} failing\n")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
