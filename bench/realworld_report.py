"""Per-page figures of the real pages in Chromium: before (unrewritten) and after (no consent).

    .venv-test/bin/python bench/realworld_report.py [--save FILE] [--load FILE] [--pages 01,02]

For every page of ../shared/realworld it opens the unrewritten page and the page as the
proxy serves it with no consent and with full consent (tests/realworld_browser.py:
every request intercepted, nothing leaves the machine) and prints, per page, the
requests Chromium made to trackers and the third-party hosts it contacted. Requests
are judged with the current catalogue, so a run saved with ``--save`` before a
catalogue change can be judged again after it with ``--load``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realworld_browser import PAGES, Request, Visit, figures, page_host, visit_all  # noqa: E402

CONSENTS = (None, "none", "all")


def _label(consent: str | None) -> str:
    return "raw" if consent is None else consent


def save(visits: dict[tuple[str, str | None], Visit], path: Path) -> None:
    rows = [
        {
            "page": page,
            "consent": consent,
            "requests": [[r.url, r.resource_type, r.host] for r in visit.requests],
            "console_errors": visit.console_errors,
            "page_errors": visit.page_errors,
            "handlers": sorted(visit.handlers),
        }
        for (page, consent), visit in visits.items()
    ]
    path.write_text(json.dumps(rows, indent=1))


def load(path: Path) -> dict[tuple[str, str | None], Visit]:
    visits = {}
    for row in json.loads(path.read_text()):
        visit = Visit(row["page"], row["consent"], [Request(*r) for r in row["requests"]], row["console_errors"], row["page_errors"], set(row["handlers"]))
        visits[(row["page"], row["consent"])] = visit
    return visits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--save", type=Path, help="write the raw visits (JSON) to FILE")
    parser.add_argument("--load", type=Path, help="judge visits saved earlier instead of opening the pages")
    parser.add_argument("--pages", help="comma-separated page number prefixes (default: all)")
    parser.add_argument("--hosts", action="store_true", help="list the hosts contacted with no consent")
    args = parser.parse_args()
    pages = PAGES
    if args.pages:
        wanted = tuple(args.pages.split(","))
        pages = [p for p in PAGES if p.name.startswith(wanted)]
    visits = load(args.load) if args.load else asyncio.run(visit_all(pages, CONSENTS))
    if args.save:
        save(visits, args.save)
    by_name = {p.name: p for p in PAGES}
    print(f"{'page':40} {'raw trk':>7} {'raw 3p':>6} | {'none trk':>8} {'none 3p':>7} {'unknown':>7} | {'all req':>7} {'raw req':>7} | err raw/none/all")
    totals = [0, 0, 0, 0]
    for name in sorted({page for page, _ in visits}):
        host = page_host(by_name[name])
        raw = figures(visits[(name, None)], host)
        none = figures(visits[(name, "none")], host)
        full = figures(visits[(name, "all")], host) if (name, "all") in visits else None
        errors = "/".join(str(f.console_errors + f.page_errors) if f else "-" for f in (raw, none, full))
        print(
            f"{name[:40]:40} {raw.tracker_requests:7} {len(raw.third_party_hosts):6} | {none.tracker_requests:8} {len(none.third_party_hosts):7} "
            f"{len(none.unknown_hosts):7} | {full.requests if full else '-':>7} {raw.requests:7} | {errors}"
        )
        if args.hosts and none.third_party_hosts:
            print("    none:", " ".join(h + ("*" if h in none.tracker_hosts else "") for h in none.third_party_hosts))
        totals[0] += raw.tracker_requests
        totals[1] += len(raw.third_party_hosts)
        totals[2] += none.tracker_requests
        totals[3] += len(none.third_party_hosts)
    print(f"{'TOTAL':40} {totals[0]:7} {totals[1]:6} | {totals[2]:8} {totals[3]:7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
