"""The audit's records: what was found on each page and which tracker requests were seen.

Both producers of an audit share these plain dataclasses: the mitmproxy addon (pages
rewritten as they stream through, and every request the browser sent to a catalogued
tracker host) and ``consentry scan`` (pages read from disk or crawled). Each record
turns into one JSON object (``as_dict``) and back (``*_from_dict``), which is also the
line format of the JSON-lines report. Standard library only: this module must not
import mitmproxy, aiohttp, jwt or pydantic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "AuditResult",
    "PageAudit",
    "TrackerFinding",
    "TrackerRequest",
    "now_iso",
]


def now_iso() -> str:
    """The current UTC time, to the second, as the report writes it."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class TrackerFinding:
    """One element of a page's HTML that the engine classified, and what it did to it."""

    tag: str
    vendor: str | None
    category: str | None
    action: str                 # "keep", "defer", "strip", "activate"
    url: str | None
    line: int
    offset: int
    context: str = ""           # "noscript", "template", "srcdoc", "svg" when inside one
    vendor_name: str | None = None   # the catalogue's display name ("Meta Pixel"), for readers
    source: str = "catalogue"   # what classified it: "catalogue", "rule", "author" or "unknown"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackerFinding:
        return cls(
            tag=str(data.get("tag", "")),
            vendor=data.get("vendor"),
            category=data.get("category"),
            action=str(data.get("action", "")),
            url=data.get("url"),
            line=int(data.get("line", 0)),
            offset=int(data.get("offset", 0)),
            context=str(data.get("context", "")),
            vendor_name=data.get("vendor_name"),
            source=str(data.get("source", "catalogue")),
        )


@dataclass(slots=True)
class PageAudit:
    """One HTML document: where it came from and the trackers found in it."""

    url: str
    site_id: str
    findings: list[TrackerFinding] = field(default_factory=list)
    status: int | None = None   # HTTP status when fetched; None for files
    error: str | None = None    # why the page could not be read, if it could not
    depth: int = 0              # link distance from a scan target (0 for the mitmproxy addon)
    time: str = ""
    # The categories the visitor had granted when the page was served (addon, visitor
    # mode: before and after a click on the banner); None when the consent was simulated.
    consent: str | None = None

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for finding in self.findings:
            totals[finding.action] = totals.get(finding.action, 0) + 1
        return totals

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": "page",
            "time": self.time,
            "url": self.url,
            "site": self.site_id,
            "status": self.status,
            "error": self.error,
            "depth": self.depth,
            "consent": self.consent,
            "trackers": [asdict(finding) for finding in self.findings],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageAudit:
        return cls(
            url=str(data.get("url", "")),
            site_id=str(data.get("site", "")),
            findings=[TrackerFinding.from_dict(item) for item in data.get("trackers", [])],
            status=data.get("status"),
            error=data.get("error"),
            depth=int(data.get("depth", 0)),
            time=str(data.get("time", "")),
            consent=data.get("consent"),
        )


@dataclass(slots=True)
class TrackerRequest:
    """One network request to a catalogued tracker host, seen by the mitmproxy addon.

    ``before_consent`` is True when the simulated consent refuses the tracker's category:
    the site sent it without consent (a leak Consentry's rewriting should prevent, or a
    request injected at run time that the browser-side guard must catch).
    """

    url: str
    host: str
    page: str | None            # the page that caused it (Referer), when known
    method: str
    vendor: str | None
    category: str
    before_consent: bool
    blocked: bool = False       # answered by the addon itself (consentry_block)
    time: str = ""
    vendor_name: str | None = None
    consent: str | None = None  # the visitor's granted categories at the time (visitor mode)

    def as_dict(self) -> dict[str, Any]:
        return {"type": "request", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackerRequest:
        return cls(
            url=str(data.get("url", "")),
            host=str(data.get("host", "")),
            page=data.get("page"),
            method=str(data.get("method", "GET")),
            vendor=data.get("vendor"),
            category=str(data.get("category", "")),
            before_consent=bool(data.get("before_consent", False)),
            blocked=bool(data.get("blocked", False)),
            time=str(data.get("time", "")),
            vendor_name=data.get("vendor_name"),
            consent=data.get("consent"),
        )


@dataclass(slots=True)
class AuditResult:
    """A whole run: the simulated consent, the mode, and everything seen."""

    consent: str                          # as given: "none", "all" or "analytics,marketing"
    granted: list[str]                    # the categories that consent allows, "necessary" included
    mode: str                             # "defer" or "strip" (or "policy" when each site's own applies)
    source: str = "scan"                  # "scan" or "mitmproxy"
    config: str | None = None             # the policy file, None for the built-in default
    block: bool = False
    started: str = field(default_factory=now_iso)
    pages: list[PageAudit] = field(default_factory=list)
    requests: list[TrackerRequest] = field(default_factory=list)

    def header_dict(self) -> dict[str, Any]:
        """The first line of the JSON-lines report: how the run was set up."""
        return {
            "type": "run",
            "time": self.started,
            "source": self.source,
            "consent": self.consent,
            "granted": list(self.granted),
            "mode": self.mode,
            "config": self.config,
            "block": self.block,
        }

    def as_dict(self) -> dict[str, Any]:
        header = self.header_dict()
        del header["type"]
        return {
            **header,
            "pages": [page.as_dict() for page in self.pages],
            "requests": [request.as_dict() for request in self.requests],
            "summary": self.summary(),
        }

    def unknown_hosts(self) -> list[tuple[str, int, int]]:
        """Third-party hosts the catalogue does not know: (host, elements, pages), most used first.

        Each is a decision the operator has to make once: a rule with the host and the
        category it belongs to (``necessary`` for the site's own CDN, a payment or a
        library host; the vendor's category otherwise).
        """
        from urllib.parse import urlsplit

        counts: dict[str, int] = {}
        pages: dict[str, set[str]] = {}
        for page in self.pages:
            for finding in page.findings:
                if finding.source != "unknown" or not finding.url:
                    continue
                url = finding.url if not finding.url.startswith("//") else "https:" + finding.url
                try:
                    host = (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
                except ValueError:
                    continue
                if host:
                    counts[host] = counts.get(host, 0) + 1
                    pages.setdefault(host, set()).add(page.url)
        return sorted(((host, count, len(pages[host])) for host, count in counts.items()), key=lambda item: (-item[1], item[0]))

    def summary(self) -> dict[str, Any]:
        """Totals a reader wants first: trackers found per action, leaks before consent."""
        actions: dict[str, int] = {}
        for page in self.pages:
            for action, count in page.counts().items():
                actions[action] = actions.get(action, 0) + count
        return {
            "pages": len(self.pages),
            "pages_with_errors": sum(1 for page in self.pages if page.error),
            "trackers": sum(len(page.findings) for page in self.pages),
            "actions": dict(sorted(actions.items())),
            "tracker_requests": len(self.requests),
            "before_consent": sum(1 for request in self.requests if request.before_consent),
            "blocked": sum(1 for request in self.requests if request.blocked),
            "unknown_third_party_hosts": {host: count for host, count, _ in self.unknown_hosts()},
        }

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> AuditResult:
        """Rebuild a run from JSON-lines records (the "run" line first, when present)."""
        result = cls(consent="none", granted=["necessary"], mode="defer")
        for record in records:
            kind = record.get("type")
            if kind == "run":
                result.consent = str(record.get("consent", "none"))
                result.granted = list(record.get("granted", ["necessary"]))
                result.mode = str(record.get("mode", "defer"))
                result.source = str(record.get("source", "scan"))
                result.config = record.get("config")
                result.block = bool(record.get("block", False))
                result.started = str(record.get("time", result.started))
            elif kind == "page":
                result.pages.append(PageAudit.from_dict(record))
            elif kind == "request":
                result.requests.append(TrackerRequest.from_dict(record))
        return result
