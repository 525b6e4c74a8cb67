"""Start tags kept byte for byte are remembered between documents (Engine.keep_memo):
a remembered keep must give exactly the output a fresh rewrite gives, and must never
carry over to a document where the same bytes could be decided differently."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from proxy.consent import ConsentState
from proxy.engine import Engine, Report
from proxy.policy import load_config

PAGES = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "pages"
NONE = ConsentState()
ALL = ConsentState(categories=frozenset({"necessary", "preferences", "analytics", "marketing"}), decided=True)
POLICY = """
[sites."shop.example"]
upstream = "http://127.0.0.1:9"
unknown_third_party = "marketing"

[[sites."shop.example".rules]]
category = "marketing"
host = "shop.example"
path_prefix = "/private/"
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    path = tmp_path_factory.mktemp("policy") / "site.toml"
    path.write_text(POLICY, encoding="utf-8")
    return Engine(load_config(path).sites["shop.example"])


def rewrite(engine: Engine, html: bytes, state: ConsentState = NONE, url: str = "https://shop.example/",
            *, memo: bool = True, chunk: int | None = None) -> tuple[bytes, Report]:
    report = Report()
    rewriter = engine.rewriter(state, base_url=url, report=report)
    if not memo:
        rewriter._keep_memos = None  # the reference: every tag decided afresh
    if chunk is None:
        return rewriter.feed(html) + rewriter.close(), report
    out = b"".join(rewriter.feed(html[i:i + chunk]) for i in range(0, len(html), chunk))
    return out + rewriter.close(), report


def test_a_repeated_page_is_rewritten_the_same_and_its_kept_tags_are_remembered(engine: Engine) -> None:
    page = b'<!doctype html><html><head></head><body><img src="/a.png" alt=a><img src="/b.png">' \
           b'<img src="https://www.facebook.com/tr?id=1"></body></html>'
    first, _ = rewrite(engine, page)
    memos = engine.keep_memos(NONE, "https://shop.example/", None)
    assert memos is not None
    memo = memos["windows-1252"]   # no charset declared
    assert b'<img src="/a.png" alt=a>' in memo
    assert not any(b"facebook" in tag for tag in memo)   # a vendor's tag is never remembered
    second, report = rewrite(engine, page)
    assert second == first
    assert [entry.vendor for entry in report.entries] == ["meta-pixel"]   # still reported every time


def test_a_path_relative_keep_does_not_carry_to_a_page_where_a_rule_refuses_it(engine: Engine) -> None:
    tag = b'<img src="pixel.gif">'
    kept, _ = rewrite(engine, tag, url="https://shop.example/shop/")
    assert kept == tag
    refused, report = rewrite(engine, tag, url="https://shop.example/private/")
    assert b"data-consent-src" in refused and report.entries
    # Root-relative URLs depend on the origin only: remembered for any path, still decided by rules.
    assert rewrite(engine, b'<img src="/private/p.gif">', url="https://shop.example/a/")[0] != b'<img src="/private/p.gif">'


def test_a_base_href_moves_the_keep_it_remembered(engine: Engine) -> None:
    tag = b'<img src="/p.gif">'
    assert rewrite(engine, tag)[0] == tag
    moved = b'<base href="https://tracker.example/"><img src="/p.gif">'
    out, report = rewrite(engine, moved)
    assert b'data-consent-src="/p.gif"' in out and report.entries   # an unknown third party now


def test_the_memo_is_per_consent_and_origin(engine: Engine) -> None:
    assert engine.keep_memos(NONE, "https://shop.example/a", None) is engine.keep_memos(NONE, "https://shop.example/b?x", None)
    assert engine.keep_memos(NONE, "https://shop.example/", None) is not engine.keep_memos(ALL, "https://shop.example/", None)
    assert engine.keep_memos(NONE, "https://shop.example/", None) is not engine.keep_memos(NONE, "http://shop.example/", None)
    assert engine.keep_memos(NONE, "https://shop.example/", None) is not engine.keep_memos(NONE, "https://shop.example/", "strip")
    other = ConsentState(vendors={"youtube-embed": True})
    assert engine.keep_memos(other, "https://shop.example/", None) is not engine.keep_memos(NONE, "https://shop.example/", None)


def test_a_remembered_tag_inside_noscript_or_template_is_still_treated_there(engine: Engine) -> None:
    tag = b'<img src="/p.gif" title="a</noscript>b">'
    assert rewrite(engine, tag)[0] == tag
    out, _ = rewrite(engine, b"<body><noscript>" + tag + b"</noscript>")
    assert b"a<\\/noscript>b" in out   # defused there, as without a memo


@pytest.mark.skipif(not PAGES.is_dir(), reason=f"the real pages are not beside the repository ({PAGES})")
def test_real_pages_rewritten_with_a_warm_memo_equal_a_fresh_rewrite(engine: Engine) -> None:
    pages = sorted(PAGES.glob("*.htm*"))
    assert pages
    rng = random.Random(7)
    for state in (NONE, ALL):
        for path in pages:
            page = path.read_bytes()
            url = f"https://shop.example/{path.stem}/index.html"
            reference, reference_report = rewrite(engine, page, state, url, memo=False)
            for _ in range(2):   # cold memo, then warm
                out, report = rewrite(engine, page, state, url, chunk=rng.choice([None, 1000, 65536]))
                assert out == reference, path.name
                assert [(e.vendor, e.offset) for e in report.entries] == [(e.vendor, e.offset) for e in reference_report.entries]


def test_a_remembered_tag_is_only_matched_whole(engine: Engine) -> None:
    quoted = b'<img alt="1 > 0" src="/a.png">'
    prefix = b'<img alt="1 >'
    assert rewrite(engine, quoted)[0] == quoted
    # The bytes up to the first ">" are no remembered tag: the tag is read whole, and what
    # follows the quote still counts.
    page = prefix + b'" src="https://www.facebook.com/tr?id=1">'
    out, report = rewrite(engine, page)
    assert b'data-consent-src="https://www.facebook.com/tr?id=1"' in out and report.entries
    # A remembered tag inside a comment or a raw-text element is not a tag there.
    assert rewrite(engine, b"<!--" + quoted + b"-->")[0] == b"<!--" + quoted + b"-->"
    assert rewrite(engine, b"<textarea>" + quoted + b"</textarea>")[0] == b"<textarea>" + quoted + b"</textarea>"
