"""The admin ``/insights`` page: inline SVG charts and accessible tables of the same figures.

No scripts, no external assets (the admin app serves it with a CSP that forbids
both): charts are SVG drawn here with ``role="img"``, a title and a description,
and every figure a chart shows is also in a table right under it. The verdict
sentence appears only when two variants differ significantly.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import quote

__all__ = ["render_page"]

# Colour-blind-safe palette (Okabe-Ito), each series also has its own dash pattern.
_COLOURS: Final = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
_DASHES: Final = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4")
_WIDTH, _HEIGHT, _LEFT, _RIGHT, _TOP, _BOTTOM = 720, 260, 48, 16, 16, 56

_CSS: Final = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1b1b1b;background:#fff;margin:0 auto;max-width:62rem;padding:1rem 1.5rem}
h1{font-size:1.6rem}h2{font-size:1.3rem;margin-top:2rem;border-top:1px solid #d1d5db;padding-top:1rem}h3{font-size:1.1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #9ca3af;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:600;padding:.25rem 0}
svg{max-width:100%;height:auto;display:block}.verdict{background:#ecfdf5;border-left:4px solid #047857;padding:.5rem 1rem}
.muted{color:#4b5563}a{color:#1d4ed8}nav a{margin-right:1rem}
"""


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _y(value: float, top: float) -> float:
    plot = _HEIGHT - _TOP - _BOTTOM
    return _TOP + plot * (1 - min(max(value / top, 0.0), 1.0))


def _axes(top: float) -> list[str]:
    parts = []
    for i in range(5):
        value = top * i / 4
        y = _y(value, top)
        parts.append(f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#4b5563">{value:.0%}</text>')
    return parts


def _day_chart(report: dict[str, Any], chart_id: str) -> str:
    days = report["days"]
    series: list[tuple[str, list[float | None]]] = [("decision rate", [d["decision_rate"] for d in days])]
    series += [(f"{name} granted", [d["categories"][name]["rate"] for d in days]) for name in report["categories"]]
    values = [v for _, points in series for v in points if v is not None]
    top = max([1.0, *values])
    count = len(days)
    span = _WIDTH - _LEFT - _RIGHT

    def x(index: int) -> float:
        return _LEFT + (span / 2 if count == 1 else span * index / (count - 1))

    parts = _axes(top)
    for index, day in enumerate(days):
        if count <= 14 or index % max(1, count // 14) == 0:
            parts.append(f'<text x="{x(index):.1f}" y="{_HEIGHT - _BOTTOM + 16}" text-anchor="middle" font-size="11" '
                         f'fill="#4b5563">{_e(day["day"][5:])}</text>')
    legend_y = _HEIGHT - 14
    for number, (name, points) in enumerate(series):
        colour, dash = _COLOURS[number % len(_COLOURS)], _DASHES[number % len(_DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        coords = [(x(i), _y(v, top)) for i, v in enumerate(points) if v is not None]
        if len(coords) > 1:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        parts.extend(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{colour}"/>' for cx, cy in coords)
        lx = _LEFT + (number % 4) * 170
        ly = legend_y - 16 * (number // 4)
        parts.append(f'<line x1="{lx}" x2="{lx + 22}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" stroke-width="3"{dash_attr}/>')
        parts.append(f'<text x="{lx + 28}" y="{ly}" font-size="12">{_e(name)}</text>')
    title = f"Decision rate and acceptance per category by day, {report['site']}"
    description = "Line chart; the table below holds the same figures."
    return _svg(chart_id, title, description, parts)


def _variant_chart(report: dict[str, Any], chart_id: str) -> str:
    variants = report["variants"]
    row = 34
    height = _TOP + row * len(variants) + 40
    left, span = 150, _WIDTH - 150 - _RIGHT - 60
    parts = []
    for i in range(5):
        gx = left + span * i / 4
        parts.append(f'<line x1="{gx:.1f}" x2="{gx:.1f}" y1="{_TOP}" y2="{height - 30}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{gx:.1f}" y="{height - 14}" text-anchor="middle" font-size="11" fill="#4b5563">{i * 25}%</text>')
    for index, variant in enumerate(variants):
        y = _TOP + row * index
        label = variant["id"] or "(no variant)"
        parts.append(f'<text x="{left - 8}" y="{y + 18}" text-anchor="end" font-size="13">{_e(label)}</text>')
        rate = variant["accept_all_rate"]
        if rate is None:
            parts.append(f'<text x="{left + 4}" y="{y + 18}" font-size="12" fill="#4b5563">no decisions</text>')
            continue
        colour = _COLOURS[index % len(_COLOURS)]
        parts.append(f'<rect x="{left}" y="{y + 6}" width="{span * rate:.1f}" height="18" fill="{colour}" opacity=".8"/>')
        low, high = variant["ci95"]
        lx, hx, cy = left + span * low, left + span * high, y + 15
        parts.append(f'<line x1="{lx:.1f}" x2="{hx:.1f}" y1="{cy}" y2="{cy}" stroke="#111827" stroke-width="2"/>')
        parts.append(f'<line x1="{lx:.1f}" x2="{lx:.1f}" y1="{cy - 7}" y2="{cy + 7}" stroke="#111827" stroke-width="2"/>')
        parts.append(f'<line x1="{hx:.1f}" x2="{hx:.1f}" y1="{cy - 7}" y2="{cy + 7}" stroke="#111827" stroke-width="2"/>')
        parts.append(f'<text x="{left + span + 8}" y="{y + 19}" font-size="12">{_pct(rate)}</text>')
    title = f"Accept-all rate per banner variant with 95% intervals, {report['site']}"
    description = "Bars are the accept-all rate, whiskers the Wilson 95% interval; the table below holds the same figures."
    return _svg(chart_id, title, description, parts, height=height)


def _svg(chart_id: str, title: str, description: str, parts: list[str], height: int = _HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{_e(title)}</title><desc id="{chart_id}-desc">{_e(description)}</desc>'
        + "".join(parts) + "</svg>"
    )


def _day_table(report: dict[str, Any]) -> str:
    names = list(report["categories"])
    head = "".join(f'<th scope="col">{_e(name)} granted</th>' for name in names)
    rows = []
    for day in report["days"]:
        cells = "".join(f"<td>{day['categories'][n]['granted']} ({_pct(day['categories'][n]['rate'])})</td>" for n in names)
        rows.append(
            f'<tr><th scope="row">{_e(day["day"])}</th><td>{day["impressions"]}</td><td>{day["decisions"]}</td>'
            f"<td>{_pct(day['decision_rate'])}</td><td>{day['actions']['accept_all']}</td>"
            f"<td>{_pct(day['accept_all_rate'])}</td>{cells}</tr>"
        )
    return (
        f"<table><caption>Per day, {_e(report['site'])}</caption><thead><tr><th scope=\"col\">day (UTC)</th>"
        '<th scope="col">impressions</th><th scope="col">decisions</th><th scope="col">decision rate</th>'
        f'<th scope="col">accept all</th><th scope="col">accept-all rate</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _variant_table(report: dict[str, Any]) -> str:
    rows = []
    for v in report["variants"]:
        interval = "–" if v["ci95"] is None else f"{v['ci95'][0]:.1%} – {v['ci95'][1]:.1%}"
        rows.append(
            f'<tr><th scope="row">{_e(v["id"] or "(no variant)")}</th><td>{v["impressions"]}</td><td>{v["decisions"]}</td>'
            f"<td>{_pct(v['decision_rate'])}</td><td>{v['actions']['accept_all']}</td><td>{_pct(v['accept_all_rate'])}</td>"
            f"<td>{interval}</td></tr>"
        )
    return (
        f"<table><caption>Banner variants, {_e(report['site'])}</caption><thead><tr><th scope=\"col\">variant</th>"
        '<th scope="col">impressions</th><th scope="col">decisions</th><th scope="col">decision rate</th>'
        '<th scope="col">accept all</th><th scope="col">accept-all rate</th><th scope="col">95% interval (Wilson)</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _site_section(report: dict[str, Any], index: int) -> str:
    site = report["site"]
    parts = [f'<section aria-labelledby="site-{index}"><h2 id="site-{index}">{_e(site)}</h2>']
    parts.append(
        f"<p>{report['impressions']} impressions, {report['decisions']} decisions "
        f"(decision rate {_pct(report['decision_rate'])}): "
        + ", ".join(f"{_e(a.replace('_', ' '))} {n}" for a, n in report["actions"].items())
        + f'. <a href="insights.json?site={quote(site)}">JSON</a></p>'
    )
    if report["verdict"]:
        parts.append(f'<p class="verdict" role="note"><strong>Verdict:</strong> {_e(report["verdict"])}</p>')
    if report["days"]:
        parts.append("<h3>Decisions and acceptance per day</h3>")
        parts.append(_day_chart(report, f"days-{index}"))
        parts.append(_day_table(report))
    else:
        parts.append('<p class="muted">No impressions or decisions in this period.</p>')
    if report["variants"]:
        parts.append("<h3>Banner variants</h3>")
        parts.append(_variant_chart(report, f"variants-{index}"))
        parts.append(_variant_table(report))
        if not report["verdict"]:
            parts.append('<p class="muted">No significant difference between the variants so far.</p>')
    parts.append("</section>")
    return "".join(parts)


def render_page(reports: Sequence[dict[str, Any]], *, sites: Sequence[str] = ()) -> str:
    """The whole page for the given site reports (``sites``: every site, for the navigation)."""
    nav = "".join(f'<a href="insights?site={quote(s)}">{_e(s)}</a>' for s in sites)
    body = "".join(_site_section(report, i) for i, report in enumerate(reports))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Consent insights</title><style>{_CSS}</style></head><body>"
        "<header><h1>Consent insights</h1>"
        '<p class="muted">Impressions are page views on which the banner was shown to a visitor without a decision; '
        "decisions are stored receipts. Intervals are Wilson 95% intervals. Days are UTC.</p>"
        + (f'<nav aria-label="Sites">{nav}</nav>' if len(sites) > 1 else "")
        + f"</header><main>{body or '<p>No sites.</p>'}</main></body></html>"
    )
