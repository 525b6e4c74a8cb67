"""The figures as text: JSON (the contract other tools read), CSV, and a table for people.

JSON: one object per site (a list when several sites are shown); rates are full-precision
floats (or null), ``ci95`` is ``[low, high]``. CSV: one row per site total, per variant
and per day (``scope`` says which). The table rounds for reading.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from proxy.insights.figures import ACTIONS

__all__ = ["render_csv", "render_json", "render_table"]


def render_json(reports: Sequence[dict[str, Any]], *, as_list: bool) -> str:
    body: Any = list(reports) if as_list else reports[0]
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def _cell(value: Any) -> Any:
    return "" if value is None else value


def render_csv(reports: Sequence[dict[str, Any]]) -> str:
    categories = sorted({name for report in reports for name in report["categories"]})
    header = ["site", "scope", "day", "variant", "impressions", "decisions", "decision_rate", *ACTIONS,
              "accept_all_rate", "ci95_low", "ci95_high", *(f"granted_{name}" for name in categories)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for report in reports:
        site = report["site"]
        total_accept = report["actions"]["accept_all"]
        writer.writerow([
            site, "total", "", "", report["impressions"], report["decisions"], _cell(report["decision_rate"]),
            *(report["actions"][a] for a in ACTIONS),
            _cell(total_accept / report["decisions"] if report["decisions"] else None), "", "",
            *(report["categories"].get(name, {}).get("granted", "") for name in categories),
        ])
        for variant in report["variants"]:
            low, high = variant["ci95"] or (None, None)
            writer.writerow([
                site, "variant", "", _cell(variant["id"]), variant["impressions"], variant["decisions"],
                _cell(variant["decision_rate"]), *(variant["actions"][a] for a in ACTIONS),
                _cell(variant["accept_all_rate"]), _cell(low), _cell(high), *("" for _ in categories),
            ])
        for day in report["days"]:
            writer.writerow([
                site, "day", day["day"], "", day["impressions"], day["decisions"], _cell(day["decision_rate"]),
                *(day["actions"][a] for a in ACTIONS), _cell(day["accept_all_rate"]), "", "",
                *(day["categories"].get(name, {}).get("granted", "") for name in categories),
            ])
    return buffer.getvalue()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths, strict=False))).rstrip()
            for row in rows]


def render_table(reports: Sequence[dict[str, Any]]) -> str:
    lines: list[str] = []
    for report in reports:
        period = f"{report['since'] or 'first day'} .. {report['until'] or 'today'}"
        lines.append(f"site {report['site']} ({period})")
        lines.append(
            f"  impressions {report['impressions']}, decisions {report['decisions']}, "
            f"decision rate {_pct(report['decision_rate'])}"
        )
        lines.append("  actions: " + ", ".join(f"{a} {report['actions'][a]}" for a in ACTIONS))
        if report["categories"]:
            lines.append("  granted: " + ", ".join(
                f"{name} {c['granted']} ({_pct(c['rate'])})" for name, c in report["categories"].items()))
        if report["variants"]:
            rows = [["variant", "impressions", "decisions", "accept_all", "rate", "95% interval"]]
            for v in report["variants"]:
                interval = "-" if v["ci95"] is None else f"{v['ci95'][0]:.1%} .. {v['ci95'][1]:.1%}"
                rows.append([v["id"] or "(none)", str(v["impressions"]), str(v["decisions"]),
                             str(v["actions"]["accept_all"]), _pct(v["accept_all_rate"]), interval])
            lines.extend("  " + line for line in _columns(rows))
        if report["days"]:
            rows = [["day", "impressions", "decisions", "decision rate", "accept_all rate"]]
            for d in report["days"]:
                rows.append([d["day"], str(d["impressions"]), str(d["decisions"]), _pct(d["decision_rate"]),
                             _pct(d["accept_all_rate"])])
            lines.extend("  " + line for line in _columns(rows))
        lines.append("  verdict: " + (report["verdict"] or "no significant difference between variants (or too few decisions)"))
        lines.append("")
    return "\n".join(lines)
