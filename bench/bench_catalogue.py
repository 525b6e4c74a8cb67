"""Does the bigger catalogue cost start-up or per-request time?

    .venv-test/bin/python bench/bench_catalogue.py [--rounds 7]

Compares the core data file alone (vendors.toml, the catalogue before the class files
were added) with the whole shipped catalogue (vendors.toml + vendors-*.toml), interleaved
round by round so machine load hits both alike, and prints medians and their ratio:

* build: parsing and indexing the data (what start-up and a policy reload pay once),
* URL lookup: `vendor_for_url` without its cache (each URL classified from scratch),
  over URLs from the real pages plus tracker, necessary and unknown hosts,
* script classification: `vendor_for_script` without its cache, over inline scripts,
* first-party checks (Public Suffix List, cached per host as in the engine),
* process start-up (``--startup``): ``Catalogue.default()`` in a fresh interpreter,
  with the data cache off (``CONSENTRY_CACHE_DIR=off``: TOML parsed and checked) and
  warm (the validated vendors read back from the cache file), interleaved.

Host lookup is a walk over the host's label suffixes through a dict, so its cost grows
with the number of labels, not with the number of entries.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxy.catalogue import Catalogue  # noqa: E402
from proxy.catalogue.catalogue import default_data_files  # noqa: E402
from proxy.catalogue.urls import is_first_party  # noqa: E402

PAGES = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "pages"
EXTRA = [
    "https://www.googletagmanager.com/gtag/js?id=AW-123456",
    "https://connect.facebook.net/en_US/fbevents.js",
    "https://cdn.jsdelivr.net/npm/jquery@3/dist/jquery.min.js",
    "https://js.stripe.com/v3/",
    "https://a.b.c.unknown-host.example/x/y.js",
    "https://static.klaviyo.com/onsite/js/klaviyo.js",
    "/wp-content/cache/gtm.js.Download",
]


def urls() -> list[str]:
    found = list(EXTRA)
    for page in sorted(PAGES.glob("*.html")):
        text = page.read_bytes().decode("latin-1")
        found += re.findall(r"""(?:src|href)=["']((?:https?:)?//[^"'\s>]{4,300})""", text)
    return found


def scripts() -> list[str]:
    found = []
    for page in sorted(PAGES.glob("*.html")):
        text = page.read_bytes().decode("latin-1")
        found += [m for m in re.findall(r"<script[^>]*>(.*?)</script>", text, re.S | re.I) if m.strip()][:40]
    return found


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


_CHILD = """
import time
start = time.process_time()
from proxy.catalogue import Catalogue
imported = time.process_time()
Catalogue.default()
print(imported - start, time.process_time() - imported)
"""


def startup(rounds: int) -> None:
    """CPU seconds of a fresh interpreter's `Catalogue.default()`, cache off vs warm."""
    import os
    import subprocess
    import tempfile

    root = Path(__file__).resolve().parents[1]

    def child(cache: str) -> tuple[float, float]:
        env = {**os.environ, "CONSENTRY_CACHE_DIR": cache, "PYTHONPATH": str(root)}
        out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True, cwd=root)
        imported, built = out.stdout.split()
        return float(imported), float(built)

    with tempfile.TemporaryDirectory() as directory:
        child(directory)  # writes the cache file
        found: dict[str, list[float]] = {"off": [], "warm": []}
        for _ in range(rounds):
            for label, cache in (("off", "off"), ("warm", directory)):
                found[label].append(child(cache)[1] * 1e3)
    off, warm = statistics.median(found["off"]), statistics.median(found["warm"])
    print(f"start-up, Catalogue.default() CPU ms in a fresh process ({rounds} interleaved rounds, medians):")
    print(f"  cache off {off:8.1f}   warm {warm:8.1f}   warm/off {warm / off:5.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--startup", action="store_true", help="only the fresh-process start-up comparison")
    args = parser.parse_args()
    if args.startup:
        startup(args.rounds)
        return 0
    parts = default_data_files()
    core = [parts[0]]
    url_list, script_list = urls(), scripts()
    results: dict[str, dict[str, list[float]]] = {"core": {}, "full": {}}
    for _ in range(args.rounds):
        for label, files in (("core", core), ("full", parts)):
            row = results[label]
            start = time.perf_counter()
            catalogue = Catalogue.from_parts(files)
            row.setdefault("build (ms)", []).append((time.perf_counter() - start) * 1e3)
            classify = catalogue._classify_url  # the uncached path
            row.setdefault("URL lookup (us/URL)", []).append(timed(lambda f=classify: [f(u) for u in url_list]) / len(url_list) * 1e6)
            judge = catalogue._classify_script
            row.setdefault("script (us/script)", []).append(timed(lambda f=judge: [f(s) for s in script_list]) / len(script_list) * 1e6)
            row.setdefault("first party (us/URL)", []).append(
                timed(lambda: [is_first_party(u, "www.example.co.uk") for u in url_list]) / len(url_list) * 1e6
            )
    sizes = {label: Catalogue.from_parts(files) for label, files in (("core", core), ("full", parts))}
    print(f"{len(url_list)} URLs, {len(script_list)} inline scripts, {args.rounds} interleaved rounds (medians)")
    for label, catalogue in sizes.items():
        hosts = sum(len(v.hosts) for v in catalogue.vendors.values())
        print(f"  {label}: {len(catalogue.vendors)} vendors, {hosts} host entries")
    print(f"{'':24} {'core':>10} {'full':>10} {'full/core':>10}")
    for metric in results["core"]:
        a, b = statistics.median(results["core"][metric]), statistics.median(results["full"][metric])
        print(f"{metric:24} {a:10.2f} {b:10.2f} {b / a:10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
