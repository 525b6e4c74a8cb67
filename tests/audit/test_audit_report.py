"""The audit's report formats: JSON lines written and read back, the text table, JSON and
the self-contained HTML report (escaped, no external resources)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from proxy.audit import (
    AuditResult,
    PageAudit,
    ReportWriter,
    TrackerFinding,
    TrackerRequest,
    format_html,
    format_json,
    format_table,
    html_path_for,
    read_report,
)

HOSTILE_URL = 'https://evil.test/"><script>alert(1)</script><img src=x onerror=alert(2)>'


def sample_result() -> AuditResult:
    result = AuditResult(consent="analytics", granted=["necessary", "analytics"], mode="defer", source="mitmproxy")
    result.pages.append(
        PageAudit(
            url="https://shop.test/",
            site_id="shop",
            status=200,
            findings=[
                TrackerFinding("script", "meta-pixel", "marketing", "defer", "https://connect.facebook.net/en_US/fbevents.js", 12, 340,
                               vendor_name="Meta <Pixel>"),
                TrackerFinding("img", "meta-pixel", "marketing", "defer", "https://www.facebook.com/tr?id=1", 20, 700, "noscript"),
                TrackerFinding("script", "google-analytics", "analytics", "keep", "https://www.google-analytics.com/analytics.js", 7, 120),
            ],
        )
    )
    result.pages.append(PageAudit(url=HOSTILE_URL, site_id="default", status=200, findings=[
        TrackerFinding("iframe", None, "marketing", "strip", HOSTILE_URL, 3, 40),
    ]))
    result.pages.append(PageAudit(url="https://shop.test/gone", site_id="shop", error="not fetched: timed out"))
    result.requests += [
        TrackerRequest("https://www.facebook.com/tr?id=1&ev=PageView", "www.facebook.com", "https://shop.test/", "GET",
                       "meta-pixel", "marketing", before_consent=True, blocked=False),
        TrackerRequest("https://connect.facebook.net/en_US/fbevents.js", "connect.facebook.net", "https://shop.test/", "GET",
                       "meta-pixel", "marketing", before_consent=True, blocked=True),
        TrackerRequest("https://www.google-analytics.com/g/collect", "www.google-analytics.com", "https://shop.test/", "POST",
                       "google-analytics", "analytics", before_consent=False),
    ]
    return result


def test_json_lines_round_trip(tmp_path: Path) -> None:
    result = sample_result()
    path = tmp_path / "audit.jsonl"
    writer = ReportWriter(path)
    writer.write_run(result)
    for page in result.pages:
        writer.write_page(page)
    for request in result.requests:
        writer.write_request(request)
    writer.close()

    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["run", "page", "page", "page", "request", "request", "request"]
    again = read_report(path)
    assert again.as_dict() == result.as_dict()


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    result = sample_result()
    path = tmp_path / "audit.jsonl"
    writer = ReportWriter(path)
    writer.write_run(result)
    writer.write_page(result.pages[0])
    writer.close()
    with path.open("a", encoding="utf-8") as file:
        file.write('{"type": "page", "url": "https://shop.te')   # the proxy was killed mid-write
    again = read_report(path)
    assert [page.url for page in again.pages] == ["https://shop.test/"]


def test_writing_after_close_drops_the_record_without_raising(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "a.jsonl")
    writer.close()
    writer.write_page(sample_result().pages[0])
    assert (tmp_path / "a.jsonl").read_text() == ""


def test_html_report_goes_next_to_the_json_lines_file() -> None:
    assert html_path_for("/tmp/run/audit.jsonl") == Path("/tmp/run/audit.html")
    assert html_path_for("report") == Path("report.html")


def test_summary_counts() -> None:
    summary = sample_result().summary()
    assert summary["pages"] == 3
    assert summary["pages_with_errors"] == 1
    assert summary["trackers"] == 4
    assert summary["actions"] == {"defer": 2, "keep": 1, "strip": 1}
    assert (summary["tracker_requests"], summary["before_consent"], summary["blocked"]) == (3, 2, 1)


def test_table_lists_every_finding_with_its_line_and_the_requests() -> None:
    text = format_table(sample_result())
    lines = text.splitlines()
    row = next(line for line in lines if "fbevents.js" in line)
    assert re.match(r"\s+12\s+script\s+meta-pixel\s+marketing\s+defer\s", row)
    assert any("img (noscript)" in line and line.split()[0] == "20" for line in lines)
    assert "not fetched: timed out" in text
    assert "3 request(s) to tracker hosts, 2 before consent, 1 blocked" in text
    request_row = next(line for line in lines if line.strip().startswith("meta-pixel") and "facebook" in line)
    assert request_row.split()[1:5] == ["marketing", "2", "2", "1"]


def test_table_shortens_long_urls_but_keeps_both_ends() -> None:
    result = sample_result()
    long_url = "https://tracker.test/" + "x" * 300 + "/END"
    result.pages[0].findings[0].url = long_url
    row = next(line for line in format_table(result).splitlines() if "tracker.test" in line)
    assert "…" in row and row.endswith("/END") and len(row) < 200


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_report_is_self_contained_and_escaped() -> None:
    document = format_html(sample_result())
    parser = _Collector()
    parser.feed(document)
    names = [tag for tag, _ in parser.tags]
    assert "script" not in names and "img" not in names and "iframe" not in names
    # Nothing is fetched when the report is opened: no src, no external href.
    for tag, attrs in parser.tags:
        assert "src" not in attrs, tag
        assert not (attrs.get("href") or "").startswith(("http", "//")), tag
    text = "".join(parser.text)
    assert HOSTILE_URL in text          # shown to the reader as text, intact
    assert "fbevents.js" in text and "meta-pixel" in text
    assert "Meta <Pixel>" in text and "<Pixel>" not in document   # display names shown, escaped
    assert "not fetched: timed out" in text


def test_html_report_highlights_requests_sent_before_consent() -> None:
    document = format_html(sample_result())
    leak_rows = re.findall(r'<tr class="leak">(.*?)</tr>', document)
    # Before consent and not blocked: only the pixel request that really went out.
    assert len(leak_rows) == 1 and "facebook.com/tr" in leak_rows[0]


def test_json_document_parses_and_matches_the_model() -> None:
    result = sample_result()
    data = json.loads(format_json(result))
    assert data["consent"] == "analytics"
    assert data["summary"] == result.summary()
    assert [p["url"] for p in data["pages"]] == [p.url for p in result.pages]
    assert data["pages"][0]["trackers"][0]["line"] == 12
