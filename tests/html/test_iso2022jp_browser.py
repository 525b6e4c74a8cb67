"""ISO-2022-JP as Chromium decodes it, Katakana state (ESC ( I) and the NEC/IBM rows of
WHATWG's JIS X 0208 index included: our decoder must
read the same characters (markup a browser sees is markup we see), and the rewriter must
write the document's kana back as the same bytes."""

from __future__ import annotations

import random
from typing import Any

import pytest

from chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium
from html_helpers import Recorder, run, run_split
from proxy.html.encoding import ISO2022JPDecoder, ISO2022JPEncoder

PAGE = "https://shop.test/jis"
KANJI = "日本語のテキスト".encode("iso2022_jp")[:-3]   # ESC $ B ..., without returning to ASCII
SAMPLES = [
    b"\x1b(I1234\x1b(B abc",                                # kana, back to ASCII
    b"\x1b$B$3$s\x1b(I56\x1b$B$K\x1b(B.",                     # kanji, kana, kanji
    b"\x1b(I<SCRIPT SRC=X>\x1b(B!",                           # markup bytes as kana
    b"\x1b(Iabc\x7e\x1b(B.",                                 # bytes outside 0x21-0x5F in kana
    b"\x1b(I12\x1b$A34\x1b(B.",                              # an unknown escape inside kana
    b"\x1b(I\x1b(I12\x1b(J\\~\x1b(B.",                         # repeated escape, then Roman
    KANJI + b"\x1b(I\x1b(B.",                                # kanji straight to kana, an empty run
    b"\x1b$B\x2d\x21\x2d\x35\x2d\x62\x79\x21\x7c\x7e\x2e\x21\x75\x21\x1b(B.",  # NEC/IBM rows, gaps
]


def ours(data: bytes) -> str:
    return ISO2022JPDecoder("replace").decode(data, final=True)


def chromium_reads(documents: list[bytes]) -> list[str]:
    from playwright.sync_api import sync_playwright

    texts: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page()
            for document in documents:
                def handle(route: Any, request: Any, document: bytes = document) -> None:
                    route.fulfill(status=200, body=b"<pre>" + document + b"</pre>",
                                  headers={"content-type": "text/plain; charset=iso-2022-jp"})
                page.route("**/*", handle)
                page.goto(PAGE, wait_until="load", timeout=10_000)
                texts.append(page.evaluate("document.body.innerText"))
                page.unroute("**/*")
        finally:
            browser.close()
    return texts


def test_we_decode_iso_2022_jp_as_chromium_does() -> None:
    require_chromium()
    read = chromium_reads(SAMPLES)
    for sample, text in zip(SAMPLES, read, strict=True):
        # Served as text/plain, so the browser shows every character it decoded; ours must
        # agree, except that WHATWG also reports two escapes in a row as U+FFFD.
        assert ("<pre>" + ours(sample) + "</pre>").replace("\ufffd", "") == text.replace("\ufffd", ""), sample


def test_kana_survive_a_rewrite_byte_for_byte_in_every_split() -> None:
    body = (b"<p>" + KANJI + b"\x1b(I1234\x1b(B</p><img src=https://tracker.test/k.gif><p>\x1b(I56\x1b(B</p>"
            b"<p>\x1b$B0!\x2d\x21\x79\x210!\x1b(B</p>")   # NEC and IBM rows among kanji
    document = b"<meta charset=iso-2022-jp>" + body
    out = run_split(document, Recorder)
    assert b"data-consent-src=https://tracker.test/k.gif" in out
    before, after = document.split(b"<img src=https://tracker.test/k.gif", 1)
    assert out.startswith(before) and out.endswith(after[after.index(b">"):])


def test_kana_bytes_that_spell_markup_are_not_markup() -> None:
    recorder = Recorder()
    run(b"<meta charset=iso-2022-jp><p>\x1b(I<IMG SRC=HTTP://TRACKER.TEST/X.GIF>\x1b(B</p>", recorder)
    assert recorder.seen == []


def test_decoder_and_encoder_are_the_same_in_any_split() -> None:
    rng = random.Random(2022)
    for sample in SAMPLES:
        whole = ours(sample)
        for cut in range(len(sample) + 1):
            decoder = ISO2022JPDecoder("replace")
            assert decoder.decode(sample[:cut]) + decoder.decode(sample[cut:], final=True) == whole
        encoded = ISO2022JPEncoder("xmlcharrefreplace").encode(whole, final=True)
        assert ours(encoded) == whole.replace("\ufffd", "&#65533;")   # an error is written as a reference
        cut = rng.randrange(len(whole) + 1)
        encoder = ISO2022JPEncoder("xmlcharrefreplace")
        assert encoder.encode(whole[:cut]) + encoder.encode(whole[cut:], final=True) == encoded


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
