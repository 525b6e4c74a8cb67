"""``consentry scan``: audit HTML files and crawl URLs, following same-site links to a depth.

Each page goes through the site's engine exactly as the proxy would rewrite it (the
rewritten bytes are thrown away; the engine's report is kept), so a scan says what the
policy *would* do. Files are read from disk; ``http(s)`` URLs are fetched one at a time
with the standard library (``urllib``, identity encoding, a timeout on every fetch) and
their ``<a>``/``<area>``/``<iframe>`` links on the same host are followed breadth-first
up to ``depth`` and ``max_pages``. A page that cannot be fetched is reported with its
error; the scan goes on. Must not import mitmproxy or aiohttp (the server owns aiohttp).
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin, urlsplit

from proxy.audit.model import AuditResult, PageAudit, now_iso
from proxy.audit.simulation import Simulation
from proxy.engine import Report
from proxy.response.mime import extract_mime_type
from proxy.response.plan import document_for
from proxy.response.sniff import sniff

if TYPE_CHECKING:  # types only (the policy package is loaded when a run needs it)
    from proxy.policy import Config, SitePolicy

__all__ = ["scan_targets", "audit_document", "extract_links"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

CHUNK = 64 * 1024
MAX_BODY = 16 * 1024 * 1024          # a page larger than this is audited up to here
# Links that are clearly not pages: not worth a fetch.
SKIP_SUFFIXES = (
    ".css", ".js", ".mjs", ".json", ".xml", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".ico",
    ".pdf", ".zip", ".gz", ".mp4", ".webm", ".mp3", ".woff", ".woff2", ".ttf", ".eot", ".avif",
)
USER_AGENT = "consentry-scan/0.1 (+https://github.com/consentry)"


class _LinkParser(HTMLParser):
    """Collects the links a visitor can follow (and frames a page loads), honouring <base href>."""

    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        if tag == "base" and "href" in values:
            self.base_url = urljoin(self.base_url, values["href"].strip())
        elif tag in ("a", "area") and "href" in values:
            self.links.append(urljoin(self.base_url, values["href"].strip()))
        elif tag in ("iframe", "frame") and "src" in values:
            self.links.append(urljoin(self.base_url, values["src"].strip()))


def extract_links(text: str, base_url: str) -> list[str]:
    """Absolute http(s) links of a page, fragments removed, in document order, unique."""
    parser = _LinkParser(base_url)
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # html.parser is lenient, but a crawler must never die on one page
        log.debug("link extraction stopped early on %s", base_url, exc_info=True)
    seen: dict[str, None] = {}
    for link in parser.links:
        url = urldefrag(link).url
        if urlsplit(url).scheme in ("http", "https"):
            seen.setdefault(url, None)
    return list(seen)


def audit_document(
    simulation: Simulation,
    site: SitePolicy,
    chunks: Iterable[bytes],
    *,
    url: str,
    encoding: str | None = None,
    status: int | None = None,
    depth: int = 0,
    base_url: str | None = "",
) -> tuple[PageAudit, bytes]:
    """Run one document through the site's engine; the audit and the document's bytes read.

    ``base_url`` resolves relative URLs (default: ``url``; None: leave them as written).
    """
    engine = simulation.engine_for(site)
    report = Report()
    rewriter = engine.rewriter(
        simulation.state_for(site),
        base_url=url if base_url == "" else base_url,
        encoding=encoding,
        report=report,
        mode=simulation.mode_for(site),
    )
    data = bytearray()
    for chunk in chunks:
        data += chunk
        rewriter.feed(chunk)
    rewriter.close()
    page = PageAudit(
        url=url,
        site_id=site.site_id,
        findings=simulation.findings(report),
        status=status,
        depth=depth,
        time=now_iso(),
    )
    return page, bytes(data)


def _split(data: bytes) -> Iterable[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def _is_url(target: str) -> bool:
    return urlsplit(target).scheme in ("http", "https")


def _charset(content_type: str) -> str | None:
    # The charset as a browser extracts it (the proxy's own response layer decides the same).
    mime = extract_mime_type([content_type]) if content_type else None
    return mime.charset if mime is not None else None


class _Fetched:
    def __init__(self, url: str, status: int, content_type: str, body: bytes) -> None:
        self.url, self.status, self.content_type, self.body = url, status, content_type, body

    @property
    def is_html(self) -> bool:
        """A document a browser renders (HTML, XHTML, SVG, XML), by type or, without one, by sniffing."""
        document, must_sniff = document_for(extract_mime_type([self.content_type]) if self.content_type else None)
        return document is not None or (must_sniff and sniff(self.body) is not None)


def _fetch(url: str, timeout: float) -> _Fetched:
    request = urllib.request.Request(
        url,
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
            # The engine reads plain bytes; asking for identity keeps urllib's job simple.
            "Accept-Encoding": "identity",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only, checked by _is_url
            body = response.read(MAX_BODY)
            return _Fetched(response.geturl(), response.status, response.headers.get("Content-Type", ""), body)
    except urllib.error.HTTPError as error:
        body = error.read(MAX_BODY) if error.fp is not None else b""
        return _Fetched(error.geturl() or url, error.code, error.headers.get("Content-Type", "") if error.headers else "", body)


def _same_site(url: str, origin: str) -> bool:
    a, b = urlsplit(url), urlsplit(origin)
    return (a.hostname or "").lower() == (b.hostname or "").lower() and a.port == b.port


def scan_targets(
    targets: Iterable[str],
    *,
    config: Config | None = None,
    site_id: str | None = None,
    consent: str = "none",
    depth: int = 0,
    same_site: bool = True,
    progress: Progress | None = None,
    mode: str | None = None,
    config_path: str | None = None,
    timeout: float = 15.0,
    max_pages: int = 500,
) -> AuditResult:
    """Audit files and URLs; URLs are crawled to ``depth`` links (same host when ``same_site``).

    ``config`` is a loaded policy (``load_config``) or None for ``config_path`` / the
    built-in default. ``progress(done, total)`` is called after every page; ``total``
    grows as links are found. Raises ``SimulationError`` for a bad consent, mode or site.
    """
    simulation = Simulation(config=config, config_path=config_path, consent=consent, mode=mode)
    forced_site = simulation.site_by_id(site_id) if site_id else None
    result = AuditResult(
        consent=simulation.consent_text,
        granted=simulation.granted,
        mode=simulation.mode_label,
        source="scan",
        config=simulation.config_path,
    )
    queue: deque[tuple[str, int, str]] = deque()   # (target, depth, the target it came from)
    seen: set[str] = set()
    for target in targets:
        key = urldefrag(target).url if _is_url(target) else target
        if key not in seen:
            seen.add(key)
            queue.append((key, 0, key))
    done = 0
    while queue:
        target, level, origin = queue.popleft()
        if _is_url(target):
            page, links = _scan_url(simulation, forced_site, target, level, timeout)
            if level < depth:
                for link in links:
                    if len(seen) >= max_pages:
                        log.info("scan: stopped following links at %d pages (max_pages)", max_pages)
                        break
                    if link in seen or urlsplit(link).path.lower().endswith(SKIP_SUFFIXES):
                        continue
                    if same_site and not _same_site(link, origin):
                        continue
                    seen.add(link)
                    queue.append((link, level + 1, origin))
        else:
            page = _scan_file(simulation, forced_site, target)
        if page is not None:
            result.pages.append(page)
        done += 1
        if progress is not None:
            progress(done, done + len(queue))
    return result


def _scan_file(simulation: Simulation, forced_site: SitePolicy | None, target: str) -> PageAudit:
    path = Path(target)
    site = forced_site or simulation.fallback_site()
    try:
        data = path.read_bytes()
    except OSError as error:
        return PageAudit(url=target, site_id=site.site_id, error=error.strerror or str(error), time=now_iso())
    # No base URL: a file:// base would turn "//tracker.example/x.js" into a file URL.
    page, _ = audit_document(simulation, site, _split(data), url=target, base_url=None)
    return page


def _scan_url(
    simulation: Simulation, forced_site: SitePolicy | None, url: str, level: int, timeout: float
) -> tuple[PageAudit | None, list[str]]:
    site = forced_site or simulation.site_for_host(urlsplit(url).netloc)
    site_id = site.site_id
    try:
        fetched = _fetch(url, timeout)
    except (urllib.error.URLError, OSError, ValueError) as error:
        # getattr: URLError says why in .reason; an OSError or ValueError is the reason itself.
        reason = getattr(error, "reason", None) or error
        log.info("scan: %s: %s", url, reason)
        return PageAudit(url=url, site_id=site_id, error=f"not fetched: {reason}", depth=level, time=now_iso()), []
    if not fetched.is_html:
        if level == 0:
            return PageAudit(
                url=url, site_id=site_id, status=fetched.status, error=f"not HTML ({fetched.content_type})", depth=level, time=now_iso()
            ), []
        return None, []   # a followed link to an image or a download: not a page
    if forced_site is None and fetched.url != url:
        site = simulation.site_for_host(urlsplit(fetched.url).netloc)
    encoding = _charset(fetched.content_type)
    page, data = audit_document(
        simulation, site, _split(fetched.body), url=fetched.url, encoding=encoding, status=fetched.status, depth=level
    )
    if fetched.status >= 400:
        return page, []   # audited (error pages carry trackers too) but its links are not followed
    text = data.decode(encoding or "utf-8", errors="replace")
    return page, extract_links(text, fetched.url)
