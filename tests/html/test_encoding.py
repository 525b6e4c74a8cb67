"""Encodings: caller's, BOM, <meta> prescan, windows-1252 default, multibyte and UTF-16."""

from __future__ import annotations

import codecs

import pytest

from html_helpers import Recorder, keep_all, run, run_split
from proxy.html import Rewriter


def test_caller_encoding_wins_over_meta() -> None:
    rewriter = Rewriter(keep_all, encoding="ISO-8859-2")
    rewriter.feed(b'<meta charset="utf-8"><p>x')
    rewriter.close()
    assert rewriter.encoding == "iso-8859-2"


@pytest.mark.parametrize("declaration,expected", [
    (b'<meta charset="windows-1256">', "windows-1256"),
    (b"<meta charset=shift_jis>", "shift-jis"),
    (b'<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=ISO-8859-1">', "windows-1252"),
    (b'<meta content="text/html;charset=euc-jp" http-equiv=content-type>', "euc-jp"),
    (b"<meta charset=utf-16>", "utf-8"),
    (b"<!-- <meta charset=koi8-r> --><meta charset=gbk>", "gbk"),
    (b"<p>no declaration", "windows-1252"),
    (b'<meta charset="no-such-charset">', "windows-1252"),
])
def test_meta_prescan(declaration: bytes, expected: str) -> None:
    rewriter = Rewriter(keep_all)
    document = b"<!doctype html><head>" + declaration + b"</head>" + b"x" * 2000
    out = rewriter.feed(document[:500]) + rewriter.feed(document[500:]) + rewriter.close()
    assert out == document
    assert rewriter.encoding == expected


def test_meta_after_1024_bytes_is_ignored() -> None:
    rewriter = Rewriter(keep_all)
    rewriter.feed(b"<!--" + b"x" * 1100 + b"--><meta charset=utf-8>")
    rewriter.close()
    assert rewriter.encoding == "windows-1252"


def test_utf8_bom() -> None:
    recorder = Recorder()
    document = codecs.BOM_UTF8 + '<img src="https://tracker.test/ü.gif" alt="ä">'.encode()
    out = run_split(document, lambda: recorder)
    assert out.startswith(codecs.BOM_UTF8 + b"<img data-consent-src=")
    assert recorder.seen[0].attrs["alt"] == "ä"
    assert recorder.seen[0].offset == 3


def test_windows_1252_attribute_values_decode() -> None:
    recorder = Recorder()
    run_split(b'<img src="/caf\xe9.png" alt="\x80">', lambda: recorder, encoding="windows-1252")
    assert recorder.seen[0].attrs == {"src": "/caf\xe9.png", "alt": "\u20ac"}


def test_shift_jis_trail_bytes_do_not_confuse_the_scanner() -> None:
    # "ソ" is 0x83 0x5C in Shift_JIS: its trail byte is a backslash.
    text = '<p title="ソ表">ソ</p><img src="https://tracker.test/p.gif" alt="表">'
    document = text.encode("shift_jis")
    recorder = Recorder()
    out = run_split(document, lambda: recorder, encoding="shift_jis")
    assert recorder.seen[0].attrs["alt"] == "表"
    assert out.decode("shift_jis").startswith('<p title="ソ表">ソ</p><img data-consent-src=')


def test_new_values_are_written_in_the_document_encoding() -> None:
    def decide(element):
        from proxy.html import Action, Decision
        return Decision(Action.DEFER, "märketing")
    out = run(b"<img src=/a>", decide, encoding="windows-1252")
    assert out == b'<img data-consent-src=/a data-consent="m\xe4rketing">'


@pytest.mark.parametrize("codec,bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE)])
def test_utf16_with_bom_is_transcoded_and_back(codec: str, bom: bytes) -> None:
    text = '<p>grüße \ud83d\ude00</p><img src="https://tracker.test/p.gif"><img src="/ok.png">'
    document = bom + text.encode(codec, errors="surrogatepass")
    recorder = Recorder()
    out = run_split(document, lambda: recorder)
    assert out.startswith(bom)
    decoded = out[len(bom):].decode(codec)
    assert decoded.startswith("<p>grüße \U0001F600</p><img data-consent-src=")
    assert decoded.endswith('<img src="/ok.png">')


def test_utf16_unchanged_is_byte_identical_even_with_lone_surrogate_and_odd_tail() -> None:
    document = codecs.BOM_UTF16_LE + "<p>\udc00x</p>".encode("utf-16-le", errors="surrogatepass") + b"\x00"
    assert run_split(document, lambda: keep_all) == document


def test_utf16_from_caller_without_bom() -> None:
    document = '<script src="https://tracker.test/a.js"></script>'.encode("utf-16-le")
    out = run(document, Recorder(), encoding="utf-16le")
    assert b"d\x00a\x00t\x00a\x00-\x00c\x00o\x00n\x00s\x00e\x00n\x00t\x00-\x00s\x00r\x00c\x00" in out


def test_inject_is_written_in_the_document_encoding() -> None:
    banner = "<p>Zustimmung für Cookies</p>".encode()
    out = run(b"<head><meta charset=windows-1252></head>", keep_all, inject=banner)
    assert out == b"<head><p>Zustimmung f\xfcr Cookies</p><meta charset=windows-1252></head>"
    utf16 = run(codecs.BOM_UTF16_LE + "<head></head>".encode("utf-16-le"), keep_all, inject=banner)
    assert utf16[2:].decode("utf-16-le") == "<head><p>Zustimmung für Cookies</p></head>"
