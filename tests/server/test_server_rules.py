"""The pure parts of the proxy: header rules and streaming content codings, without sockets."""

from __future__ import annotations

import gzip
import os
import random
import zlib

import brotli
import pytest
import zstandard
from multidict import CIMultiDict

from proxy.server import headers as h
from proxy.response.codings import _STEP, CodingError, DecodeChain, EncodeChain, parse_codings


def test_hop_by_hop_and_connection_named_fields_go():
    headers = CIMultiDict([("Connection", "close, X-A"), ("Connection", "x-b"), ("X-A", "1"), ("X-B", "2"),
                           ("Keep-Alive", "5"), ("Upgrade", "h2c"), ("X-C", "3"), ("TE", "trailers")])
    assert list(h.without_hop_by_hop(headers).items()) == [("X-C", "3")]


def test_client_view_walks_the_forwarded_chain_right_to_left():
    trusted = h.parse_networks(["10.0.0.0/8", "127.0.0.1"])
    headers = CIMultiDict({"X-Forwarded-For": "198.51.100.7, 203.0.113.5, 10.1.1.1", "X-Forwarded-Proto": "https"})
    view = h.client_view("127.0.0.1", headers, "http", "shop.example", trusted)
    assert (view.ip, view.proto, view.via_trusted) == ("203.0.113.5", "https", True)
    untrusted = h.client_view("192.0.2.1", headers, "http", "shop.example", trusted)
    assert (untrusted.ip, untrusted.proto, untrusted.via_trusted) == ("192.0.2.1", "http", False)
    odd = h.client_view("127.0.0.1", CIMultiDict({"X-Forwarded-Proto": "gopher"}), "http", "h", trusted)
    assert odd.proto == "http"


def test_forwarded_quotes_ipv6():
    out: CIMultiDict[str] = CIMultiDict()
    view = h.ClientView("::1", "http", "h", False)
    h.set_forwarding(out, CIMultiDict(), "::1", view)
    assert out["Forwarded"] == 'for="[::1]";host="h";proto=http'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://up:8000/a?b#c", "https://shop.example/a?b#c"),
        ("HTTP://UP:8000", "https://shop.example"),
        ("http://up:80001/x", "http://up:80001/x"),      # another port that merely starts the same
        ("http://up:8000.evil/x", "http://up:8000.evil/x"),
        ("/relative", "/relative"),
    ],
)
def test_rewrite_url_only_touches_the_upstream_origin(value, expected):
    assert h.rewrite_url(value, "http://up:8000", "https://shop.example") == expected


def test_refresh_and_cookie_domain():
    assert h.rewrite_refresh("0;URL='http://up:8000/x'", "http://up:8000", "https://s") == "0;URL='https://s/x'"
    assert h.rewrite_cookie_domain("a=1; Domain=.UP; Path=/", "up", "shop.example") == "a=1; Domain=shop.example; Path=/"
    assert h.rewrite_cookie_domain("a=1; domain=other", "up", "shop.example") == "a=1; domain=other"


def test_cookie_header_filtering():
    assert h.filter_cookie_header("_ga=1; sid=2;_fbp=3", lambda n: n.startswith("_")) == "sid=2"
    assert h.filter_cookie_header("_ga=1", lambda n: True) is None


def test_consent_etag_round_trip_keeps_strength():
    strong = h.consent_etag('"abc"', "s1")
    weak = h.consent_etag('W/"abc"', "s1")
    assert strong == 'W/"abc.cs-s1"' and weak == 'W/"abc.cw-s1"'
    assert h.upstream_if_none_match(f"{strong}, {weak}", "s1") == ('"abc", W/"abc"', True)
    # Made for another consent state: never sent upstream, so no 304 for the wrong copy.
    assert h.upstream_if_none_match(strong, "other") == (None, False)
    assert h.upstream_if_none_match('"theirs"', "s1") == ('"theirs"', False)
    assert h.upstream_if_none_match("*", "s1") == ("*", False)


def test_vary_accept_encoding_and_nonce():
    assert h.merge_vary(["Accept-Encoding, cookie"], ["Cookie", "Sec-GPC"]) == "Accept-Encoding, cookie, Sec-GPC"
    assert h.filter_accept_encoding("gzip;q=1, sdch, zstd, identity", ("gzip", "zstd")) == "gzip;q=1, zstd, identity"
    assert h.filter_accept_encoding("sdch", ("gzip",)) is None
    assert h.csp_nonce("default-src 'nonce-A'; script-src 'self' 'nonce-B'") == "B"
    assert h.csp_nonce("default-src 'self' 'nonce-A'") == "A"
    assert h.csp_nonce("script-src 'self'; default-src 'nonce-A'") is None
    from proxy.response.mime import extract_mime_type
    from proxy.response.plan import document_for

    assert extract_mime_type(['text/html; Charset="ISO-8859-1"']).charset == "ISO-8859-1"
    assert document_for(extract_mime_type(["application/xhtml+xml; charset=utf-8"])) == ("html", False)
    assert document_for(extract_mime_type(["text/plain"])) == (None, False)


def _reference(data: bytes, coding: str) -> bytes:
    return {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress,
            "zstd": zstandard.ZstdCompressor().compress}[coding](data)


def _decode_in_pieces(chain: DecodeChain, data: bytes, sizes: list[int]) -> bytes:
    out, offset = [], 0
    for size in sizes:
        out.extend(chain.decode(data[offset : offset + size]))
        offset += size
    out.extend(chain.decode(data[offset:]))
    out.extend(chain.flush())
    return b"".join(out)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_decoding_at_every_split_point(coding):
    data = b"<p>hello consent</p>" * 20
    encoded = _reference(data, coding)
    for cut in range(len(encoded) + 1):
        assert _decode_in_pieces(DecodeChain([coding]), encoded, [cut]) == data, cut


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_random_chunking_round_trip(coding):
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    data = os.urandom(3000) + b"abc" * 200_000
    encoder = EncodeChain([coding])
    encoded = b"".join(encoder.encode(data[i : i + 7919]) for i in range(0, len(data), 7919)) + encoder.finish()
    assert DecodeChain([coding]).decode  # noqa: B018 - the object exists before use
    sizes = [rng.randint(1, 5000) for _ in range(len(encoded) // 2500)]
    assert _decode_in_pieces(DecodeChain([coding]), encoded, sizes) == data, f"seed {seed}"


def test_decoded_pieces_are_capped_against_bombs():
    bomb = gzip.compress(b"\0" * (20 * _STEP))
    pieces = list(DecodeChain(["gzip"]).decode(bomb))
    assert max(map(len, pieces)) <= _STEP
    assert sum(map(len, pieces)) == 20 * _STEP


def test_multi_member_gzip_raw_deflate_and_concatenated_zstd():
    assert _decode_in_pieces(DecodeChain(["gzip"]), gzip.compress(b"a") + gzip.compress(b"b"), []) == b"ab"
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert _decode_in_pieces(DecodeChain(["deflate"]), raw.compress(b"raw") + raw.flush(), []) == b"raw"
    frames = zstandard.ZstdCompressor().compress(b"one") + zstandard.ZstdCompressor().compress(b"two")
    assert _decode_in_pieces(DecodeChain(["zstd"]), frames, [5]) == b"onetwo"


def test_chained_codings_and_errors():
    assert parse_codings("gzip, identity, br") == ["gzip", "br"]
    data = b"x" * 1000
    encoded = brotli.compress(gzip.compress(data))
    assert _decode_in_pieces(DecodeChain(["gzip", "br"]), encoded, [10]) == data
    with pytest.raises(CodingError):
        DecodeChain(["compress"])
    with pytest.raises(CodingError):
        list(DecodeChain(["gzip"]).decode(b"definitely not gzip"))
