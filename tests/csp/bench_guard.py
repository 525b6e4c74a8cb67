"""Measure the guard: its size (raw, gzipped) and its cost on page load in Chromium.

Run on demand, never in the test suite (timings are machine-dependent):

    .venv/bin/python tests/csp/bench_guard.py

Sizes are for the guard as the proxy sends it (minified, config baked in) with the
shipped catalogue. Costs are medians over several fresh page loads of the same
loopback page, with and without the guard, one operation per load: the guard's own
start-up (parse, config, wrapping), 1000 ``createElement('img')`` + first-party ``src``
+ ``appendChild``, 1000 ``createElement('script')`` + ``appendChild`` (no src), 100
``innerHTML`` writes of markup with 10 images each, and 1000 images from an unknown
third-party host (the slow path: URL parsing and catalogue lookup).
"""

from __future__ import annotations

import asyncio
import gzip
import statistics
from importlib import resources
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web  # noqa: E402

from csp.csp_browser import launch, serve  # noqa: E402
from proxy import csp  # noqa: E402
from factories import make_site  # noqa: E402
from proxy.consent import ConsentState  # noqa: E402
from proxy.policy import SitePolicy  # noqa: E402

RUNS = 15

# One operation per page load, so one cannot slow the next (1000 pending image loads would).
BENCH = """
(function (op) {
  var t0 = performance.now();
  if (op === 'img') {
    for (var i = 0; i < 1000; i++) { var im = document.createElement('img'); im.src = '/img/' + i + '.png'; document.body.appendChild(im); }
  } else if (op === 'script') {
    for (var j = 0; j < 1000; j++) { var s = document.createElement('script'); s.type = 'text/x-none'; document.body.appendChild(s); }
  } else if (op === 'innerHTML') {
    var box = document.createElement('div'); document.body.appendChild(box);
    var markup = ''; for (var k = 0; k < 10; k++) markup += '<p>x</p><img src="/a' + k + '.png" alt="">';
    for (var m = 0; m < 100; m++) box.innerHTML = markup;
  } else if (op === 'tracker-img') {
    for (var n = 0; n < 1000; n++) { var ti = document.createElement('img'); ti.src = 'https://cdn.example.net/p' + n + '.png'; document.body.appendChild(ti); }
  }
  window.__t = performance.now() - t0;
})(new URLSearchParams(location.search).get('op'));
"""
OPS = ("startup", "img", "script", "innerHTML", "tracker-img")


def site(unknown: str = "allow") -> SitePolicy:
    return make_site(site_id="bench", csp="report", hosts=("shop.example",), unknown_third_party=unknown)


def sizes() -> list[tuple[str, int, int]]:
    source = (resources.files("proxy.web") / "guard.js").read_text(encoding="utf-8")
    rows = [("guard.js as written", len(source.encode()), len(gzip.compress(source.encode(), 9)))]
    small = csp.minify_guard(source)
    rows.append(("guard.js minified, no config", len(small.encode()), len(gzip.compress(small.encode(), 9))))
    for label, state, unknown in [
        ("baked: no consent, unknown allowed", ConsentState(), "allow"),
        ("baked: analytics granted", ConsentState(categories=frozenset({"necessary", "analytics"})), "allow"),
        ("baked: no consent, unknown refused", ConsentState(), "marketing"),
        ("baked: everything granted", ConsentState(categories=frozenset({"necessary", "preferences", "analytics", "marketing"})), "allow"),
    ]:
        text = csp.guard_script(site(unknown), state).encode()
        rows.append((label, len(text), len(gzip.compress(text, 9))))
    return rows


async def costs() -> dict[str, dict[str, float]]:
    guard = csp.guard_script(site(), ConsentState())

    def page(with_guard: bool) -> str:
        head = f"<script>window.__g0 = performance.now();</script><script>{guard}</script>" if with_guard else (
            "<script>window.__g0 = performance.now();</script>")
        return (f"<!doctype html><html><head>{head}<script>window.__g1 = performance.now();</script></head>"
                f"<body><script>{BENCH}</script></body></html>")

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=page(request.query.get("guard") == "1"), content_type="text/html")

    async def image(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/", handler)
    app.router.add_get("/{name:.*}", image)
    results: dict[str, dict[str, list[float]]] = {"without guard": {}, "with guard": {}}
    async with serve(app) as url, launch() as browser:
        context = await browser.new_context()
        await context.route("https://cdn.example.net/**", lambda route: route.fulfill(status=204))
        tab = await context.new_page()
        for _ in range(RUNS):
            for op in OPS:
                for label, flag in (("without guard", "0"), ("with guard", "1")):
                    await tab.goto(f"{url}/?guard={flag}&op={op}", wait_until="load")
                    key = "startup" if op == "startup" else op
                    value = await tab.evaluate("window.__g1 - window.__g0" if op == "startup" else "window.__t")
                    results[label].setdefault(key, []).append(value)
        await context.close()
    return {label: {key: statistics.median(values) for key, values in by_key.items()} for label, by_key in results.items()}


def main() -> None:
    print(f"{'guard size':<40} {'raw B':>8} {'gzip B':>8}")
    for label, raw, packed in sizes():
        print(f"{label:<40} {raw:>8} {packed:>8}")
    measured = asyncio.run(costs())
    print(f"\nmedian of {RUNS} loads, ms  {'without':>9} {'with':>9}")
    for key in OPS:
        print(f"{key:<28} {measured['without guard'][key]:>9.2f} {measured['with guard'][key]:>9.2f}")


if __name__ == "__main__":
    main()
