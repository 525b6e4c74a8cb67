"""A replayed rewrite is the rewrite: the same bytes as a fresh rewriter gives, for pages
that come back the same and for pages that differ from the record anywhere (a byte
changed, inserted, cut short or extended), at any chunking on either side.

The references are fresh rewrites of the 36 real pages (../shared/realworld/pages) and
the bench's tracker page, by the engine, for a visitor without consent (many edits,
a nonce on kept scripts) and with full consent."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from proxy.consent import ConsentState
from proxy.engine import Engine, Report
from proxy.html.replay import (
    VOLATILE_AFTER,
    RecordingRewriter,
    ReplayCache,
    ReplayingRewriter,
    RewriteRecord,
    StreamingRewriter,
)
from proxy.policy import load_config

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT.parent / "shared" / "realworld" / "pages"
NONE = ConsentState()
ALL = ConsentState(categories=frozenset({"necessary", "preferences", "analytics", "marketing"}), decided=True)
URL = "https://shop.example/products/a?x=1"
INJECT = b'<script nonce="NONCE">window.__consentry_guard={"expires":"EXPIRES"}</script>'


def _expiry(rng: random.Random | None = None) -> str:
    """A visitor's consent expiry as the snippet carries it (proxy.web.model.expires_text)."""
    from proxy.web.model import expires_text
    return expires_text((rng or random).randrange(1_800_000_000, 1_900_000_000)) or ""


def _stamps(nonce: str | None, expires: str | None) -> tuple[bytes, ...]:
    return tuple(value.encode() for value in (nonce, expires) if value is not None)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    path = tmp_path_factory.mktemp("policy") / "site.toml"
    path.write_text('[sites."shop.example"]\nupstream = "http://127.0.0.1:9"\n', encoding="utf-8")
    return Engine(load_config(path).sites["shop.example"])


def pages() -> list[Path]:
    found = sorted(p for p in PAGES.glob("*") if p.is_file()) if PAGES.is_dir() else []
    if not found and __import__("os").environ.get("CI") == "true":
        raise AssertionError(f"the real pages are missing: {PAGES}")
    return found


def _factory(engine: Engine, state: ConsentState, nonce: str | None, report: Report,
             expires: str | None = None) -> Callable[[], StreamingRewriter]:
    def fresh() -> StreamingRewriter:
        inject = INJECT.replace(b"NONCE", nonce.encode()) if nonce else INJECT
        inject = inject.replace(b"EXPIRES", expires.encode()) if expires else inject
        return engine.rewriter(state, base_url=URL, report=report, nonce=nonce, inject=inject, fast_full_consent=True)
    return fresh


def _pieces(data: bytes, rng: random.Random) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        step = rng.choice([1, 7, 100, 1000, 4096, 16384, 65536])
        out.append(data[at:at + step])
        at += step
    return out


def _run(rewriter: StreamingRewriter, pieces: list[bytes]) -> bytes:
    return b"".join(rewriter.feed(p) for p in pieces) + rewriter.close()


def _fresh_rewrite(engine: Engine, state: ConsentState, page: bytes, nonce: str | None,
                   expires: str | None = None) -> tuple[bytes, Report, bytes | None]:
    report = Report()
    rewriter = _factory(engine, state, nonce, report, expires)()
    out = rewriter.feed(page) + rewriter.close()
    return out, report, rewriter.body_reopener()


def _record(engine: Engine, state: ConsentState, page: bytes, nonce: str | None, rng: random.Random,
            limit: int = 1 << 30, expires: str | None = None) -> tuple[RewriteRecord | None, bytes]:
    kept: list[RewriteRecord] = []
    report = Report()
    recording = RecordingRewriter(_factory(engine, state, nonce, report, expires)(), stamps=_stamps(nonce, expires), limit=limit,
                                  entries=report.entries, on_complete=kept.append, ask_reopener=True)
    out = _run(recording, _pieces(page, rng))
    return (kept[0] if kept else None), out


def _variants(page: bytes, rng: random.Random) -> list[bytes]:
    at = rng.randrange(len(page) + 1)
    return [
        page,
        page[:at] + b"X" + page[at + 1:],           # a byte changed
        page[:at] + b"<img src=https://www.facebook.com/tr?id=9>" + page[at:],   # a tracker inserted
        page[:at],                                   # cut short
        page + b"<script src=https://www.googletagmanager.com/gtag/js?id=G-1></script>",   # extended
    ]


def _sources() -> list[tuple[str, bytes]]:
    import sys
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_proxy import html_page   # the bench's 60 KB tracker page
    return [("bench", html_page(60 * 1024))] + [(p.name, p.read_bytes()) for p in pages()]


@pytest.mark.parametrize("state", [NONE, ALL], ids=["no-consent", "full-consent"])
def test_a_replay_gives_exactly_what_a_fresh_rewrite_gives(engine: Engine, state: ConsentState) -> None:
    rng = random.Random(20261207)
    sources = _sources()
    assert len(sources) > 30
    for name, page in sources:
        # Without consent: a nonce per response; with it: the visitor's expiry (another
        # visitor's each time), as the server's snippet stamps are.
        record_nonce = secrets.token_urlsafe(16) if state is NONE else None
        record_expires = _expiry(rng) if state is ALL else None
        record, recorded_out = _record(engine, state, page, record_nonce, rng, expires=record_expires)
        assert record is not None, name
        assert recorded_out == _fresh_rewrite(engine, state, page, record_nonce, record_expires)[0], \
            f"{name}: recording changed the output"
        for variant in _variants(page, rng):
            nonce = secrets.token_urlsafe(16) if state is NONE else None
            expires = _expiry(rng) if state is ALL else None
            expected, expected_report, expected_reopener = _fresh_rewrite(engine, state, variant, nonce, expires)
            report = Report()
            replay = ReplayingRewriter(record, _factory(engine, state, nonce, report, expires), stamps=_stamps(nonce, expires),
                                       entries=report.entries)
            got = _run(replay, _pieces(variant, rng))
            assert got == expected, f"{name}: replay of a {len(variant)}-byte variant differs"
            assert replay.diverged is (variant != page), name
            assert replay.body_reopener() == expected_reopener, name
            assert replay.encoding is not None
            assert [e.url for e in report.entries] == [e.url for e in expected_report.entries], name


def test_a_replay_writes_its_own_stamps_everywhere_the_record_had_them(engine: Engine) -> None:
    page = b'<!doctype html><html><head><script src="/app.js"></script></head><body><script>go()</script></body></html>'
    rng = random.Random(1)
    first, second = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    first_expires, second_expires = "2027-01-02T03:04:05+00:00", "2027-11-12T13:14:15+00:00"
    record, out = _record(engine, NONE, page, first, rng, expires=first_expires)
    assert record is not None and out.count(first.encode()) == 3      # the snippet and both kept scripts
    assert out.count(first_expires.encode()) == 1
    report = Report()
    replay = ReplayingRewriter(record, _factory(engine, NONE, second, report, second_expires),
                               stamps=_stamps(second, second_expires), entries=report.entries)
    got = _run(replay, [page])
    assert first.encode() not in got and got.count(second.encode()) == 3
    assert first_expires.encode() not in got and got.count(second_expires.encode()) == 1
    assert got == _fresh_rewrite(engine, NONE, page, second, second_expires)[0]


def test_a_page_holding_one_of_its_stamps_is_not_recorded(engine: Engine) -> None:
    nonce = secrets.token_urlsafe(16)
    record, _ = _record(engine, NONE, f"<p>{nonce}</p>".encode(), nonce, random.Random(2))
    assert record is None
    expires = "2027-01-02T03:04:05+00:00"
    record, _ = _record(engine, ALL, f"<p>until {expires}</p>".encode(), None, random.Random(2), expires=expires)
    assert record is None
    record, _ = _record(engine, ALL, b"<p>until 2027</p>", None, random.Random(2), expires=expires)
    assert record is not None


def test_recording_stops_past_its_limit_and_keeps_nothing(engine: Engine) -> None:
    page = b"<p>" + b"a" * 50_000 + b"</p>"
    record, out = _record(engine, NONE, page, None, random.Random(3), limit=10_000)
    assert record is None and out == _fresh_rewrite(engine, NONE, page, None)[0]


def _record_of(size: int, diverged: int = 0) -> RewriteRecord:
    return RewriteRecord(input=b"i" * size, output=b"o" * size, fed=[size], emitted=[size], encoding="utf-8",
                         reopener=None, asked_reopener=False, entries=(), stamps=(), diverged=diverged)


def test_the_cache_stays_within_its_bytes_and_forgets_the_least_recently_used() -> None:
    cache = ReplayCache(max_bytes=64_000)
    for key in range(10):
        cache.store(key, _record_of(3000))
    assert cache.size <= 64_000
    assert cache.lookup(0) is None and isinstance(cache.lookup(9), RewriteRecord)
    cache.lookup(3)                       # used: kept over the others
    for key in range(10, 14):
        cache.store(key, _record_of(3000))
    assert isinstance(cache.lookup(3), RewriteRecord)
    cache.store("big", _record_of(5000))  # over an eighth of the budget: not kept
    assert cache.lookup("big") is None and cache.size <= 64_000


def test_a_page_that_keeps_changing_is_not_recorded_for_a_while() -> None:
    cache = ReplayCache(max_bytes=1 << 20)
    cache.store("page", _record_of(100, diverged=VOLATILE_AFTER))
    assert cache.lookup("page") is None and cache.volatile("page")
