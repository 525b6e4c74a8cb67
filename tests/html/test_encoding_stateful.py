"""ISO-2022-JP: kanji bytes can spell "<!--" or a quote; the scanner must read characters.

A browser decodes the document first, so two-byte JIS X 0208 characters never start a
comment or end an attribute value; a byte-level scan would be fooled into hiding the tag
that follows. The rewriter transcodes such documents (as it does UTF-16) unless the
caller keeps everything, when the bytes pass through untouched.
"""

from __future__ import annotations

import codecs

from html_helpers import Recorder, keep_all, run, run_split

# "<!" and "--" as JIS X 0208 byte pairs (a valid kanji and an invalid pair), then a real tag.
HIDING = b'<meta charset=iso-2022-jp><p>\x1b$B<!--\x1b(B<img src=https://tracker.test/x.gif>\x1b$B%F\x1b(B</p>'


def test_kanji_bytes_do_not_open_a_comment() -> None:
    recorder = Recorder()
    out = run(HIDING, recorder)
    assert [element.tag for element in recorder.seen] == ["img"]
    assert b"<img data-consent-src=https://tracker.test/x.gif" in out
    assert run_split(HIDING, Recorder) == out
    # What a browser reads: the tag is there once, inert.
    text = codecs.decode(out, "iso2022_jp", "replace")
    assert "<img data-consent-src=https://tracker.test/x.gif" in text and " src=" not in text


def test_kanji_byte_that_looks_like_a_quote_does_not_end_the_value() -> None:
    # 0x2422 is a hiragana whose second byte is '"': inside alt it must not end the value.
    document = b'<meta charset=iso-2022-jp><img alt="\x1b$B$"\x1b(B src=https://tracker.test/y.gif">'
    recorder = Recorder()
    run(document, recorder)
    assert [url.url for element in recorder.seen for url in element.urls] == []


def test_valid_document_round_trips_and_full_consent_is_byte_identical() -> None:
    document = '<meta charset=iso-2022-jp><title>日本語</title><p>テキスト "<img src=/x.png>"</p>'.encode("iso2022_jp")
    assert run(document, keep_all) == document
    assert run(HIDING, keep_all, defuse_ambiguous=False) == HIDING


def test_http_charset_label_is_honoured() -> None:
    recorder = Recorder()
    run(HIDING.replace(b"<meta charset=iso-2022-jp>", b""), recorder, encoding="ISO-2022-JP")
    assert [element.tag for element in recorder.seen] == ["img"]


def test_jis_1978_designation_comes_back_as_it_was() -> None:
    # ESC $ @ and ESC $ B both designate JIS X 0208 to a browser; the bytes outside the
    # edit stay the document's own, in every chunking.
    body = '<title>日本語</title><p>テキスト</p><img src=https://tracker.test/z.gif><p>終わり</p>'
    document = b"<meta charset=iso-2022-jp>" + body.encode("iso2022_jp").replace(b"\x1b$B", b"\x1b$@")
    assert document.count(b"\x1b$@") == 3
    out = run_split(document, Recorder)
    edited = b"<img data-consent-src=https://tracker.test/z.gif"
    assert edited in out and b"\x1b$B" not in out
    before, after = document.split(b"<img src=https://tracker.test/z.gif", 1)
    assert out.startswith(before) and out.endswith(after[after.index(b">"):])
