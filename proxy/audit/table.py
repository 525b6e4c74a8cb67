"""The audit as plain text: a summary, one table per page, and the tracker requests.

This is what ``consentry scan`` prints by default and what the mitmproxy addon logs when
mitmproxy stops. Long URLs are shortened in the middle so a row fits a terminal; the
JSON and HTML reports keep them whole. Standard library only: this module must not
import mitmproxy, aiohttp, jwt or pydantic.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.audit.model import AuditResult, PageAudit, TrackerRequest

__all__ = ["format_table", "shorten"]

URL_WIDTH = 72


def shorten(text: str, width: int = URL_WIDTH) -> str:
    """``text`` cut in the middle to ``width`` characters (both ends say the most)."""
    if len(text) <= width:
        return text
    keep = width - 1
    head = keep * 2 // 3
    return text[:head] + "…" + text[len(text) - (keep - head):]


def _render(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    def line(cells: Sequence[str]) -> str:
        return (indent + "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True))).rstrip()
    return [line(headers), line(["-" * w for w in widths])] + [line(row) for row in rows]


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {action}" for action, count in sorted(counts.items())) or "none"


def _page_lines(page: PageAudit) -> list[str]:
    status = page.error or (str(page.status) if page.status is not None else "file")
    lines = [f"{page.url}  [site {page.site_id}, {status}]"]
    if page.error:
        return lines
    if not page.findings:
        lines.append("  no trackers found")
        return lines
    rows = [
        [
            str(f.line),
            f.tag + (f" ({f.context})" if f.context else ""),
            f.vendor or "(unknown third party)",
            f.category or "-",
            f.action,
            shorten(f.url or "(inline)"),
        ]
        for f in page.findings
    ]
    lines += _render(["LINE", "TAG", "VENDOR", "CATEGORY", "ACTION", "URL"], rows)
    return lines


def _request_lines(requests: Sequence[TrackerRequest]) -> list[str]:
    groups: dict[tuple[str, str], list[TrackerRequest]] = {}
    for request in requests:
        groups.setdefault((request.vendor or "(unknown third party)", request.category), []).append(request)
    rows = []
    for (vendor, category), items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        hosts = sorted({item.host for item in items})
        rows.append(
            [
                vendor,
                category,
                str(len(items)),
                str(sum(1 for item in items if item.before_consent)),
                str(sum(1 for item in items if item.blocked)),
                shorten(", ".join(hosts), 48),
            ]
        )
    return _render(["VENDOR", "CATEGORY", "REQUESTS", "BEFORE CONSENT", "BLOCKED", "HOSTS"], rows)


def format_table(result: AuditResult) -> str:
    """The whole audit as text, ending with a newline."""
    summary = result.summary()
    policy = result.config or "built-in default"
    lines = [
        f"Consentry audit ({result.source}): consent {result.consent!r} "
        f"(grants {', '.join(result.granted)}), mode {result.mode}, policy {policy}",
        f"{summary['pages']} page(s), {summary['trackers']} tracker element(s): "
        f"{_counts_text(summary['actions'])}",
    ]
    if result.source == "mitmproxy" or result.requests:
        lines.append(
            f"{summary['tracker_requests']} request(s) to tracker hosts, "
            f"{summary['before_consent']} before consent, {summary['blocked']} blocked"
        )
    for page in result.pages:
        lines.append("")
        lines += _page_lines(page)
    if result.requests:
        lines += ["", "Requests to tracker hosts (before consent = the simulated consent refuses them)"]
        lines += _request_lines(result.requests)
    unknown = result.unknown_hosts()
    if unknown:
        lines += ["", f"Third-party hosts the catalogue does not know ({len(unknown)}): classify each once"]
        lines += _render(["HOST", "ELEMENTS", "PAGES"], [[host, str(count), str(pages)] for host, count, pages in unknown])
        lines += [
            "",
            "  Rules to add to the site's policy (set each category: \"necessary\" for the site's own",
            "  CDN, a payment or library host; the vendor's category otherwise):",
            "  rules = [",
            *(f'    {{ host = "{host}", category = "necessary" }},' for host, _, _ in unknown),
            "  ]",
        ]
    return "\n".join(lines) + "\n"
