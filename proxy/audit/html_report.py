"""The audit as one self-contained HTML file a data-protection officer can open.

No scripts, no external style sheets, fonts or images: the file must render offline
and must not itself contact a tracker. Every value from the audited pages is escaped
(a page URL is attacker-controlled text). The layout: what was simulated, the totals,
the requests sent to trackers before consent (the leaks), then every page with its
trackers. Standard library only: this module must not import mitmproxy, aiohttp, jwt
or pydantic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from proxy.audit.model import AuditResult, PageAudit, TrackerRequest

__all__ = ["format_html"]

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #d0d7de}
h3{font-size:1rem;margin:1.6rem 0 .4rem;word-break:break-all}
.meta{color:#57606a}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.6rem}.card.bad b{color:#cf222e}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.url{word-break:break-all;font-family:ui-monospace,monospace;font-size:.85rem}
tr.leak td{background:#ffebe9}.action-defer,.action-strip{color:#0a7d32;font-weight:600}
.action-keep{color:#57606a}.error{color:#cf222e}
"""


def _cell(value: object, css: str = "") -> str:
    text = "" if value is None else str(value)
    attr = f' class="{css}"' if css else ""
    return f"<td{attr}>{escape(text)}</td>"


def _vendor_cell(vendor: str | None, name: str | None) -> str:
    if vendor is None:
        return _cell("unknown third party")
    if name and name != vendor:
        return f'<td>{escape(name)}<br><span class="meta">{escape(vendor)}</span></td>'
    return _cell(vendor)


def _table(headers: Sequence[str], rows: Iterable[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _page_section(page: PageAudit) -> str:
    status = "file" if page.status is None else f"HTTP {page.status}"
    parts = [f"<h3>{escape(page.url)}</h3>", f'<p class="meta">site {escape(page.site_id)} · {escape(status)}']
    if page.depth:
        parts.append(f" · link depth {page.depth}")
    if page.consent is not None:
        parts.append(f" · visitor's consent: {escape(page.consent)}")
    parts.append("</p>")
    if page.error:
        parts.append(f'<p class="error">Not audited: {escape(page.error)}</p>')
        return "".join(parts)
    if not page.findings:
        parts.append("<p>No trackers found in this page's HTML.</p>")
        return "".join(parts)
    rows = (
        "<tr>"
        + _cell(f.line)
        + _cell(f.tag + (f" (in {f.context})" if f.context else ""))
        + _vendor_cell(f.vendor, f.vendor_name)
        + _cell(f.category or "-")
        + _cell(f.action, f"action-{f.action}")
        + _cell(f.url or "(inline script)", "url")
        + "</tr>"
        for f in page.findings
    )
    parts.append(_table(["Line", "Element", "Vendor", "Category", "What Consentry does", "URL"], rows))
    return "".join(parts)


def _request_rows(requests: Sequence[TrackerRequest]) -> Iterable[str]:
    for r in requests:
        css = ' class="leak"' if r.before_consent and not r.blocked else ""
        yield (
            f"<tr{css}>"
            + _cell(r.time)
            + _vendor_cell(r.vendor, r.vendor_name)
            + _cell(r.category)
            + _cell("yes" if r.before_consent else "no")
            + _cell(r.consent if r.consent is not None else "simulated")
            + _cell("yes" if r.blocked else "no")
            + _cell(r.method)
            + _cell(r.url, "url")
            + _cell(r.page or "", "url")
            + "</tr>"
        )


def format_html(result: AuditResult) -> str:
    """The whole audit as a standalone HTML document (a str; write it as UTF-8)."""
    summary = result.summary()
    policy = result.config or "built-in default"
    cards = [
        ("pages audited", summary["pages"], False),
        ("tracker elements", summary["trackers"], False),
        ("neutralised", summary["actions"].get("defer", 0) + summary["actions"].get("strip", 0), False),
    ]
    if result.source == "mitmproxy" or result.requests:
        cards += [
            ("tracker requests", summary["tracker_requests"], False),
            ("sent before consent", summary["before_consent"], summary["before_consent"] > 0),
            ("blocked by the proxy", summary["blocked"], False),
        ]
    card_html = "".join(
        f'<div class="card{" bad" if bad else ""}"><b>{value}</b>{escape(label)}</div>' for label, value, bad in cards
    )
    body = [
        "<h1>Consentry consent audit</h1>",
        f'<p class="meta">Run started {escape(result.started)} ({escape(result.source)}) · '
        f"simulated consent <b>{escape(result.consent)}</b> (grants {escape(', '.join(result.granted))}) · "
        f"mode {escape(result.mode)} · policy {escape(policy)}</p>",
        f'<div class="cards">{card_html}</div>',
    ]
    if result.requests:
        leaks = [r for r in result.requests if r.before_consent]
        body.append("<h2>Requests to trackers</h2>")
        body.append(
            "<p>Every request the browser sent to a catalogued tracker host while browsing through "
            "the proxy. <b>Before consent</b> means the simulated visitor had not consented to the "
            "tracker's category: without Consentry the site would send it; with Consentry in front "
            "it is either removed from the HTML or, when a script injects it at run time, it must be "
            "caught by the browser-side guard.</p>"
        )
        if leaks:
            reached = sum(1 for r in leaks if not r.blocked)
            body.append(
                f"<p><b>{len(leaks)}</b> request(s) before consent: <b>{reached}</b> reached the tracker "
                f"(highlighted), {len(leaks) - reached} were blocked by the proxy.</p>"
            )
        body.append(
            _table(
                ["Time", "Vendor", "Category", "Before consent", "Consent then", "Blocked", "Method", "URL", "Page"],
                _request_rows(result.requests),
            )
        )
    body.append("<h2>Trackers in each page's HTML</h2>")
    if not result.pages:
        body.append("<p>No HTML pages were audited.</p>")
    body += [_page_section(page) for page in result.pages]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>Consentry consent audit</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
