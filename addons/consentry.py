"""Consentry as a mitmproxy addon: browse any site with a consent policy applied, and audit it.

Run ``mitmdump -s addons/consentry.py`` (or ``mitmproxy`` / ``mitmweb``), as a forward
proxy or with ``--mode reverse:https://site``. HTML responses are rewritten as they
stream through by the same engine the Consentry proxy uses (this file holds no
rewriting logic: it decodes the content coding, feeds the engine and records its
report). Every request to a catalogued tracker host is recorded too, flagged "before
consent" when the simulated consent refuses its category, and with ``consentry_block``
answered ``403`` by the proxy instead of reaching the tracker. Options (``--set``):
``consentry_config``, ``consentry_consent``, ``consentry_mode``, ``consentry_report``,
``consentry_block``, ``consentry_receipts``; they are checked once in ``configure`` and a bad one raises
``OptionsError`` naming the option and the fix. When mitmproxy stops, the summary table
goes to mitmproxy's log and an HTML report is written next to the JSON-lines report.

With ``consentry_consent=visitor`` the addon is the product itself: the consent comes
from the visitor's consent cookie, every page gets the banner (and the no-JavaScript
form), and the consent API under each site's consent path (``/_consent``) is answered
by the addon from the same route table and the same sans-io decision core as the
server (``proxy.api``), with receipts in a local store (``consentry_receipts``). Click
Accept or Reject on any live site and watch what the browser loads next; the audit
records the visitor's consent with every page and tracker request, so the report shows
before and after. This is the only module of Consentry that imports mitmproxy; it never
prints, and it imports neither aiohttp nor ``proxy.server``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from mitmproxy import command, ctx, exceptions, http

try:
    import proxy.audit  # noqa: F401  (installed: pip install -e ".[mitmproxy]")
except ImportError:  # run from a clean clone: mitmproxy puts only addons/ on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.audit import (
    AuditResult,
    PageAudit,
    ReportWriter,
    Simulation,
    SimulationError,
    TrackerRequest,
    format_html,
    format_table,
    html_path_for,
)
from proxy.api import decisions, routes
from proxy.api.openapi import openapi_json
from proxy.audit.model import now_iso
from proxy.consent import ConsentState, KeyRing, read_consent, status_json
from proxy.engine import Engine, Report
from proxy.response.codings import SUPPORTED, DecodeChain
from proxy.response.headers import (
    consent_etag,
    csp_nonce,
    filter_accept_encoding,
    merge_vary,
    refresh_url,
    upstream_if_none_match,
)
from proxy.response.plan import ResponsePlan, plan_response
from proxy.response.sniff import sniff

if TYPE_CHECKING:  # the policy model, the rewriter and the store, for mypy only
    from proxy.html.rewriter import Rewriter
    from proxy.policy import SitePolicy
    from proxy.receipts import ReceiptStore

log = logging.getLogger(__name__)

OPTIONS = frozenset({"consentry_config", "consentry_consent", "consentry_mode", "consentry_report", "consentry_block",
                     "consentry_receipts"})
VISITOR = "visitor"
MAX_CONSENT_BODY = 16_384
BLOCK_STATUS = 403
BLOCKED_HEADER = "X-Consentry-Blocked"


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).netloc or None
    except ValueError:
        return None


def _loading_script() -> bool:
    """Whether mitmproxy's script loader (``-s addons/consentry.py``) is calling us now."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "loadscript" and "mitmproxy" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


class PageStream:
    """The ``flow.response.stream`` callable for one HTML response.

    mitmproxy calls it with every body chunk as it arrives and once with ``b""`` at the
    end; whatever it returns goes to the client. Chunks are decoded (when the upstream
    compressed them) and fed to the engine's rewriter; at the end ``finish(error)`` is
    called once (error None, or why the rest of the page was withheld).
    """

    def __init__(self, rewriter: Rewriter, decoder: DecodeChain | None, finish: Callable[[str | None], None],
                 tail: Callable[[Rewriter], bytes] | None = None) -> None:
        self.rewriter = rewriter
        self.decoder = decoder
        self.finish = finish
        self.tail = tail   # what follows the last byte (the no-JS banner), given the rewriter
        self.failed: str | None = None

    def _decoded(self, chunk: bytes) -> Iterator[bytes]:
        if self.decoder is None:
            if chunk:
                yield chunk
            return
        if chunk:
            yield from self.decoder.decode(chunk)
        else:
            yield from self.decoder.flush()

    def __call__(self, chunk: bytes) -> list[bytes]:
        # A list, never b"": mitmproxy sends every returned item as a chunk, and an empty
        # chunk on a chunked HTTP/1.1 response is "0\r\n\r\n", the end of the body.
        if self.failed is not None:
            return []
        try:
            out = b"".join(self.rewriter.feed(data) for data in self._decoded(chunk))
            if not chunk:
                out += self.rewriter.close()
                if self.tail is not None:
                    out += self.tail(self.rewriter)
                self.finish(None)
        except Exception as error:  # noqa: BLE001 - mid-stream all we can do is stop
            # Fail closed: what was not rewritten is not sent. The page ends here, truncated.
            self.failed = f"{type(error).__name__}: {error}"
            log.error("consentry: rewriting stopped, rest of the page withheld: %s", self.failed)
            self.finish(self.failed)
            return []
        return [out] if out else []


class Consentry:
    """The addon: options, validation, and the hooks that adapt mitmproxy flows to the engine."""

    def __init__(self) -> None:
        self.simulation: Simulation | None = None
        self.setup_error: str | None = None
        self.writer: ReportWriter | None = None
        self.result: AuditResult | None = None
        self.block = False
        self.visitor: VisitorMode | None = None   # consentry_consent=visitor

    # -- options --------------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        loader.add_option(
            "consentry_config", str, "",
            "Consentry policy file (TOML, see config/example.toml). Empty: the built-in default policy.",
        )
        loader.add_option(
            "consentry_consent", str, "none",
            "Consent to simulate: none, all, or a comma list of categories (e.g. analytics,preferences); "
            "visitor: the visitor's own choice, made in the injected banner (the consent API is answered too).",
        )
        loader.add_option(
            "consentry_mode", str, "",
            "What to do with trackers the consent refuses: defer (inert, restorable) or strip. "
            "Empty: each site's mode from the policy.",
        )
        loader.add_option(
            "consentry_report", str, "",
            "Path of the JSON-lines audit report; the HTML report is written next to it (.html) "
            "when mitmproxy stops. Empty: no files, the summary goes to the log only.",
        )
        loader.add_option(
            "consentry_receipts", str, "",
            "With consentry_consent=visitor: where decisions are stored, a SQLite file path or a "
            "receipts URL. Empty: the policy's [receipts] url.",
        )
        loader.add_option(
            "consentry_block", bool, False,
            "Also refuse network requests to trackers the consent refuses (answered 403 by the proxy).",
        )

    def configure(self, updated: set[str]) -> None:
        try:
            self._configure(updated)
        except exceptions.OptionsError as error:
            if not _loading_script():
                raise   # a change at run time: mitmproxy refuses it and keeps the old value
            # While mitmproxy loads this script it prints a raised error with a traceback:
            # one line instead (mitmdump then stops: "Error logged during startup, exiting...").
            self.setup_error = str(error)
            log.error("%s", error)

    def _configure(self, updated: set[str]) -> None:
        if self.simulation is not None and not (OPTIONS & set(updated)):
            return
        options = ctx.options
        visitor = options.consentry_consent.strip().lower() == VISITOR
        try:
            simulation = Simulation(
                config_path=options.consentry_config or None,
                consent="none" if visitor else options.consentry_consent,
                mode=options.consentry_mode or None,
            )
        except SimulationError as error:
            self.setup_error = f"consentry_{error.setting}: {error}"
            raise exceptions.OptionsError(self.setup_error) from None
        visitor_mode = VisitorMode.make(simulation, options.consentry_receipts) if visitor else None
        if self.visitor is not None and self.visitor is not visitor_mode:
            self.visitor.retire()
        report_path = options.consentry_report.strip()
        wanted = Path(report_path).expanduser() if report_path else None
        current = self.writer.path if self.writer is not None else None
        # The same file stays open (a settings change appends a new "run" line to it).
        writer = self.writer if wanted == current else self._open_report(report_path)
        if self.result is not None:
            self._finish_run()   # settings changed mid-session: the old run ends here
        if writer is not self.writer and self.writer is not None:
            self.writer.close()
        self.simulation, self.writer, self.setup_error = simulation, writer, None
        self.visitor = visitor_mode
        self.block = bool(options.consentry_block)
        self.result = AuditResult(
            consent=VISITOR if visitor_mode is not None else simulation.consent_text,
            granted=simulation.granted,
            mode=simulation.mode_label,
            source="mitmproxy",
            config=simulation.config_path,
            block=self.block,
        )
        if self.writer is not None:
            self.writer.write_run(self.result)
        log.info(
            "consentry: simulating consent %r (grants %s), mode %s, policy %s%s",
            VISITOR if visitor_mode else simulation.consent_text,
            "what the visitor chooses in the banner" if visitor_mode else ", ".join(simulation.granted), simulation.mode_label,
            simulation.config_path or "built-in default", ", blocking refused trackers" if self.block else "",
        )

    @staticmethod
    def _open_report(path: str) -> ReportWriter | None:
        if not path:
            return None
        try:
            return ReportWriter(Path(path).expanduser())
        except OSError as error:
            message = (
                f"consentry_report: cannot write {path!r} ({error.strerror or error}); "
                "give a file path in an existing, writable directory"
            )
            raise exceptions.OptionsError(message) from None

    def _state(self, site: SitePolicy, flow: http.HTTPFlow | None = None) -> ConsentState:
        """The consent in force: simulated, or (visitor mode) the visitor's cookie.

        A request to the site itself carries its consent cookie; a request to a tracker
        does not, so it is judged by the state the visitor's last page (or decision) had.
        """
        assert self.simulation is not None
        if self.visitor is None:
            return self.simulation.state_for(site)
        if flow is not None:
            return self.visitor.read(site, flow)
        return self.visitor.last(site)

    # -- requests: record (and optionally refuse) requests to trackers --------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self.simulation is None:
            return
        headers = flow.request.headers
        if "if-none-match" in headers:
            # Our consent ETags go back to the upstream as its own (another state's: dropped).
            site = self.simulation.site_for_host(flow.request.pretty_host)
            suffix = self.simulation.engine_for(site).etag_suffix(self._state(site, flow))
            value, _ = upstream_if_none_match(headers["if-none-match"], suffix)
            if value is None:
                del headers["if-none-match"]
            else:
                headers["if-none-match"] = value
        if "accept-encoding" not in headers:
            return
        # Ask only for codings the engine can read back, so no HTML arrives unreadable
        # (browsers also offer dictionary codings such as dcb/dcz).
        accepted = filter_accept_encoding(flow.request.headers["accept-encoding"], SUPPORTED)
        if accepted is None:
            del flow.request.headers["accept-encoding"]
        else:
            flow.request.headers["accept-encoding"] = accepted

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or flow.error is not None or not flow.live:
            return
        if self.simulation is None:
            if self.setup_error:
                # Never pass pages through unrewritten while the tester believes a policy applies.
                flow.response = http.Response.make(
                    503, f"Consentry addon is not configured: {self.setup_error}\n".encode(),
                    {"Content-Type": "text/plain; charset=utf-8"},
                )
            return
        url = flow.request.pretty_url
        page = flow.request.headers.get("referer") or flow.request.headers.get("origin")
        page_host = _host(page) or flow.request.pretty_host
        site = self.simulation.site_for_host(page_host)
        engine = self.simulation.engine_for(site)
        found = engine.classify_url(url, page_host)
        if found is None or (found.vendor is None and found.category == "necessary"):
            return   # first party, or an unknown third party the policy allows: not a tracker
        refused = not found.allowed_by(self._state(site))
        blocked = refused and self.block
        if blocked:
            flow.metadata["consentry_blocked"] = True
            flow.response = http.Response.make(
                BLOCK_STATUS,
                f"Blocked by Consentry: {found.vendor or 'this third party'} is {found.category}, "
                f"which the simulated consent ({self.simulation.consent_text}) refuses.\n".encode(),
                {
                    "Content-Type": "text/plain; charset=utf-8",
                    BLOCKED_HEADER: f"{found.vendor or 'unknown'}; category={found.category}",
                },
            )
        record = TrackerRequest(
            url=url,
            host=flow.request.pretty_host,
            page=page,
            method=flow.request.method,
            vendor=found.vendor,
            category=found.category,
            before_consent=refused,
            blocked=blocked,
            time=now_iso(),
            vendor_name=self.simulation.vendor_name(found.vendor),
            consent=self.visitor.label(site) if self.visitor is not None else None,
        )
        self._record_request(record)

    # -- responses: rewrite HTML as it streams --------------------------------------------

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if self.simulation is None or response is None or flow.metadata.get("consentry_blocked"):
            return
        site = self.simulation.site_for_host(flow.request.pretty_host)
        engine = self.simulation.engine_for(site)
        state = self._state(site, flow)
        self._filter_refresh(response, engine, state, flow.request.pretty_url, flow.request.pretty_host)
        # The same decision as the server's: what a browser will render as a document.
        plan = plan_response(flow.request.method, response.status_code, response.headers.items(multi=True))
        # ``stream is True`` comes from mitmproxy's stream_large_bodies: ours streams as well.
        if not plan.may_be_document or (response.stream and response.stream is not True):
            return
        if plan.fragment:
            if not engine.allows_everything(state):
                self._withhold(flow, site, "a byte range of a page cannot be checked on its own")
            return
        if plan.unsupported:
            self._withhold(flow, site, f"unsupported content coding {', '.join(plan.unsupported)}")
            return
        if plan.sniff:
            # No usable Content-Type: the browser sniffs, so the body is read whole and
            # sniffed in ``response`` (the first bytes decide, as in the server).
            flow.metadata["consentry_sniff"] = plan
            response.stream = False
            return
        self._stream(flow, site, plan)

    def response(self, flow: http.HTTPFlow) -> None:
        plan = flow.metadata.pop("consentry_sniff", None)
        response = flow.response
        if plan is None or response is None or self.simulation is None:
            return
        try:
            body = response.get_content(strict=True) or b""
        except ValueError as error:
            site = self.simulation.site_for_host(flow.request.pretty_host)
            self._withhold_now(flow, site, f"the body does not decode ({error})")
            return
        if sniff(body) is None:
            return
        site = self.simulation.site_for_host(flow.request.pretty_host)
        stream = self._page_stream(flow, site, plan, decoder=None)
        response.headers.pop("content-encoding", None)
        response.content = b"".join(stream(body)) + b"".join(stream(b""))
        # Read whole, sent whole: a length, not the chunked framing a stream needs.
        response.headers.pop("transfer-encoding", None)
        response.headers["content-length"] = str(len(response.raw_content or b""))

    def _stream(self, flow: http.HTTPFlow, site: SitePolicy, plan: ResponsePlan) -> None:
        decoder = DecodeChain(list(plan.codings)) if plan.codings else None
        assert flow.response is not None
        flow.response.stream = self._page_stream(flow, site, plan, decoder)

    def _page_stream(self, flow: http.HTTPFlow, site: SitePolicy, plan: ResponsePlan, decoder: DecodeChain | None) -> PageStream:
        response = flow.response
        assert response is not None and self.simulation is not None
        engine = self.simulation.engine_for(site)
        state = self._state(site, flow)
        report = Report()
        inject: bytes | None = None
        tail: Callable[[Rewriter], bytes] | None = None
        if self.visitor is not None and plan.document == "html" and _is_page_load(flow.request.headers):
            # The banner, as the proxy injects it: its state and assets first in <head>, the
            # no-JavaScript form after the document (a parser puts it at the end of <body>).
            from proxy import web as ui

            lang = ui.pick_language(site, html_lang=None, accept_language=flow.request.headers.get("accept-language"))
            nonce = next((n for n in map(csp_nonce, response.headers.get_all("content-security-policy")) if n), None)
            inject = ui.cached_head_snippet(site, state, lang=lang, nonce=nonce, page_host=flow.request.pretty_host)
            return_to = flow.request.path

            def tail(rewriter: Rewriter) -> bytes:
                encoding = (rewriter.encoding or "").lower().replace("_", "-")
                reopen = rewriter.body_reopener()
                if encoding.startswith("utf-16") or reopen is None:
                    return b""   # UTF-16, or a page that ends inside a comment or a script
                return reopen + ui.body_snippet(site, state, lang=lang, return_to=return_to)

        rewriter = engine.rewriter(
            state, base_url=flow.request.pretty_url, encoding=plan.charset, report=report,
            mode=self.simulation.mode_for(site), inject=inject,
        )
        self._adjust_headers(response, engine, state, flow.request.pretty_host, decoded=decoder is not None)
        url, status, site_id = flow.request.pretty_url, response.status_code, str(site.site_id)
        simulation = self.simulation
        consent = self.visitor.label(site) if self.visitor is not None else None

        def finish(error: str | None) -> None:
            self._record_page(PageAudit(
                url=url, site_id=site_id, findings=simulation.findings(report), status=status,
                error=error, time=now_iso(), consent=consent,
            ))

        return PageStream(rewriter, decoder, finish, tail)

    @staticmethod
    def _filter_refresh(response: http.Response, engine: Engine, state: ConsentState, page_url: str, page_host: str) -> None:
        """A ``Refresh`` header navigates on any response: one to a refused tracker goes."""
        values = response.headers.get_all("refresh")
        if not values:
            return
        kept = []
        for value in values:
            target = refresh_url(value)
            if target is None or engine.refuses_url(urljoin(page_url, target), state, page_host) is None:
                kept.append(value)
        if len(kept) != len(values):
            response.headers.set_all("refresh", kept)

    def _withhold(self, flow: http.HTTPFlow, site: SitePolicy, reason: str) -> None:
        """An HTML body the engine cannot read is not passed on unread: a 502 says why."""
        response = flow.response
        assert response is not None
        url, status = flow.request.pretty_url, response.status_code
        log.warning("consentry: %s: %s; page withheld (502)", url, reason)
        self._record_page(PageAudit(
            url=url, site_id=str(site.site_id), status=status, error=f"withheld: {reason}", time=now_iso(),
        ))
        message = f"Consentry withheld this page: {reason}; it cannot be checked for trackers.\n".encode()
        response.status_code = 502
        response.headers.clear()
        response.headers["content-type"] = "text/plain; charset=utf-8"
        response.headers["content-length"] = str(len(message))
        response.stream = lambda chunk: [] if chunk else [message]

    def _withhold_now(self, flow: http.HTTPFlow, site: SitePolicy, reason: str) -> None:
        """As ``_withhold``, for a body already read whole."""
        response = flow.response
        assert response is not None
        log.warning("consentry: %s: %s; page withheld (502)", flow.request.pretty_url, reason)
        self._record_page(PageAudit(
            url=flow.request.pretty_url, site_id=str(site.site_id), status=response.status_code,
            error=f"withheld: {reason}", time=now_iso(),
        ))
        response.status_code = 502
        response.headers.clear()
        response.headers["content-type"] = "text/plain; charset=utf-8"
        response.content = f"Consentry withheld this page: {reason}; it cannot be checked for trackers.\n".encode()

    @staticmethod
    def _adjust_headers(response: http.Response, engine: Engine, state: ConsentState, page_host: str, *, decoded: bool) -> None:
        """Headers that no longer describe the rewritten body go; refused cookies and preloads too."""
        headers = response.headers
        if decoded:
            # We send the decoded HTML; mitmproxy is a local testing tool, bandwidth is no concern.
            headers.pop("content-encoding", None)
        headers.pop("content-length", None)
        headers.pop("content-md5", None)
        if response.http_version == "HTTP/1.1" and "chunked" not in headers.get("transfer-encoding", "").lower():
            # Without a length, keep-alive needs chunked framing (an HTTP/1.1 client reads it).
            headers["transfer-encoding"] = "chunked"
        # The same consent variant marks as the server's: a weak ETag naming the consent
        # state, and Vary on what chose it, so no cache mixes two states' copies.
        suffix = engine.etag_suffix(state)
        etag = headers.get("etag")
        if etag:
            headers["etag"] = consent_etag(etag, suffix)
        varies = ["Cookie"] + (["Sec-GPC"] if engine.site.honor_gpc else [])
        headers["vary"] = merge_vary(headers.get_all("vary"), varies)
        cookies = headers.get_all("set-cookie")
        kept = [c for c in cookies if not engine.refused_cookie(c.split("=", 1)[0].strip(), state)]
        if len(kept) != len(cookies):
            headers.set_all("set-cookie", kept)
        links = headers.get_all("link")
        if links:
            filtered = [v for v in (engine.filter_link_header(link, state, page_host) for link in links) if v]
            headers.set_all("link", filtered)

    # -- the report -------------------------------------------------------------------------

    def _record_page(self, page: PageAudit) -> None:
        if self.result is not None:
            self.result.pages.append(page)
        if self.writer is not None:
            self.writer.write_page(page)
        counts = page.counts()
        log.info(
            "consentry: %s: %s", page.url,
            page.error or (", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "no trackers"),
        )

    def _record_request(self, record: TrackerRequest) -> None:
        if self.result is not None:
            self.result.requests.append(record)
        if self.writer is not None:
            self.writer.write_request(record)
        if record.before_consent:
            log.info(
                "consentry: %s request to %s (%s, %s) before consent%s", record.method, record.url,
                record.vendor or "unknown third party", record.category, ", blocked" if record.blocked else "",
            )

    def _record_decision(self, site: SitePolicy, plan: decisions.DecisionPlan, receipt_id: str) -> None:
        """A visitor's click on the banner: logged, and a line in the JSON-lines report."""
        granted = ", ".join(sorted(plan.state.categories))
        log.info("consentry: visitor chose %s on site %s (grants %s; receipt %s)", plan.action, site.site_id, granted, receipt_id)
        if self.writer is not None:
            self.writer.write({"type": "decision", "time": now_iso(), "site": str(site.site_id), "action": plan.action,
                               "granted": sorted(plan.state.categories), "receipt_id": receipt_id})

    @command.command("consentry.report")
    def report(self) -> None:
        """Log the audit summary and write the HTML report now, without stopping (mitmproxy/mitmweb)."""
        self._write_summary()

    def _write_summary(self) -> None:
        if self.result is None:
            return
        log.info("consentry audit summary:\n%s", format_table(self.result))
        if self.writer is not None:
            html_path = html_path_for(self.writer.path)
            try:
                html_path.write_text(format_html(self.result), encoding="utf-8")
                log.info("consentry: HTML report written to %s", html_path)
            except OSError as error:
                log.error("consentry: cannot write the HTML report %s: %s", html_path, error)

    def _finish_run(self) -> None:
        """Log the summary table and write the HTML report of the run that ends now."""
        self._write_summary()
        self.result = None

    def done(self) -> None:
        if self.visitor is not None:
            self.visitor.retire()
        self._finish_run()
        if self.writer is not None:
            self.writer.close()
            self.writer = None


_DOCUMENT_DESTINATIONS = frozenset({"document", "iframe", "frame", "embed", "object"})


def _is_page_load(headers: http.Headers) -> bool:
    """A navigation (the banner belongs there), not a fetch() of an HTML fragment."""
    destination = headers.get("sec-fetch-dest")
    if destination is not None and destination.lower() not in _DOCUMENT_DESTINATIONS:
        return False
    return str(headers.get("x-requested-with", "")).lower() != "xmlhttprequest"


class VisitorMode:
    """``consentry_consent=visitor``: the key ring that reads and signs consent cookies, the
    receipts store (opened on the first decision) and the last state seen per site."""

    def __init__(self, keyring: KeyRing, receipts_url: str, ip_salt: bytes | None) -> None:
        self.keyring = keyring
        self.receipts_url = receipts_url
        self.ip_salt = ip_salt
        self.store: ReceiptStore | None = None
        self.states: dict[str, ConsentState] = {}

    @classmethod
    def make(cls, simulation: Simulation, receipts_option: str) -> VisitorMode:
        config = simulation.config
        try:
            keyring = KeyRing.from_specs(config.consent.keys)
        except (ValueError, OSError) as error:
            raise exceptions.OptionsError(f"consentry_config: the policy's consent keys do not load ({error})") from None
        option = receipts_option.strip()
        if not option:
            url = str(config.receipts.url)
        elif "://" in option:
            url = option
        else:
            url = "sqlite://" + str(Path(option).expanduser().absolute())
        if not url.startswith(("sqlite://", "postgres://", "postgresql://")):
            raise exceptions.OptionsError(
                f"consentry_receipts: {option!r} is neither a file path nor a sqlite:// or postgresql:// URL"
            )
        if url.startswith("sqlite://"):
            parent = Path(url.removeprefix("sqlite://")).parent
            if not parent.is_dir():
                raise exceptions.OptionsError(
                    f"consentry_receipts: the directory {parent} does not exist; create it or give another path"
                )
        return cls(keyring, url, config.receipts.ip_salt)

    def read(self, site: SitePolicy, flow: http.HTTPFlow) -> ConsentState:
        state = read_consent(
            flow.request.headers.get_all("cookie"), site=site, keyring=self.keyring,
            gpc=flow.request.headers.get("sec-gpc") == "1",
        )
        # Requests the browser sent before the decision (with the old cookie, or none) can be
        # answered after it: only a valid cookie at least as new as the last one counts.
        known = self.states.get(str(site.site_id))
        if known is None or (state.source == "cookie" and (state.issued_at or 0) >= (known.issued_at or 0)):
            self.states[str(site.site_id)] = state
        return state

    def last(self, site: SitePolicy) -> ConsentState:
        state = self.states.get(str(site.site_id))
        if state is None:
            state = ConsentState.simulated("none", all_categories=list(site.categories))
        return state

    def remember(self, site: SitePolicy, state: ConsentState) -> None:
        self.states[str(site.site_id)] = state

    def label(self, site: SitePolicy) -> str:
        """The visitor's consent as the report shows it: granted categories, or "undecided"."""
        state = self.last(site)
        granted = ", ".join(sorted(state.categories)) or "necessary"
        return granted if state.decided else f"undecided ({granted})"

    async def open_store(self) -> ReceiptStore:
        if self.store is None:
            from proxy.receipts import open_store

            self.store = await open_store(self.receipts_url, ip_salt=self.ip_salt)
            log.info("consentry: consent receipts in %s", self.receipts_url)
        return self.store

    def retire(self) -> None:
        """Close the store (settings changed or mitmproxy stops)."""
        store, self.store = self.store, None
        if store is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(store.close())
        else:
            task = loop.create_task(store.close())
            _CLOSING.add(task)
            task.add_done_callback(_CLOSING.discard)


_CLOSING: set[asyncio.Task[Any]] = set()


def _reply(status: int, body: bytes, headers: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> http.Response:
    """A response with ``body`` sent as it is (an asset may already be gzip-encoded)."""
    response = http.Response.make(status, b"", http.Headers([(k.encode(), v.encode()) for k, v in headers]))
    response.raw_content = body
    response.headers["content-length"] = str(len(body))
    return response


def _error(status: int, message: str, *extra: tuple[str, str]) -> http.Response:
    return _reply(status, f"{message}\n".encode(), [("Content-Type", "text/plain; charset=utf-8"),
                                                     ("Cache-Control", "no-store"), *extra])


class ConsentApi:
    """Answers the consent API under each site's consent path in visitor mode.

    A separate addon because its ``request`` hook awaits the receipts store; it runs
    before ``Consentry``'s, whose hook then sees the answered flow and leaves it alone.
    Dispatch goes through ``proxy.api.routes`` (one handler per route, as in the server)
    and decisions through ``proxy.api.decisions``, the sans-io core the server uses.
    """

    def __init__(self, main: Consentry) -> None:
        self.main = main

    async def request(self, flow: http.HTTPFlow) -> None:
        main = self.main
        if main.visitor is None or main.simulation is None or flow.response is not None or not flow.live:
            return
        site = main.simulation.site_for_host(flow.request.pretty_host)
        prefix = "/" + site.consent_path.strip("/")
        path = flow.request.path.split("?", 1)[0]
        if not (path == prefix or path.startswith(prefix + "/")):
            return
        found = routes.match(path[len(prefix):])
        if found is None:
            flow.response = _error(404, "Not found")
            return
        route, params = found
        operation = route.operation(flow.request.method)
        if operation is None:
            flow.response = _error(405, "Method not allowed", ("Allow", ", ".join(route.methods)))
            return
        handler = ADDON_HANDLERS[operation.handler]
        flow.response = await handler(self, flow, site, prefix, **params)

    async def redirect(self, flow: http.HTTPFlow, site: SitePolicy, prefix: str) -> http.Response:
        query = flow.request.path.partition("?")[2]
        return _reply(308, b"", [("Location", prefix + "/" + (f"?{query}" if query else ""))])

    async def preferences(self, flow: http.HTTPFlow, site: SitePolicy, prefix: str) -> http.Response:
        from proxy import web as ui

        assert self.main.visitor is not None and self.main.simulation is not None
        state = self.main.visitor.read(site, flow)
        lang = ui.pick_language(site, html_lang=None, accept_language=flow.request.headers.get("accept-language"))
        engine = self.main.simulation.engine_for(site)
        page = ui.render_preferences_page(
            site, state, lang=lang, return_to=flow.request.query.get("return_to", "/"),
            vendors=list(engine.catalogue.vendors.values()),
        )
        return _reply(200, page.encode("utf-8"), [
            ("Content-Type", "text/html; charset=utf-8"), *decisions.NO_STORE,
            ("X-Frame-Options", "SAMEORIGIN"), ("Content-Security-Policy", "frame-ancestors 'self'"),
        ])

    async def status(self, flow: http.HTTPFlow, site: SitePolicy, prefix: str) -> http.Response:
        assert self.main.visitor is not None
        state = self.main.visitor.read(site, flow)
        body = status_json(state, site=site)
        import json

        return _reply(200, json.dumps(body).encode(), [("Content-Type", "application/json"), *decisions.NO_STORE])

    async def openapi(self, flow: http.HTTPFlow, site: SitePolicy, prefix: str) -> http.Response:
        return _reply(200, openapi_json(prefix).encode(), [("Content-Type", "application/json")])

    async def csp_report(self, flow: http.HTTPFlow, site: SitePolicy, prefix: str) -> http.Response:
        # Counted by the server's /metrics; the addon has none, so it notes the report in the log.
        log.info("consentry: CSP violation report from %s", flow.request.pretty_host)
        return _reply(204, b"", [])

    async def asset(self, flow: http.HTTPFlow, site: SitePolicy, prefix: str, asset: str) -> http.Response:
        from proxy import web as ui

        # mitmproxy's views: case-insensitive header names, as asset_reply expects.
        found = ui.asset_reply(site, asset, flow.request.query, flow.request.headers)
        if found is None:
            return _error(404, "Not found")
        return _reply(found.status, found.body or b"", list(found.headers.items()))

    async def visitor_receipts(self, flow: http.HTTPFlow, site: SitePolicy, prefix: str) -> http.Response:
        """The tester's own receipts, by the consent id in their valid cookie (as the server does)."""
        visitor = self.main.visitor
        assert visitor is not None
        state = visitor.read(site, flow)
        consent_id = state.consent_id if state.source == "cookie" else None
        found = None
        if consent_id:
            try:
                store = await visitor.open_store()
                found = await store.get(consent_id)
            except Exception as error:   # noqa: BLE001 - said to the tester
                log.error("consentry: receipts store %s cannot be read: %s", visitor.receipts_url, error)
                return _error(503, "Receipts are not available right now")
        reply = decisions.receipts_reply(found, consent_id=consent_id or None, site_id=site.site_id)
        return _reply(reply.status, reply.body, reply.headers)

    async def decide(self, flow: http.HTTPFlow, site: SitePolicy, prefix: str) -> http.Response:
        main = self.main
        visitor, simulation = main.visitor, main.simulation
        assert visitor is not None and simulation is not None
        request = flow.request
        proto, host = request.scheme, request.host_header or request.pretty_host
        if decisions.is_cross_site(request.headers.get, proto, host):
            return _error(403, "Consent can only be given on this site")
        body = request.get_content(strict=False) or b""
        if len(body) > MAX_CONSENT_BODY:
            return _error(413, "Request body too large")
        parsed = decisions.parse_decision(request.headers.get("content-type", ""), body, site)
        if isinstance(parsed, decisions.ApiError):
            return _error(parsed.status, parsed.message)
        previous = visitor.read(site, flow)
        try:
            store = await visitor.open_store()
        except Exception as error:   # noqa: BLE001 - no store, no consent: said to the tester
            log.error("consentry: receipts store %s cannot be opened: %s", visitor.receipts_url, error)
            return _error(503, "Your choice could not be saved right now; please try again later")
        client = flow.client_conn.peername[0] if flow.client_conn.peername else None
        engine = simulation.engine_for(site)
        plan = decisions.plan_decision(
            parsed, previous, site=site, site_id=str(site.site_id), keyring=visitor.keyring, engine=engine,
            ip_hash=store.hash_ip(client), user_agent=request.headers.get("user-agent"),
            accept_language=request.headers.get("accept-language"),
        )
        if isinstance(plan, decisions.ApiError):
            return _error(plan.status, plan.message)
        try:
            if plan.texts is not None and hasattr(store, "keep_banner_texts"):
                await store.keep_banner_texts(plan.texts[0], str(site.site_id), plan.texts[1], plan.texts[2])
            receipt_id = await store.record(plan.receipt)
        except Exception as error:   # noqa: BLE001
            log.error("consentry: consent decision refused, the receipt could not be stored: %s", error)
            return _error(503, "Your choice could not be saved right now; please try again later")
        visitor.remember(site, plan.state)
        main._record_decision(site, plan, str(receipt_id))
        reply = decisions.decision_reply(
            plan, receipt_id, site=site, engine=engine, host=request.pretty_host, secure=proto == "https",
            cookies=request.headers.get_all("cookie"),
        )
        return _reply(reply.status, reply.body, reply.headers)


# One handler per ``handler`` name in proxy.api.ROUTES, as the server has (a test holds them in step).
ADDON_HANDLERS: dict[str, Callable[..., Any]] = {
    "redirect": ConsentApi.redirect,
    "preferences": ConsentApi.preferences,
    "decide": ConsentApi.decide,
    "status": ConsentApi.status,
    "openapi": ConsentApi.openapi,
    "csp_report": ConsentApi.csp_report,
    "asset": ConsentApi.asset,
    "visitor_receipts": ConsentApi.visitor_receipts,
}

_main = Consentry()
addons = [ConsentApi(_main), _main]
