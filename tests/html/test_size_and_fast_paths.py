"""Cost that stays linear whatever the size, and the full-consent fast path (``keeps_all``).

Linearity is asserted on work counted by the rewriter (bytes rescanned because a token
was incomplete), never on time. The fast path must give byte-for-byte the output of the
full scan for a caller that keeps everything but author-marked markup.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from html_helpers import Recorder, run, run_random_chunks
from proxy.html import Rewriter

PAGES_DIR = Path(__file__).resolve().parents[3] / "shared" / "realworld" / "pages"
PAGES = sorted(PAGES_DIR.glob("*.html")) if PAGES_DIR.is_dir() else []


def _fed(data: bytes, chunk: int, **options: object) -> tuple[bytes, Rewriter]:
    rewriter = Rewriter(Recorder(), encoding="utf-8", **options)  # type: ignore[arg-type]
    out = b"".join(rewriter.feed(data[i:i + chunk]) for i in range(0, len(data), chunk)) + rewriter.close()
    return out, rewriter


@pytest.mark.parametrize("document", [
    pytest.param(b'<p>a</p><img alt="x" src="data:image/png;base64,' + b"A" * 200_000 + b'"><p>after</p>', id="200 KB data URI"),
    pytest.param(b"<div " + b" ".join(b"a%d=1" % i for i in range(20_000)) + b">x</div>", id="2e4 attributes"),
    pytest.param(b'<div style="' + b"color:red;" * 20_000 + b'">x</div>', id="200 KB style"),
    pytest.param(b"<!--" + b"x" * 200_000 + b"-->x", id="200 KB comment"),
])
def test_incomplete_tokens_are_not_rescanned_per_chunk(document: bytes) -> None:
    # Fed 256 bytes at a time a token of this size was scanned again on every feed
    # (hundreds of times its length); now each byte is looked at a bounded number of times.
    out, rewriter = _fed(document, 256)
    assert out == document
    assert rewriter.rescanned <= 4 * len(document)
    whole, _ = _fed(document, len(document))
    assert whole == out


def test_work_grows_linearly_with_the_tag() -> None:
    def work(count: int) -> tuple[int, int]:
        document = b"<div " + b" ".join(b"a%d=1" % i for i in range(count)) + b">x</div>"
        return len(document), _fed(document, 512)[1].rescanned

    (small_size, small), (large_size, large) = work(2_000), work(20_000)
    # Quadratic rescanning would make the ratio about 11 times larger than the sizes'.
    assert large / small <= 2 * large_size / small_size


@pytest.mark.skipif(not PAGES, reason=f"real-world pages not found at {PAGES_DIR}")
@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_keeps_all_fast_path_gives_the_full_scans_output(page: Path) -> None:
    data = page.read_bytes()
    # Author-marked markup is activated, everything else kept: what the engine's decide
    # does under full consent without a nonce.
    full = run(data, Recorder(activate=True), encoding="windows-1252", inject=b"<script>/*ours*/</script>")
    seed = random.randrange(10**6)
    print(f"seed={seed}")
    fast = run_random_chunks(data, lambda: Recorder(activate=True), seed=seed, trials=1, encoding="windows-1252",
                             inject=b"<script>/*ours*/</script>", keeps_all=True)
    assert fast == full


def test_keeps_all_still_activates_author_marked_markup_and_tracks_raw_text() -> None:
    document = (b"<html><head><title><img data-consent=x></title></head><body>"
                b'<script type="text/plain" data-consent="analytics" src="/a.js"></script>'
                b"<textarea><div data-consent=y></textarea><img src=/i.png></body>")
    fast = run(document, Recorder(activate=True), encoding="utf-8", keeps_all=True)
    assert fast == run(document, Recorder(activate=True), encoding="utf-8")
    assert b'<script src="/a.js"' in fast or b"<script  src" in fast or b'type="text/plain"' not in fast
    assert b"<img data-consent=x>" in fast and b"<div data-consent=y>" in fast


def test_keeps_all_does_not_look_at_tags_that_cannot_change() -> None:
    document = b"<p>" + b'<img src="/i.png"><a href=/x ping=/p>x</a><div style="background:url(/b.png)">' * 50
    recorder, fast = Recorder(), Recorder()
    assert run(document, recorder, encoding="utf-8") == run(document, fast, encoding="utf-8", keeps_all=True)
    assert len(recorder.seen) == 150 and fast.seen == []
