"""``scan_targets``: files from disk and a crawl of a loopback site to depth 1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from proxy.audit import SimulationError, format_table, scan_targets
from proxy.catalogue import Catalogue
from proxy.policy import load_config

GA = "https://www.google-analytics.com/analytics.js"
PIXEL = "https://connect.facebook.net/en_US/fbevents.js"


def page(*body_lines: str) -> str:
    return "\n".join(["<!DOCTYPE html>", "<html><head><title>t</title>", *body_lines, "</head><body></body></html>", ""])


TRACKER_PAGE = page(
    '<script src="/static/site.js"></script>',   # line 3: first party, not a tracker
    f'<script async src="{GA}"></script>',        # line 4
    "<p>text</p>",
    f'<script src="{PIXEL}"></script>',           # line 6
)


def vendor_of(url: str) -> tuple[str, str]:
    vendor = Catalogue.default().vendor_for_url(url)
    assert vendor is not None, f"the catalogue should know {url}"
    return vendor.id, vendor.category


@pytest.fixture
def tracker_file(tmp_path: Path) -> Path:
    path = tmp_path / "page.html"
    path.write_text(TRACKER_PAGE, encoding="utf-8")
    return path


def test_a_file_lists_each_tracker_with_vendor_category_line_and_action(tracker_file: Path) -> None:
    result = scan_targets([str(tracker_file)], consent="none")
    assert len(result.pages) == 1
    found = {f.url: f for f in result.pages[0].findings}
    assert set(found) == {GA, PIXEL}
    for url, line in ((GA, 4), (PIXEL, 6)):
        vendor, category = vendor_of(url)
        assert (found[url].vendor, found[url].category, found[url].line, found[url].tag) == (vendor, category, line, "script")
        assert found[url].action == "defer"
        assert found[url].vendor_name == Catalogue.default().vendors[vendor].name   # for human readers
    assert result.pages[0].status is None and result.pages[0].error is None


def test_consent_changes_what_the_policy_would_do(tracker_file: Path) -> None:
    everything = scan_targets([str(tracker_file)], consent="all")
    assert {f.action for f in everything.pages[0].findings} == {"keep"}

    _, ga_category = vendor_of(GA)
    _, pixel_category = vendor_of(PIXEL)
    assert ga_category != pixel_category, "the test needs two categories"
    partial = scan_targets([str(tracker_file)], consent=ga_category)
    actions = {f.url: f.action for f in partial.pages[0].findings}
    assert actions == {GA: "keep", PIXEL: "defer"}
    assert partial.granted == ["necessary", ga_category]


def test_strip_mode(tracker_file: Path) -> None:
    result = scan_targets([str(tracker_file)], consent="none", mode="strip")
    assert {f.action for f in result.pages[0].findings} == {"strip"}
    assert result.mode == "strip"


def test_a_missing_file_is_reported_not_raised(tmp_path: Path, tracker_file: Path) -> None:
    result = scan_targets([str(tmp_path / "nope.html"), str(tracker_file)])
    assert result.pages[0].error and result.pages[1].error is None
    assert "nope.html" in format_table(result)


@pytest.mark.parametrize(
    ("kwargs", "setting", "hint"),
    [
        ({"consent": "analytic"}, "consent", '"analytics"'),
        ({"consent": "analytics,bogus"}, "consent", "Use none, all, or a comma list"),
        ({"mode": "strp"}, "mode", '"strip"'),
        ({"config_path": "/nonexistent/site.toml"}, "config", "no such file"),
    ],
)
def test_bad_settings_raise_with_the_setting_and_the_fix(tracker_file: Path, kwargs: dict, setting: str, hint: str) -> None:
    with pytest.raises(SimulationError) as caught:
        scan_targets([str(tracker_file)], **kwargs)
    assert caught.value.setting == setting
    assert hint in str(caught.value)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.toml"
    path.write_text('[sites."shop.test"]\nupstream = "http://127.0.0.1:8000"\nmode = "strip"\n', encoding="utf-8")
    return path


def test_the_policy_files_site_and_mode_apply(tracker_file: Path, policy_file: Path) -> None:
    result = scan_targets([str(tracker_file)], config_path=str(policy_file))
    assert result.pages[0].site_id == "shop.test"
    assert {f.action for f in result.pages[0].findings} == {"strip"}
    assert result.mode.startswith("strip") and result.config == str(policy_file)
    # The CLI passes the loaded config instead of the path: the report still names the file.
    assert scan_targets([str(tracker_file)], config=load_config(policy_file)).config == str(policy_file)


def test_an_unknown_site_names_the_known_ones(tracker_file: Path, policy_file: Path) -> None:
    with pytest.raises(SimulationError) as caught:
        scan_targets([str(tracker_file)], config_path=str(policy_file), site_id="shop.tst")
    assert caught.value.setting == "site"
    assert '"shop.test"' in str(caught.value)


# -- crawling a loopback site -------------------------------------------------------------


class Site(BaseHTTPRequestHandler):
    pages: dict[str, tuple[int, str, str]] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.hits.append(self.path)
        status, content_type, body = self.pages.get(self.path, (404, "text/html", page("<p>not found</p>")))
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    port = server.server_address[1]
    Site.hits = []
    Site.pages = {
        "/": (200, "text/html; charset=utf-8", page(
            f'<script src="{GA}"></script>',
            '<a href="/about">about</a> <a href="/about#team">team</a> <a href="/missing">x</a>',
            '<a href="/brochure.pdf">pdf</a> <a href="/data">data</a>',
            f'<a href="http://localhost:{port}/elsewhere">another host</a>',
            '<a href="mailto:someone@example.test">mail</a>',
        )),
        "/about": (200, "text/html", page(f'<script src="{PIXEL}"></script>', '<a href="/deeper">deeper</a>')),
        "/deeper": (200, "text/html", page(f'<script src="{GA}"></script>')),
        "/elsewhere": (200, "text/html", page("<p>other host</p>")),
        "/data": (200, "application/json", '{"not": "html"}'),
    }
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_crawl_follows_same_site_links_to_the_depth(site: str) -> None:
    calls: list[tuple[int, int]] = []
    result = scan_targets([site + "/"], depth=1, progress=lambda done, total: calls.append((done, total)), timeout=10)
    by_url = {p.url: p for p in result.pages}
    # /about once (fragment dropped), /missing audited with its 404, /data not a page,
    # the other host and the pdf never fetched, /deeper beyond the depth.
    assert set(by_url) == {site + "/", site + "/about", site + "/missing", }
    assert by_url[site + "/"].depth == 0 and by_url[site + "/about"].depth == 1
    assert by_url[site + "/missing"].status == 404
    assert [f.url for f in by_url[site + "/"].findings] == [GA]
    assert [f.url for f in by_url[site + "/about"].findings] == [PIXEL]
    assert "/deeper" not in Site.hits and "/brochure.pdf" not in Site.hits and "/elsewhere" not in Site.hits
    assert Site.hits.count("/about") == 1
    # progress: one call per fetched target, the last one complete.
    assert [done for done, _ in calls] == list(range(1, len(calls) + 1))
    assert calls[-1][0] == calls[-1][1] == len(Site.hits)


def test_depth_zero_fetches_only_the_targets(site: str) -> None:
    result = scan_targets([site + "/", site + "/about"], depth=0, timeout=10)
    assert [p.url for p in result.pages] == [site + "/", site + "/about"]
    assert sorted(Site.hits) == ["/", "/about"]


def test_other_hosts_are_followed_when_not_same_site(site: str) -> None:
    result = scan_targets([site + "/"], depth=1, same_site=False, timeout=10)
    assert any(p.url.endswith("/elsewhere") and p.url.startswith("http://localhost:") for p in result.pages)


def test_a_url_nobody_answers_is_reported(site: str) -> None:
    import socket

    with socket.socket() as sock:   # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = scan_targets([f"http://127.0.0.1:{port}/", site + "/about"], timeout=5)
    assert result.pages[0].error and result.pages[0].error.startswith("not fetched")
    assert result.pages[1].error is None and result.pages[1].findings
