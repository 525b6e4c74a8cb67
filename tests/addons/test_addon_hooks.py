"""The mitmproxy addon with mitmproxy's own test doubles (``taddons``, ``tflow``, ``tutils``):
options and their validation, the streaming rewrite, compressed bodies, blocking, the report."""

from __future__ import annotations

import gzip
import importlib.util
import json
import logging
import sys
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import brotli
import pytest
import zstandard

with warnings.catch_warnings():
    # mitmproxy imports ldap3, which touches pyasn1 names deprecated upstream; not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    from mitmproxy import exceptions, http
    from mitmproxy.test import taddons, tflow, tutils

from proxy.catalogue import Catalogue

ADDON_PATH = Path(__file__).resolve().parents[2] / "addons" / "consentry.py"

GA = "https://www.google-analytics.com/analytics.js"
PIXEL = "https://connect.facebook.net/en_US/fbevents.js"
PAGE = (
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Shop</title>\n"
    '<script src="/static/site.js"></script>\n'
    f'<script async src="{GA}"></script>\n'
    f'<script src="{PIXEL}"></script>\n'
    "</head><body><p>Hello</p></body></html>\n"
).encode()


def category_of(url: str) -> str:
    vendor = Catalogue.default().vendor_for_url(url)
    assert vendor is not None
    return vendor.category


@pytest.fixture(scope="module")
def addon_module() -> ModuleType:
    """addons/consentry.py is a script, not a package: load it by path, as mitmproxy does."""
    name = "consentry_mitmproxy_addon"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ADDON_PATH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def addon(addon_module: ModuleType) -> Iterator[Any]:
    instance = addon_module.Consentry()
    yield instance
    instance.done()   # closes any report file the test opened


@pytest.fixture
def tctx(addon: Any) -> Iterator[taddons.context]:
    with taddons.context(addon) as context:
        yield context


def html_flow(body: bytes = PAGE, *, headers: dict[str, str] | None = None, url: str = "http://shop.test/") -> http.HTTPFlow:
    request = tutils.treq(headers=http.Headers(), content=b"")
    request.url = url
    response = tutils.tresp(
        headers=http.Headers(**(headers or {"content-type": "text/html; charset=utf-8"}), content_length=str(len(body))),
        content=None,
    )
    return tflow.tflow(req=request, resp=response)


def run_stream(flow: http.HTTPFlow, body: bytes, sizes: int = 7) -> bytes:
    """Feed ``body`` through the stream callable in small chunks, as mitmproxy would."""
    stream = flow.response.stream
    assert callable(stream), "the addon should stream this response"
    pieces: list[bytes] = []
    for start in range(0, len(body), sizes):
        pieces += stream(body[start : start + sizes])
    pieces += stream(b"")
    # mitmproxy sends each item as one chunk; an empty one would end a chunked body early.
    assert all(isinstance(piece, bytes) and piece for piece in pieces)
    return b"".join(pieces)


# -- options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "name", "hint"),
    [
        ({"consentry_consent": "analytic"}, "consentry_consent", '"analytics"'),
        ({"consentry_consent": "analytics,nonsense"}, "consentry_consent", "Use none, all, or a comma list"),
        ({"consentry_mode": "strp"}, "consentry_mode", '"strip"'),
        ({"consentry_config": "/nonexistent/policy.toml"}, "consentry_config", "no such file"),
        ({"consentry_report": "/nonexistent-dir/audit.jsonl"}, "consentry_report", "existing, writable directory"),
    ],
)
def test_bad_options_raise_options_error_naming_the_option_and_fix(tctx: taddons.context, addon: Any, options: dict, name: str, hint: str) -> None:
    with pytest.raises(exceptions.OptionsError) as caught:
        tctx.configure(addon, **options)
    message = str(caught.value)
    assert message.startswith(name + ":")
    assert hint in message


def test_a_bad_policy_file_reports_its_problems(tctx: taddons.context, addon: Any, tmp_path: Path) -> None:
    policy = tmp_path / "site.toml"
    policy.write_text('[sites."shop.test"]\nmode = "strp"\n', encoding="utf-8")
    with pytest.raises(exceptions.OptionsError) as caught:
        tctx.configure(addon, consentry_config=str(policy))
    assert str(caught.value).startswith("consentry_config:")
    assert str(policy) in str(caught.value)


def test_a_rejected_option_keeps_the_previous_settings(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon, consentry_consent="all")
    with pytest.raises(exceptions.OptionsError):
        tctx.configure(addon, consentry_consent="bogus")
    assert tctx.options.consentry_consent == "all"
    assert addon.simulation.consent_text == "all"


def test_defaults_simulate_no_consent_with_the_builtin_policy(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    assert addon.simulation is not None
    assert addon.simulation.granted == ["necessary"]
    assert addon.block is False


# -- responses ------------------------------------------------------------------------------


def test_html_is_rewritten_as_it_streams(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon, consentry_consent="none")
    flow = html_flow()
    addon.responseheaders(flow)
    assert "content-length" not in flow.response.headers
    assert flow.response.headers["transfer-encoding"] == "chunked"
    out = run_stream(flow, PAGE).decode()
    assert f'data-consent-src="{GA}"' in out and f'src="{GA}"' not in out.replace("data-consent-src", "")
    assert f'data-consent-src="{PIXEL}"' in out
    assert '<script src="/static/site.js"></script>' in out      # first party stays
    assert 'type="text/plain"' in out
    assert out.endswith("</html>\n")


def test_strip_mode_removes_the_trackers(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon, consentry_mode="strip")
    flow = html_flow()
    addon.responseheaders(flow)
    out = run_stream(flow, PAGE).decode()
    assert GA not in out and PIXEL not in out
    assert '<script src="/static/site.js"></script>' in out


def test_full_consent_leaves_the_bytes_identical(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon, consentry_consent="all")
    flow = html_flow()
    addon.responseheaders(flow)
    assert run_stream(flow, PAGE, sizes=3) == PAGE


def test_a_consented_category_stays_live(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon, consentry_consent=category_of(GA))
    flow = html_flow()
    addon.responseheaders(flow)
    out = run_stream(flow, PAGE).decode()
    assert f'<script async src="{GA}"></script>' in out
    assert f'data-consent-src="{PIXEL}"' in out


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/javascript", "image/png", "text/plain"],
)
def test_non_html_is_not_touched(tctx: taddons.context, addon: Any, content_type: str) -> None:
    tctx.configure(addon)
    flow = html_flow(headers={"content-type": content_type})
    addon.responseheaders(flow)
    assert not flow.response.stream
    assert flow.response.headers["content-length"] == str(len(PAGE))


def test_head_responses_are_not_touched(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    head = html_flow()
    head.request.method = "HEAD"
    addon.responseheaders(head)
    assert not head.response.stream


def test_a_byte_range_of_a_page_passes_only_when_nothing_must_change(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    partial = html_flow()
    partial.response.status_code = 206
    addon.responseheaders(partial)
    assert partial.response.status_code == 502          # never rewritten as a fragment, never leaked
    tctx.configure(addon, consentry_consent="all")
    partial = html_flow()
    partial.response.status_code = 206
    addon.responseheaders(partial)
    assert partial.response.status_code == 206 and not partial.response.stream


@pytest.mark.parametrize("headers", [
    {"content-type": "text/plain, text/html"},
    {"content-type": "text/html x"},
    {"content-type": "unknown/unknown"},
    {"content-type": "application/xhtml+xml"},
    {"content-type": 'text/html;x="a,text/plain"'},
])
def test_what_a_browser_renders_as_html_is_streamed_through_the_rewriter(tctx: taddons.context, addon: Any,
                                                                      headers: dict[str, str]) -> None:
    tctx.configure(addon)
    flow = html_flow(headers=headers)
    addon.responseheaders(flow)
    if flow.metadata.get("consentry_sniff"):
        flow.response.content = PAGE
        addon.response(flow)
        out = flow.response.content
    else:
        out = run_stream(flow, PAGE)
    assert f'data-consent-src="{GA}"'.encode() in out


def test_a_response_without_content_type_is_sniffed(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    flow = html_flow(headers={})
    flow.response.headers.pop("content-type", None)
    addon.responseheaders(flow)
    flow.response.content = PAGE
    addon.response(flow)
    assert f'data-consent-src="{GA}"'.encode() in flow.response.content
    assert flow.response.headers["content-length"] == str(len(flow.response.raw_content))
    other = html_flow(headers={})
    other.response.headers.pop("content-type", None)
    addon.responseheaders(other)
    other.response.content = b"GIF89a" + PAGE
    addon.response(other)
    assert other.response.content == b"GIF89a" + PAGE


def test_a_refresh_header_to_a_refused_tracker_is_dropped(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    flow = html_flow(headers={"content-type": "image/png", "refresh": f"0; url={GA}"})
    addon.responseheaders(flow)
    assert "refresh" not in flow.response.headers
    kept = html_flow(headers={"content-type": "image/png", "refresh": "3; url=/next"})
    addon.responseheaders(kept)
    assert kept.response.headers["refresh"] == "3; url=/next"


def test_etag_and_vary_name_the_consent_state_like_the_server(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    flow = html_flow(headers={"content-type": "text/html", "etag": '"abc"', "vary": "Accept-Encoding"})
    addon.responseheaders(flow)
    etag = flow.response.headers["etag"]
    assert etag.startswith('W/"abc.cs-')
    assert flow.response.headers["vary"] == "Accept-Encoding, Cookie, Sec-GPC"
    again = html_flow()
    again.request.headers["if-none-match"] = etag
    addon.requestheaders(again)
    assert again.request.headers["if-none-match"] == '"abc"'


def test_the_addon_loads_neither_aiohttp_nor_server_modules() -> None:
    """In a fresh interpreter, as mitmdump loads it (issue 17: a thin adapter)."""
    import json
    import subprocess

    code = (
        "import importlib.util, json, sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        f"spec = importlib.util.spec_from_file_location('consentry_addon', {str(ADDON_PATH)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = set(json.loads(out.stdout))
    assert "mitmproxy" in loaded and "proxy.engine" in loaded and "proxy.response" in loaded
    assert not {name for name in loaded if name == "aiohttp" or name.startswith(("aiohttp.", "proxy.server"))}


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("coding", sorted(COMPRESSORS))
def test_compressed_html_is_decoded_and_rewritten(tctx: taddons.context, addon: Any, coding: str) -> None:
    tctx.configure(addon)
    body = COMPRESSORS[coding](PAGE)
    flow = html_flow(body, headers={"content-type": "text/html", "content-encoding": coding})
    addon.responseheaders(flow)
    assert "content-encoding" not in flow.response.headers
    out = run_stream(flow, body, sizes=5).decode()
    assert f'data-consent-src="{GA}"' in out
    assert "<p>Hello</p>" in out


def test_html_in_an_unknown_coding_is_withheld_and_reported(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    body = b"<script src='" + GA.encode() + b"'></script>"   # stands in for bytes we cannot decode
    flow = html_flow(body, headers={"content-type": "text/html", "content-encoding": "dcb"})
    addon.responseheaders(flow)
    assert flow.response.status_code == 502
    assert "content-encoding" not in flow.response.headers
    out = run_stream(flow, body)
    assert GA.encode() not in out and b"dcb" in out
    assert int(flow.response.headers["content-length"]) == len(out)
    assert addon.result.pages[-1].error and "dcb" in addon.result.pages[-1].error


def test_only_decodable_codings_are_asked_for(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    flow = html_flow()
    flow.request.headers["accept-encoding"] = "gzip, deflate, br, zstd, dcb, dcz"
    addon.requestheaders(flow)
    assert flow.request.headers["accept-encoding"] == "gzip, deflate, br, zstd"
    flow.request.headers["accept-encoding"] = "dcb"
    addon.requestheaders(flow)
    assert "accept-encoding" not in flow.request.headers


def test_stream_large_bodies_does_not_bypass_the_rewrite(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    flow = html_flow()
    flow.response.stream = True   # what mitmproxy's streambodies addon sets for large bodies
    addon.responseheaders(flow)
    assert f'data-consent-src="{GA}"' in run_stream(flow, PAGE).decode()


def test_corrupt_compressed_body_is_withheld_not_leaked(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    body = gzip.compress(PAGE)
    corrupt = body[:20] + b"\xff" * 40 + body[60:]
    flow = html_flow(corrupt, headers={"content-type": "text/html", "content-encoding": "gzip"})
    addon.responseheaders(flow)
    out = run_stream(flow, corrupt, sizes=64)
    assert GA.encode() not in out
    assert addon.result.pages[-1].error


def test_refused_cookies_and_preloads_are_dropped_from_headers(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    flow = html_flow()
    flow.response.headers.add("set-cookie", "_ga=GA1.1.123; Path=/")
    flow.response.headers.add("set-cookie", "session=abc; Path=/; HttpOnly")
    flow.response.headers.add("link", f"<{GA}>; rel=preload; as=script, </static/site.css>; rel=preload; as=style")
    addon.responseheaders(flow)
    cookies = flow.response.headers.get_all("set-cookie")
    assert cookies == ["session=abc; Path=/; HttpOnly"]
    assert flow.response.headers.get_all("link") == ["</static/site.css>; rel=preload; as=style"]


# -- requests to trackers -----------------------------------------------------------------


def tracker_flow(url: str = "https://www.google-analytics.com/g/collect?v=2", referer: str | None = "http://shop.test/") -> http.HTTPFlow:
    request = tutils.treq(headers=http.Headers(), content=b"")
    request.url = url
    if referer:
        request.headers["referer"] = referer
    return tflow.tflow(req=request)


def test_block_answers_refused_trackers_with_403(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon, consentry_block=True)
    flow = tracker_flow()
    addon.request(flow)
    assert flow.response is not None and flow.response.status_code == 403
    assert flow.response.headers["x-consentry-blocked"].startswith(Catalogue.default().vendor_for_url(flow.request.url).id)
    record = addon.result.requests[-1]
    assert record.before_consent and record.blocked


def test_without_block_the_request_goes_out_and_is_flagged(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon, consentry_block=False)
    flow = tracker_flow()
    addon.request(flow)
    assert flow.response is None
    record = addon.result.requests[-1]
    assert record.before_consent and not record.blocked
    assert record.page == "http://shop.test/" and record.category == category_of(GA)
    vendor = Catalogue.default().vendor_for_url(GA)
    assert vendor is not None and (record.vendor, record.vendor_name) == (vendor.id, vendor.name)


def test_consented_trackers_are_neither_blocked_nor_flagged(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon, consentry_block=True, consentry_consent="all")
    flow = tracker_flow()
    addon.request(flow)
    assert flow.response is None
    assert addon.result.requests[-1].before_consent is False


def test_first_party_requests_are_not_recorded(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon, consentry_block=True)
    flow = tracker_flow("http://shop.test/static/site.js")
    addon.request(flow)
    assert flow.response is None
    assert addon.result.requests == []


def test_blocked_flows_are_not_rewritten(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon, consentry_block=True)
    flow = tracker_flow()
    addon.request(flow)
    flow.response.headers["content-type"] = "text/html"
    addon.responseheaders(flow)
    assert not flow.response.stream


# -- the report --------------------------------------------------------------------------------


def test_report_lines_summary_and_html(tctx: taddons.context, addon: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    report = tmp_path / "audit.jsonl"
    tctx.configure(addon, consentry_report=str(report), consentry_block=True)
    flow = html_flow()
    addon.responseheaders(flow)
    run_stream(flow, PAGE)
    addon.request(tracker_flow(PIXEL))

    records = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert [r["type"] for r in records] == ["run", "page", "request"]   # written while running
    assert records[0]["consent"] == "none" and records[0]["block"] is True
    assert {t["url"]: t["action"] for t in records[1]["trackers"]} == {GA: "defer", PIXEL: "defer"}
    assert records[1]["trackers"][0]["line"] == 4
    assert records[2]["url"] == PIXEL and records[2]["before_consent"] and records[2]["blocked"]

    with caplog.at_level(logging.INFO):
        addon.done()
    summary = "\n".join(r.getMessage() for r in caplog.records)
    assert "consentry audit summary" in summary and "fbevents.js" in summary
    html = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "fbevents.js" in html


def test_changing_settings_starts_a_new_run_in_the_same_file(tctx: taddons.context, addon: Any, tmp_path: Path) -> None:
    report = tmp_path / "audit.jsonl"
    tctx.configure(addon, consentry_report=str(report))
    tctx.configure(addon, consentry_consent="all")
    runs = [json.loads(line) for line in report.read_text().splitlines() if '"type":"run"' in line]
    assert [run["consent"] for run in runs] == ["none", "all"]


def test_report_command_writes_the_html_without_ending_the_run(tctx: taddons.context, addon: Any, tmp_path: Path) -> None:
    report = tmp_path / "audit.jsonl"
    tctx.configure(addon, consentry_report=str(report))
    flow = html_flow()
    addon.responseheaders(flow)
    run_stream(flow, PAGE)
    tctx.master.commands.call("consentry.report")
    assert "analytics.js" in (tmp_path / "audit.html").read_text(encoding="utf-8")
    addon.request(tracker_flow(PIXEL))   # the run goes on
    assert len(addon.result.requests) == 1 and len(addon.result.pages) == 1


def test_each_host_gets_its_site_and_other_hosts_the_builtin_policy(tctx: taddons.context, addon: Any, tmp_path: Path) -> None:
    policy = tmp_path / "site.toml"
    policy.write_text('[sites."shop.test"]\nupstream = "http://127.0.0.1:8000"\nmode = "strip"\n', encoding="utf-8")
    tctx.configure(addon, consentry_config=str(policy))
    shop, other = html_flow(url="http://shop.test/"), html_flow(url="http://news.test/")
    for flow in (shop, other):
        addon.responseheaders(flow)
    shop_out, other_out = run_stream(shop, PAGE).decode(), run_stream(other, PAGE).decode()
    assert GA not in shop_out                                   # shop.test's own mode: strip
    assert f'data-consent-src="{GA}"' in other_out              # built-in policy: defer
    assert [page.site_id for page in addon.result.pages] == ["shop.test", "default"]


def test_output_flows_before_the_body_ends(tctx: taddons.context, addon: Any) -> None:
    tctx.configure(addon)
    filler = b"<p>" + b"lorem ipsum " * 20_000 + b"</p>\n"
    body = PAGE.replace(b"</body>", filler + b"</body>")
    flow = html_flow(body)
    addon.responseheaders(flow)
    first = b"".join(flow.response.stream(body[: len(body) // 2]))
    assert len(first) > len(body) // 4        # streamed, not held back until the end
    rest = b"".join(flow.response.stream(body[len(body) // 2 :]) + flow.response.stream(b""))
    assert (first + rest).count(b"lorem ipsum") == 20_000
