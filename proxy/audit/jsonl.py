"""The JSON-lines audit report: one JSON object per line, written as the run goes.

A run's first line describes it (``"type": "run"``: the simulated consent, the mode,
the policy file); then one ``"page"`` line per HTML document and one ``"request"``
line per request to a catalogued tracker, each flushed at once so the file can be
followed with ``tail -f`` and survives a killed proxy. ``read_report`` turns a file
back into an :class:`~proxy.audit.model.AuditResult`. Standard library only: this
module must not import mitmproxy, aiohttp, jwt or pydantic.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import IO, Any

from proxy.audit.model import AuditResult, PageAudit, TrackerRequest

__all__ = ["ReportWriter", "read_report", "html_path_for"]

log = logging.getLogger(__name__)


def html_path_for(report_path: str | Path) -> Path:
    """Where the HTML report goes: next to the JSON-lines file, same name, ``.html``."""
    path = Path(report_path)
    return path.with_name(path.stem + ".html") if path.suffix else path.with_name(path.name + ".html")


class ReportWriter:
    """Appends audit records to a JSON-lines file, one flushed line each.

    The file is truncated when the writer opens it: one file holds one run, so the
    summary and the HTML report built from it describe exactly that run.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # Opened here so a bad path fails when the option is set, not at the first page.
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            log.warning("audit report %s is closed; record dropped: %s", self.path, record.get("type"))
            return
        try:
            self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            self._file.flush()
        except OSError as error:   # a full disk must not break the page being proxied
            log.error("audit report %s: cannot write a %s record: %s", self.path, record.get("type"), error)

    def write_run(self, result: AuditResult) -> None:
        self.write(result.header_dict())

    def write_page(self, page: PageAudit) -> None:
        self.write(page.as_dict())

    def write_request(self, request: TrackerRequest) -> None:
        self.write(request.as_dict())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def closed(self) -> bool:
        return self._file is None


def read_report(path: str | Path) -> AuditResult:
    """Read a JSON-lines report back; a torn last line (a killed proxy) is skipped."""
    records: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("%s:%d: not a JSON line, skipped", path, number)
    return AuditResult.from_records(records)
