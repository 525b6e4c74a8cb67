"""Throughput of proxy.html's Rewriter, side by side with lol-html driven by Python handlers.

Run on demand (never part of the test suite):

    .venv/bin/python bench/bench_html.py [--rounds N] [--cpu K] [--skip-200] [--skip-memory] [--skip-bs4]

Inputs: 15-caktus (~65 KB), 06-breitbart (~850 KB), a ~6 MB concatenation of the real pages
in ../shared/realworld/pages, and generated tracker-heavy pages of 20 MB and 200 MB (fed in
64 KB chunks, as a proxy would). Contenders, one feed()+close() pass each:

* ``copy``        bytes copy of the input (the ceiling),
* ``consentry``   proxy.html.Rewriter deferring a list of tracker hosts and inline signatures,
* ``full``        the same rewriter as the engine builds it under full consent (keeps_all),
* ``seen``        ``consentry`` with the kept start tags remembered across rounds, as the
                  engine remembers them across requests (the page seen before),
* ``lol-html``    python-lolhtml doing the same rewrite through element/text handlers,
* ``html.parser`` / ``bs4`` on the real pages only (the stdlib tokenizer; BeautifulSoup).

Contenders are interleaved round by round on one pinned core (``--cpu``, default the last
one); each figure is the best round in MB/s of process CPU time, so other load on a shared
machine matters less (it still matters: say so when you quote figures). It prints the
ratios the speed issue asks for (consentry / lol-html >= 1.0, stretch 1.5), checks that our
output is identical for several chunk sizes, and measures the peak RSS growth from 20 MB
to 200 MB fed in 64 KB chunks in a fresh interpreter (target < 32 MB).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from proxy.html import KEEP, Action, Decision, Element, Rewriter  # noqa: E402
from proxy.html.scanner import KeepMemo  # noqa: E402

PAGES = ROOT.parent / "shared" / "realworld" / "pages"
TRACKER_HOSTS = ("google-analytics.com", "googletagmanager.com", "doubleclick.net", "googlesyndication.com",
                 "facebook.net", "facebook.com", "hotjar.com", "clarity.ms", "linkedin.com", "licdn.com",
                 "twitter.com", "yandex.ru", "addthis.com", "sharethis.com", "disqus.com", "youtube.com",
                 "vimeo.com", "scorecardresearch.com", "quantserve.com", "chartbeat.com")
SIGNATURES = ("_gaq", "gtag(", "fbq(", "urchinTracker", "yaCounter", "ga('create'", "_paq", "googletagmanager")
FETCH_ATTRIBUTES = ("src", "srcset", "href", "data", "poster", "ping", "data-src", "background", "imagesrcset")
ELEMENTS = ("script", "iframe", "img", "source", "embed", "video", "audio", "track", "object", "link", "a",
            "area", "frame", "input")
# lol-html gets the narrowest selectors that do the same work (a link fetches only by ping),
# so that its handlers run no more often than they must.
LOL_SELECTORS = ", ".join(name for name in ELEMENTS if name not in ("a", "area")) + ", a[ping], area[ping]"


_REFUSED: dict[str, bool] = {}


def refused_url(url: str) -> bool:
    found = _REFUSED.get(url)
    if found is None:
        try:
            host = (urlsplit(url).hostname or "") if "//" in url else ""
        except ValueError:
            host = ""
        found = _REFUSED[url] = any(host == h or host.endswith("." + h) for h in TRACKER_HOSTS)
    return found


def refused_text(text: str) -> bool:
    return any(signature in text for signature in SIGNATURES)


def decide(element: Element) -> Decision:
    for url in element.urls:
        if refused_url(url.url):
            return Decision(Action.DEFER, "marketing")
    if element.text and refused_text(element.text):
        return Decision(Action.DEFER, "analytics")
    return KEEP


# ---------------------------------------------------------------- contenders

def run_copy(data: bytes) -> bytes:
    return bytes(bytearray(data))


class _NullParser(HTMLParser):
    pass


def run_html_parser(data: bytes) -> bytes:
    parser = _NullParser(convert_charrefs=False)
    parser.feed(data.decode("utf-8", errors="replace"))
    parser.close()
    return b""


def run_consentry(data: bytes, chunk: int = 65536, keeps_all: bool = False) -> bytes:
    rewriter = Rewriter(decide, encoding="utf-8", keeps_all=keeps_all)
    feed = rewriter.feed
    parts = [feed(data[i:i + chunk]) for i in range(0, len(data), chunk)]
    parts.append(rewriter.close())
    return b"".join(parts)


def run_full_consent(data: bytes) -> bytes:
    return run_consentry(data, keeps_all=True)


_SEEN_MEMOS: dict[str, KeepMemo] = {}
_REPEATABLE_KEEP = Decision(Action.KEEP, repeatable=True)


def decide_repeatable(element: Element) -> Decision:
    decision = decide(element)
    return _REPEATABLE_KEEP if decision is KEEP else decision


def run_seen_before(data: bytes, chunk: int = 65536) -> bytes:
    """The same rewrite with start tags kept before remembered (Engine.keep_memos): from
    the second round on, the page has been seen (a memo holds up to 4,096 tags, so a
    page with more distinct kept tags than that gains little)."""
    rewriter = Rewriter(decide_repeatable, encoding="utf-8", base_url="https://bench.example/", keep_memos=_SEEN_MEMOS)
    feed = rewriter.feed
    parts = [feed(data[i:i + chunk]) for i in range(0, len(data), chunk)]
    parts.append(rewriter.close())
    return b"".join(parts)


def run_lolhtml(data: bytes) -> bytes:
    import lolhtml

    out: list[bytes] = []

    class Handler:
        def element(self, element) -> None:  # noqa: ANN001 - lolhtml's own type
            for name in FETCH_ATTRIBUTES:
                value = element.get_attribute(name)
                if value and (name != "href" or element.tag_name != "a") and refused_url(value.split()[0]):
                    element.set_attribute("data-consent-" + name, value)
                    element.remove_attribute(name)
                    element.set_attribute("data-consent", "marketing")
                    if element.tag_name == "script":
                        element.set_attribute("type", "text/plain")

        def text(self, chunk) -> None:  # noqa: ANN001
            if refused_text(chunk.text):
                pass  # a real port would buffer the script; the look is what costs

    class StyleHandler:
        def element(self, element) -> None:  # noqa: ANN001
            if "url(" in (element.get_attribute("style") or ""):
                element.get_attribute("style")

    class StyleBlockHandler:
        def text(self, chunk) -> None:  # noqa: ANN001 - look at <style> text as we do
            text = chunk.text
            position = text.find("url(")
            while position >= 0:
                refused_url(text[position + 4:position + 80].strip("'\" "))
                position = text.find("url(", position + 4)

    rewriter = lolhtml.HTMLRewriter(out.append)
    handler = Handler()
    rewriter.on(LOL_SELECTORS, handler)
    rewriter.on("[style]", StyleHandler())
    rewriter.on("style", StyleBlockHandler())
    rewriter.on("[background], [data-src]", handler)
    for start in range(0, len(data), 65536):
        rewriter.write(data[start:start + 65536])
    rewriter.end()
    return b"".join(out)


def run_bs4(data: bytes) -> bytes:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for element in soup.find_all(ELEMENTS):
        for name in FETCH_ATTRIBUTES:
            value = element.get(name)
            if isinstance(value, list):
                value = " ".join(value)
            if value and (name != "href" or element.name != "a") and refused_url(value.split()[0]):
                element["data-consent-" + name] = value
                del element[name]
                element["data-consent"] = "marketing"
        if element.name == "script" and element.string and refused_text(element.string):
            element["type"] = "text/plain"
    return str(soup).encode("utf-8")


# ---------------------------------------------------------------- measuring

def load_inputs() -> list[tuple[str, bytes]]:
    small = (PAGES / "15-caktus-django-blog.html").read_bytes()
    medium = (PAGES / "06-breitbart-article-850k.html").read_bytes()
    # Everything re-encoded to UTF-8 so one rewriter reads the whole concatenation.
    texts = []
    for page in sorted(PAGES.glob("*.html")):
        raw = page.read_bytes()
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(raw.decode("windows-1252", errors="replace"))
    big = "".join(texts).encode("utf-8")
    while len(big) < 6_000_000:
        big += big[: 6_000_000 - len(big)]
    return [(f"caktus {len(small) // 1000} KB", small), (f"breitbart {len(medium) // 1000} KB", medium),
            (f"concat {len(big) / 1e6:.1f} MB", big)]


# The page shape the project has used for its 200 MB memory test since before this bench:
# mostly prose and links, a tracker pixel, an inline tracker call, a comment and a style
# block per ~4 KB.
UNIT = (b'<div class="post"><h2>Title</h2><p>Lorem ipsum <a href="/x">dolor</a> sit amet.</p>' * 40
        + b'<img src="https://www.google-analytics.com/p.gif"><script>gtag("x")</script>'
        + b'<!-- c --><style>p{color:red}</style></div>\n')
# A denser, harder shape: six elements to decide per ~1 KB (thumbnails, a tracker pixel,
# an inline tracker call, a first-party script, a style block with url(), a video embed).
DENSE_UNIT = (b'<div class="post"><h2>Title</h2><p>Lorem ipsum <a href="/x">dolor</a> sit amet, <b>consectetur</b>'
              b' adipiscing.</p><img src="/thumb.jpg" alt="t" width=80><ul><li><a href="/a">a</a><li><a href="/b">b</a>'
              b'</ul>' + b'<p class="text">Sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>' * 6
              + b'<img src="https://www.google-analytics.com/collect?v=1&amp;t=pageview">'
              b'<script>gtag("event", "view")</script><script src="/app.js"></script>'
              b'<!-- c --><style>p{color:red;background:url(/bg.png)}</style>'
              b'<iframe src="https://www.youtube.com/embed/x"></iframe></div>\n')


def generated(size: int, unit: bytes = UNIT) -> bytes:
    return (b"<!doctype html><html><head><title>t</title></head><body>\n"
            + unit * (size // len(unit) + 1))[:size] + b"</body></html>"


def check_chunking(data: bytes) -> list[int]:
    whole = run_consentry(data, chunk=len(data))
    sizes = (1, 7, 64, 1000, 4096, 65536)
    return [size for size in sizes if (size > 1 or len(data) < 200_000) and (size > 64 or len(data) < 2_000_000)
            and run_consentry(data, size) != whole]


MEMORY_PROGRAM = r"""
import sys, resource
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/bench")
from bench_html import decide, UNIT
from proxy.html import Rewriter

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

block = UNIT * (65536 // len(UNIT) + 1)
rewriter = Rewriter(decide, encoding="utf-8")
fed = out = 0
at_20 = 0
while fed < 200 * 1000 * 1000:
    for start in range(0, len(block), 65536):
        piece = block[start:start + 65536]
        out += len(rewriter.feed(piece))
        fed += len(piece)
    if not at_20 and fed >= 20 * 1000 * 1000:
        at_20 = hwm()
out += len(rewriter.close())
print(fed, out, at_20, hwm())
"""


def measure_memory() -> tuple[int, int, int, int]:
    result = subprocess.run([sys.executable, "-c", MEMORY_PROGRAM, str(ROOT)], capture_output=True, text=True,
                            timeout=1800, check=True)
    fed, out, at_20, at_200 = (int(x) for x in result.stdout.split())
    return fed, out, at_20, at_200


def pin(cpu: int | None) -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    cpus = sorted(os.sched_getaffinity(0))
    chosen = cpus[-1] if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})
    return f"pinned to cpu {chosen} of {len(cpus)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--skip-200", action="store_true", help="leave out the 200 MB generated page")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-bs4", action="store_true")
    options = parser.parse_args()
    print(pin(options.cpu), f"load average {os.getloadavg()[0]:.1f}", flush=True)

    inputs = load_inputs() + [("generated 20 MB", generated(20_000_000)),
                              ("dense 20 MB", generated(20_000_000, DENSE_UNIT))]
    if not options.skip_200:
        inputs.append(("generated 200 MB", generated(200_000_000)))
    contenders: list[tuple[str, Callable[[bytes], bytes]]] = [
        ("copy", run_copy), ("consentry", run_consentry), ("full", run_full_consent), ("seen", run_seen_before),
        ("lol-html", run_lolhtml)]
    small_only: list[tuple[str, Callable[[bytes], bytes]]] = [("html.parser", run_html_parser)]
    if not options.skip_bs4:
        small_only.append(("bs4", run_bs4))
    rates: dict[tuple[str, str], float] = {}
    for _ in range(options.rounds):  # interleaved: every contender once per round, per input
        for label, data in inputs:
            for name, function in contenders + (small_only if len(data) < 10_000_000 else []):
                if name == "bs4" and (label, name) in rates:
                    continue  # slow; once is enough
                started = time.process_time()
                function(data)
                rate = len(data) / max(time.process_time() - started, 1e-9) / 1e6
                rates[(label, name)] = max(rates.get((label, name), 0.0), rate)
    names = [name for name, _ in contenders + small_only]
    print(f"{'input':<20}" + "".join(f"{name:>13}" for name in names)
          + f"{'/lol-html':>11}{'full/lol':>10}{'seen/lol':>10}  chunking")
    for label, data in inputs:
        row = f"{label:<20}" + "".join(f"{rates[(label, n)]:>8.1f} MB/s" if (label, n) in rates else f"{'-':>13}"
                                       for n in names)
        row += f"{rates[(label, 'consentry')] / rates[(label, 'lol-html')]:>11.2f}"
        row += f"{rates[(label, 'full')] / rates[(label, 'lol-html')]:>10.2f}"
        row += f"{rates[(label, 'seen')] / rates[(label, 'lol-html')]:>10.2f}"
        bad = check_chunking(data) if len(data) < 50_000_000 else []
        row += "  identical" if not bad else f"  DIFFERS at chunk sizes {bad}"
        print(row, flush=True)
    if not options.skip_memory:
        fed, out, at_20, at_200 = measure_memory()
        print(f"generated 200 MB in 64 KB chunks: fed {fed / 1e6:.0f} MB, wrote {out / 1e6:.0f} MB, peak RSS "
              f"{at_20 / 1e6:.1f} MB at 20 MB, {at_200 / 1e6:.1f} MB at 200 MB: growth {(at_200 - at_20) / 1e6:.1f} MB"
              " (target < 32 MB)")


if __name__ == "__main__":
    main()
