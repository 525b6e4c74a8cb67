"""The consent audit shared by the mitmproxy addon and ``consentry scan``.

What trackers each page's HTML holds and what the policy does to them, plus (from the
addon) every request sent to a catalogued tracker host and whether it went out before
consent. Records are written as JSON lines while running (``ReportWriter``) and
rendered as a text table, a JSON document or a self-contained HTML report. Must not
import mitmproxy or aiohttp: the addon is the only module that imports mitmproxy.
"""

from __future__ import annotations

import json

from proxy.audit.html_report import format_html
from proxy.audit.jsonl import ReportWriter, html_path_for, read_report
from proxy.audit.model import AuditResult, PageAudit, TrackerFinding, TrackerRequest
from proxy.audit.scan import audit_document, extract_links, scan_targets
from proxy.audit.simulation import MODES, Simulation, SimulationError, findings_from_report
from proxy.audit.table import format_table

__all__ = [
    "MODES",
    "AuditResult",
    "PageAudit",
    "ReportWriter",
    "Simulation",
    "SimulationError",
    "TrackerFinding",
    "TrackerRequest",
    "audit_document",
    "extract_links",
    "findings_from_report",
    "format_html",
    "format_json",
    "format_table",
    "html_path_for",
    "read_report",
    "scan_targets",
]


def format_json(result: AuditResult) -> str:
    """The whole audit as one JSON document (run settings, pages, requests, summary)."""
    return json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n"
