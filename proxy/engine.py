"""The engine: one site policy plus one visitor's consent state -> decisions for every element.

It is the only place where the three inner layers meet: the catalogue says *who* a URL or
an inline script belongs to, the site policy says *which category* that is here (rules and
vendor overrides win over the catalogue), and the consent state says whether the visitor
allowed it (by the one rule of `proxy.catalogue.Classification`). The HTML layer asks :meth:`Engine.decide` about each element that can fetch or
execute and applies the answer. Every adapter (CLI, aiohttp server, mitmproxy addon) goes
through :meth:`Engine.rewriter`; none of them contains rewriting logic of its own.

Consent fails closed: an element is live only if *every* URL and script body in it is
allowed. This module imports no aiohttp, mitmproxy or pydantic (the policy's `SitePolicy` is named
for mypy only; a consent state is read as `proxy.catalogue.ConsentView`), so it can run
anywhere the HTML layer runs.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from proxy.catalogue import (
    Catalogue,
    Classification,
    ConsentView,
    Vendor,
    VendorChoice,
    catalogue_for,
    classify_vendor,
    tag_manager_category,
)
from proxy.defaults import CATEGORIES, NECESSARY
from proxy.html import KEEP, Action, Decision, Element, FetchURL
from proxy.html.css import css_urls
from proxy.html.rewriter import Rewriter
from proxy.html.scanner import KeepMemo
from proxy.html.urls import data_url
from proxy.inline import judge_for
from proxy.urls import resolve as resolve_url

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import Rule, SitePolicy

__all__ = ["Classification", "Engine", "Report", "ReportEntry"]

log = logging.getLogger(__name__)

# Where several vendors show in one script, the most restrictive category decides.
_RANK = {category: rank for rank, category in enumerate(CATEGORIES)}
# Elements that show a nested document from their URL, and what counts as one.
_DOCUMENT_HOSTS = frozenset({"iframe", "frame", "object", "embed"})
_DOCUMENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml"})
_SCRIPT_TYPES = frozenset({"text/javascript", "application/javascript", "application/x-javascript", "text/ecmascript",
                           "application/ecmascript", "module"})
_NESTED_DEPTH = 3
_URL_MAP_TYPES = frozenset({"importmap", "speculationrules"})
# Consent libraries name categories differently; author marks in their dialect are honoured.
AUTHOR_CATEGORY_ALIASES = {
    "statistics": "analytics",
    "statistic": "analytics",
    "performance": "analytics",
    "advertising": "marketing",
    "ads": "marketing",
    "targeting": "marketing",
    "functional": "preferences",
    "functionality": "preferences",
    "strictly-necessary": NECESSARY,
    "essential": NECESSARY,
}
AUTHOR_MARK_ATTRIBUTES = ("data-consent", "data-category", "data-cookieconsent", "data-cookiecategory")


@dataclass(slots=True)
class ReportEntry:
    tag: str
    vendor: str | None
    category: str | None
    action: str
    url: str | None
    offset: int
    line: int
    context: str = ""  # "noscript", "template", "srcdoc", "svg" when inside one
    source: str = "catalogue"  # what classified it: "catalogue", "rule", "author" or "unknown"

    def as_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "vendor": self.vendor,
            "category": self.category,
            "action": self.action,
            "url": self.url,
            "offset": self.offset,
            "line": self.line,
            "context": self.context,
            "source": self.source,
        }


@dataclass(slots=True)
class Report:
    """What the engine did to one document, element by element."""

    entries: list[ReportEntry] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for entry in self.entries:
            totals[entry.action] = totals.get(entry.action, 0) + 1
        return totals


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    category: str
    vendor: str | None
    host: str | None
    path_prefix: str | None
    url_pattern: re.Pattern[str] | None
    script_pattern: re.Pattern[str] | None


@functools.lru_cache(maxsize=4096)
def _host_of(url: str) -> str:
    """The lower-cased host of ``url`` without a trailing dot ("" when it has none);
    remembered: the same page and resource URLs come back request after request."""
    if url.startswith("//"):
        url = "https:" + url
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


def _host_matches(host: str, pattern: str) -> bool:
    """``example.com`` covers itself and its subdomains; ``*.example.com`` exactly one label."""
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return host.endswith(suffix) and "." not in host[: -len(suffix)]
    return host == pattern or host.endswith("." + pattern)


class Engine:
    """Decisions for one site. Build one per site (and again when the policy reloads)."""

    def __init__(self, site: SitePolicy, catalogue: Catalogue | None = None) -> None:
        self.site = site
        self.catalogue = catalogue or catalogue_for(site)
        self.mode: str = site.mode
        self.categories: tuple[str, ...] = tuple(site.categories) or CATEGORIES
        self.site_hosts: tuple[str, ...] = tuple(h.lower().split(":")[0] for h in site.hosts)
        self.unknown_third_party: str = site.unknown_third_party
        self.strip_cookies: bool = site.strip_cookies
        self.overrides: Mapping[str, VendorChoice] = site.vendors
        self.tag_manager_category: str = tag_manager_category(site)
        self.rules = tuple(self._compile_rule(rule) for rule in site.rules)
        self._url_cache: dict[tuple[str, str], Classification | None] = {}
        # Start tags kept byte for byte, per (document origin, mode, consent): see keep_memo().
        self._keep_memos: dict[tuple[object, ...], dict[str, KeepMemo]] = {}
        self._contexts: dict[int, tuple[ConsentView, tuple[Any, ...]]] = {}   # decision_context, by state object
        self._judge = judge_for(self.catalogue)

    # -- classification ---------------------------------------------------------------

    @staticmethod
    def _compile_rule(rule: Rule) -> _CompiledRule:
        glob = rule.url_glob
        signature = rule.script_signature
        host = rule.host
        return _CompiledRule(
            category=rule.category,
            vendor=rule.vendor,
            host=host.lower() if host else None,
            path_prefix=rule.path_prefix,
            url_pattern=re.compile(fnmatch.translate(glob), re.IGNORECASE) if glob else None,
            script_pattern=re.compile(signature) if signature else None,
        )

    def classify_vendor(self, vendor: Vendor) -> Classification:
        """``vendor``'s category and allow override on this site (the consent API's vendor list)."""
        return classify_vendor(vendor, self.overrides, self.tag_manager_category)

    def _rule_for_url(self, url: str, host: str) -> _CompiledRule | None:
        path = ""
        for rule in self.rules:
            if rule.url_pattern is not None and rule.url_pattern.match(url):
                return rule
            if rule.host is not None and _host_matches(host, rule.host):
                if rule.path_prefix is None:
                    return rule
                if not path:
                    try:
                        path = urlsplit(url if not url.startswith("//") else "https:" + url).path or "/"
                    except ValueError:
                        path = "/"
                if path.startswith(rule.path_prefix):
                    return rule
        return None

    def matching_rule(self, url: str) -> tuple[int, Rule] | None:
        """The site rule (its position, 1-based, and the rule) that decides ``url``, if any."""
        if not self.rules:
            return None
        rule = self._rule_for_url(url.strip(), _host_of(url.strip()))
        if rule is None:
            return None
        position = self.rules.index(rule)
        return position + 1, self.site.rules[position]

    def is_first_party(self, url: str, page_host: str | None) -> bool:
        """Served by the site itself: the catalogue's same-site rule against the page's host
        and every host of the site. Without either, only host-less URLs are first party."""
        own = [host[2:] if host.startswith("*.") else host for host in self.site_hosts]
        if page_host:
            own.append(page_host.lower().split(":")[0])
        if not own:
            return not _host_of(url)
        return any(self.catalogue.first_party(url, host) for host in own)

    def classify_url(self, url: str, page_host: str | None = None) -> Classification | None:
        """The category of ``url`` on this site, or None for first-party / harmless URLs."""
        key = (url, page_host or "")
        try:
            return self._url_cache[key]
        except KeyError:
            pass
        result = self._classify_url(url, page_host)
        if len(self._url_cache) > 4096:
            self._url_cache.clear()
        self._url_cache[key] = result
        return result

    def _classify_url(self, url: str, page_host: str | None) -> Classification | None:
        stripped = url.strip()
        lowered = stripped[:11].lower()
        if lowered.startswith(("data:", "blob:", "about:", "javascript:", "mailto:", "tel:", "#")):
            return None
        host = _host_of(stripped)
        rule = self._rule_for_url(stripped, host) if self.rules else None
        if rule is not None:
            return Classification(rule.vendor, rule.category, source="rule")
        vendor = self.catalogue.vendor_for_url(stripped)
        if vendor is not None:
            return self.classify_vendor(vendor)
        if self.is_first_party(stripped, page_host):
            return None
        if self.unknown_third_party == "allow":
            return Classification(None, NECESSARY, unknown_third_party=True, source="unknown")
        return Classification(None, self.unknown_third_party, unknown_third_party=True, source="unknown")

    def classify_script(self, text: str, *, code: bool = True) -> Classification | None:
        """The category of an inline script (``code``) or style body (``code=False``).

        A script counts for a vendor only when it loads or initialises it
        (``proxy.inline``): a guarded call, a use, a name in a string or a comment keeps
        it live. Site rules (``script_signature``) match anywhere, as their author wrote them.
        """
        for rule in self.rules:
            if rule.script_pattern is not None and rule.script_pattern.search(text):
                return Classification(rule.vendor, rule.category, source="rule")
        if not code:
            vendor = self.catalogue.vendor_for_script(text)
            return self.classify_vendor(vendor) if vendor is not None else None
        return self._judge_script(text)

    def _judge_script(self, text: str) -> Classification | None:
        best: Classification | None = None
        for vendor in self._judge.loaded(text):
            found = self.classify_vendor(vendor)  # type: ignore[arg-type]
            if best is None or _RANK.get(found.category, len(_RANK)) > _RANK.get(best.category, len(_RANK)):
                best = found
        return best

    def refuses_url(self, url: str, state: ConsentView, page_host: str | None = None) -> Classification | None:
        found = self.classify_url(url, page_host)
        if found is None or found.allowed_by(state):
            return None
        return found

    def refuses_vendor(self, vendor: Vendor, state: ConsentView) -> Classification | None:
        """The classification that refuses `vendor` to this visitor on this site, or None."""
        found = self.classify_vendor(vendor)
        return None if found.allowed_by(state) else found

    def refused_cookie(self, name: str, state: ConsentView) -> bool:
        if not self.strip_cookies:
            return False
        vendor = self.catalogue.vendor_for_cookie(name)
        if vendor is None:
            return False
        return not self.classify_vendor(vendor).allowed_by(state)

    def filter_link_header(self, value: str, state: ConsentView, page_host: str | None = None) -> str | None:
        """Drop the entries of a ``Link`` header that preload/preconnect to refused trackers."""
        kept = []
        for entry in _split_link_header(value):
            match = re.match(r"\s*<([^>]*)>", entry)
            if match and self.refuses_url(match.group(1), state, page_host):
                continue
            kept.append(entry.strip())
        return ", ".join(kept) if kept else None

    def allows_everything(self, state: ConsentView) -> bool:
        """True when no element can be refused for this visitor (full consent, no vendor
        blocked by the site, unknown third parties allowed): output is then byte-identical."""
        if any(not state.allows(category) for category in self.categories):
            return False
        if any(override.allow == "never" for override in self.overrides.values()):
            return False
        if any(vendors is False for vendors in state.vendors.values()):
            return False
        return self.unknown_third_party == "allow" or state.allows(self.unknown_third_party)

    def etag_suffix(self, state: ConsentView) -> str:
        """A short digest of everything in ``state`` that changes this site's output."""
        granted = ",".join(c for c in self.categories if state.allows(c))
        vendors = ",".join(f"{k}={int(v)}" for k, v in sorted(state.vendors.items()))
        return _digest(f"{granted}|{vendors}")

    # -- decisions --------------------------------------------------------------------

    def _author_categories(self, element: Element) -> list[str]:
        """Categories an author (or an earlier pass of ours) marked the element with.

        ``data-consent`` is our own contract and counts on any element. The consent-library
        dialects (``data-category``, ``data-cookieconsent``...) count only on an inert
        ``<script type="text/plain">``: on other elements those names are common for
        unrelated purposes (analytics event labels, galleries) and must not change them.
        Lists (``"statistics,marketing"``) need every category.
        """
        value = element.attrs.get("data-consent")
        if not value and element.tag == "script" and element.attrs.get("type", "").strip().lower() == "text/plain":
            value = next((element.attrs[name] for name in AUTHOR_MARK_ATTRIBUTES[1:] if element.attrs.get(name)), None)
        if not value:
            return []
        names = (AUTHOR_CATEGORY_ALIASES.get(name, name) for name in re.split(r"[\s,;]+", value.strip().lower()) if name)
        return [name for name in names if name != "ignore"]

    def _is_inert(self, element: Element) -> bool:
        if element.tag == "script":
            return element.attrs.get("type", "").strip().lower() == "text/plain"
        if any(name.startswith("data-consent-") and name != "data-consent-vendor" for name in element.attrs):
            return True
        return not any(name in element.attrs for name in ("src", "srcset", "href", "data", "srcdoc", "poster"))

    def decide(
        self,
        element: Element,
        state: ConsentView,
        *,
        page_host: str | None = None,
        mode: str | None = None,
        nonce: str | None = None,
        depth: int = 0,
    ) -> tuple[Decision, Classification | None, str | None]:
        """The decision for one element, the classification that drove it and the URL that did."""
        if element.text_offset:
            return self._decide_window(element, state, page_host, mode)
        refused: Classification | None = None
        refused_url: str | None = None
        seen: Classification | None = None
        seen_url: str | None = None
        refused_fetches: list[FetchURL] = []
        for fetch in element.urls:
            found = self.classify_url(fetch.url, page_host)
            if found is None and fetch.url[:1] in "dDjJ":
                found = self._nested(element, fetch.url, state, page_host, depth)
            if found is None:
                continue
            if seen is None or (found.unknown_third_party is False and seen.unknown_third_party):
                seen, seen_url = found, fetch.url
            if not found.allowed_by(state):
                refused_fetches.append(fetch)
                if refused is None:
                    refused, refused_url = found, fetch.url
        if (refused is None and element.text and element.tag == "script" and element.attribute is None
                and element.attrs.get("type", "").strip().lower() in _URL_MAP_TYPES):
            # An import map or speculation rules: JSON whose string values are URLs the
            # browser imports or prefetches. One refused URL refuses the block (fail closed).
            for value in _json_strings(element.text):
                found = self.classify_url(resolve_url(value, None), page_host)
                if found is None:
                    continue
                if seen is None or seen.unknown_third_party:
                    seen, seen_url = found, value
                if not found.allowed_by(state):
                    refused, refused_url = found, value
                    break
        # A classic script with src runs the file, never its body: the body cannot load anything.
        if refused is None and element.text and not (element.tag == "script" and "src" in element.attrs
                                                    and element.attribute is None and not element.in_foreign):
            found = self.classify_script(element.text, code=element.tag != "style" or element.attribute is not None)
            if found is not None:
                if seen is None or seen.unknown_third_party:
                    seen, seen_url = found, None
                if not found.allowed_by(state):
                    refused, refused_url = found, None

        author_categories = self._author_categories(element)
        if author_categories:
            vendor = seen.vendor if seen else None
            marks = [Classification(vendor, category, source="author") for category in author_categories]
            if refused is None:
                refused = next((mark for mark in marks if not mark.allowed_by(state)), None)
                refused_url = seen_url or (element.urls[0].url if element.urls else None)
            if self._is_inert(element):
                if refused is None:
                    return Decision(Action.ACTIVATE, author_categories[0], vendor, _nonce_attrs(element, nonce)), marks[0], seen_url
                return KEEP, refused, refused_url  # already inert, the author's way: leave it alone

        if refused is not None:
            action = Action.STRIP if (mode or self.mode) == "strip" else Action.DEFER
            partial: frozenset[FetchURL] | None = None
            if (refused_fetches and len(refused_fetches) < len(element.urls) and not author_categories
                    and element.tag not in ("script", "style") and element.attribute is None):
                # Only some URLs are refused (one srcset candidate, a poster, one ping):
                # neutralise those and leave the first-party rest of the element working.
                partial = frozenset(refused_fetches)
            return Decision(action, refused.category, refused.vendor, refused=partial), refused, refused_url
        live = _nonce_attrs(element, nonce)
        if live:
            return Decision(Action.KEEP, extra_attrs=live), seen, seen_url
        return KEEP, seen, seen_url

    def _decide_window(self, element: Element, state: ConsentView, page_host: str | None,
                       mode: str | None) -> tuple[Decision, Classification | None, str | None]:
        """A later window of a script or style body longer than the scanner's buffer.

        The start tag already went out live; a refusal ends the element before this window
        (the scanner makes what went out unable to run). A window starts anywhere in the
        code, inside a string or a comment as likely as not, so the lexical reading that
        tells a use from a load (``proxy.inline``) cannot be trusted there: any vendor the
        window shows (a signature or a catalogued URL, as for a style body) refuses it, and a
        style's ``url()``/``@import`` targets count as they would in the first window. The
        body of a classic ``<script src>`` never runs and a JSON data block never executes:
        both stay.
        """
        if element.tag == "script" and not element.in_foreign:
            kind = element.attrs.get("type", "").strip().lower()
            if "src" in element.attrs or kind.endswith("json"):
                return KEEP, None, None
        refused: Classification | None = None
        refused_url: str | None = None
        for fetch in element.urls:
            found = self.classify_url(fetch.url, page_host)
            if found is not None and not found.allowed_by(state):
                refused, refused_url = found, fetch.url
                break
        if refused is None and element.text:
            found = self.classify_script(element.text, code=False)
            if found is not None and not found.allowed_by(state):
                refused = found
        if refused is None:
            return KEEP, None, None
        action = Action.STRIP if (mode or self.mode) == "strip" else Action.DEFER
        return Decision(action, refused.category, refused.vendor), refused, refused_url

    def _nested(self, element: Element, url: str, state: ConsentView, page_host: str | None,
                depth: int) -> Classification | None:
        """What a ``data:`` or ``javascript:`` URL runs or loads, judged like the page itself.

        A nested document (a frame, object or embed showing ``data:text/html`` or the
        string a ``javascript:`` URL returns) is a page: any element in it that this
        visitor's consent refuses refuses the URL. A ``data:`` script is judged as an
        inline script, a ``data:`` stylesheet by the URLs its CSS fetches. Images are
        left alone: an SVG shown as an image fetches nothing. Nesting deeper than
        ``_NESTED_DEPTH`` fails closed.
        """
        lowered = url[:11].lower()
        tag = element.tag
        if lowered.startswith("javascript:"):
            if tag not in _DOCUMENT_HOSTS:
                return None
            code = unquote(url[11:])
            found = self.classify_script(code)
            if found is None:
                vendor = self.catalogue.vendor_for_script(code)  # any mention: its result is a document
                found = self.classify_vendor(vendor) if vendor is not None else None
            return found or self._nested_document(code.encode("utf-8", "surrogatepass"), state, page_host, depth)
        if tag not in _DOCUMENT_HOSTS and tag not in ("script", "link"):
            return None  # data: images, media, fonts: nothing nested that could fetch
        parsed = data_url(url)
        if parsed is None:
            return None
        mime, payload = parsed
        if tag == "script" or mime in _SCRIPT_TYPES:
            return self.classify_script(payload.decode("utf-8", "replace"))
        if tag == "link" or mime == "text/css":
            text = payload.decode("utf-8", "replace")
            for found_url in css_urls(text):
                found = self.classify_url(found_url, page_host)
                if found is not None and not found.allowed_by(state):
                    return found
            return None
        if tag in _DOCUMENT_HOSTS and (mime in _DOCUMENT_TYPES or mime.endswith("+xml") or tag != "object"):
            return self._nested_document(payload, state, page_host, depth)
        return None

    def _nested_document(self, document: bytes, state: ConsentView, page_host: str | None,
                         depth: int) -> Classification | None:
        if depth >= _NESTED_DEPTH:
            return Classification(None, "marketing", source="unknown")
        refused: list[Classification] = []

        def decide(element: Element) -> Decision:
            decision, found, _ = self.decide(element, state, page_host=page_host, depth=depth + 1)
            if decision.action in (Action.DEFER, Action.STRIP) and found is not None:
                refused.append(found)
            return decision

        rewriter = Rewriter(decide, resolve_url=resolve_url)
        rewriter.feed(document)
        rewriter.close()
        return max(refused, key=lambda found: _RANK.get(found.category, len(_RANK))) if refused else None

    def rewriter(
        self,
        state: ConsentView,
        *,
        base_url: str | None = None,
        encoding: str | None = None,
        report: Report | None = None,
        nonce: str | None = None,
        inject: bytes | None = None,
        mode: str | None = None,
        max_buffer: int | None = None,
        fast_full_consent: bool = False,
        stream_ahead: bool = False,
    ) -> Rewriter:
        """A streaming rewriter for one response (``feed`` / ``close``).

        ``fast_full_consent``: when the visitor allows everything and no nonce is needed,
        only author-marked markup can change; the rewriter then looks at nothing else, so
        ``report`` lists only those (a proxy wants the speed; a scan wants the report).
        ``stream_ahead`` (with it): bytes with no author mark go out unscanned after the
        injection point, for a caller that will not ask ``body_reopener()`` (see Rewriter).
        """
        page_host = _host_of(base_url) if base_url else None
        def decide(element: Element) -> Decision:
            decision, found, url = self.decide(element, state, page_host=page_host, mode=mode, nonce=nonce)
            if found is None:
                # No vendor and nothing to record: the same tag would get the same answer.
                return REPEATABLE_KEEP if decision is KEEP else decision
            if report is not None:
                report.entries.append(
                    ReportEntry(
                        tag=element.tag,
                        vendor=found.vendor,
                        category=None if found.unknown_third_party and decision.action is Action.KEEP else found.category,
                        action=decision.action.value,
                        url=url,
                        offset=element.offset,
                        line=element.line,
                        context=_context(element),
                        source=found.source,
                    )
                )
            return decision

        everything = self.allows_everything(state)
        options: dict[str, Any] = {
            "encoding": encoding,
            "base_url": base_url,
            "inject": inject,
            "defuse_ambiguous": not everything,
            # Full consent and no nonce to add: nothing can change but author-marked
            # markup (activated), so the scanner copies every other tag unseen.
            "keeps_all": fast_full_consent and everything and not nonce,
            "stream_ahead": stream_ahead,
            "resolve_url": resolve_url,
        }
        if not options["keeps_all"]:   # under keeps_all no tag is decided, so none is remembered
            options["keep_memos"] = self.keep_memos(state, base_url, mode)
        if options["defuse_ambiguous"]:
            # srcdoc documents share the page's origin: the page's guard adopts them before
            # their own scripts run (proxy/web/guard.js, adopt()).
            nonce_attr = f' nonce="{nonce}"' if nonce else ""
            options["inject_nested"] = (f"<script{nonce_attr}>try{{parent.__consentry_guard.adopt(window)}}"
                                        "catch(e){}</script>").encode()
        if max_buffer is not None:
            options["max_buffer"] = max_buffer
        return Rewriter(decide, **options)


    def decision_context(self, state: ConsentView, mode: str | None = None) -> tuple[Any, ...]:
        """What this engine's decisions read from the visitor's choices, and the mode: two
        states with the same context get the same decision for every element."""
        known = self._contexts.get(id(state))
        if known is not None and known[0] is state:   # a returning visitor's state object is reused
            choices = known[1]
        else:
            choices = (tuple(state.allows(category) for category in self.categories),
                       tuple(sorted(state.vendors.items())), state.gpc)
            if len(self._contexts) >= _CONTEXTS_MAX:
                self._contexts.clear()
            self._contexts[id(state)] = (state, choices)
        return (mode or self.mode, *choices)

    def keep_memos(self, state: ConsentView, base_url: str | None, mode: str | None) -> dict[str, KeepMemo] | None:
        """The memos (one per scanning encoding) of start tags kept byte for byte, shared by
        documents of one origin rewritten for the same consent and mode
        (``proxy.html.scanner.KeepMemo``).

        A remembered tag had a plain keep with no vendor found for any of its URLs (first
        party, or nothing that fetches); such a decision reads only this engine's rules,
        the document's origin (first party), the mode and the visitor's choices: the
        granted categories, the per-vendor choices (a ``data:`` document may hold a vendor)
        and GPC.
        """
        origin = _origin_of(base_url) if base_url else None
        if origin is None:
            return None
        key = (origin, *self.decision_context(state, mode))
        memo = self._keep_memos.get(key)
        if memo is None:
            if len(self._keep_memos) >= _KEEP_MEMOS_MAX:
                self._keep_memos.clear()
            memo = self._keep_memos[key] = {}
        return memo


@functools.lru_cache(maxsize=4096)
def _origin_of(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        return (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port)
    except ValueError:
        return None


_KEEP_MEMOS_MAX = 64
_CONTEXTS_MAX = 4096
REPEATABLE_KEEP = Decision(Action.KEEP, repeatable=True)


@functools.lru_cache(maxsize=1024)
def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _json_strings(text: str) -> list[str]:
    """Every string value (not key) in a JSON text; nothing when it does not parse."""
    try:
        data = json.loads(text)
    except ValueError:
        return []
    found: list[str] = []
    stack: list[Any] = [data]
    while stack and len(found) < 10_000:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _nonce_attrs(element: Element, nonce: str | None) -> tuple[tuple[str, str], ...]:
    """A CSP nonce for scripts and style blocks that stay or become live (unless they carry one)."""
    if nonce and element.tag in ("script", "style") and "nonce" not in element.attrs:
        return (("nonce", nonce),)
    return ()


def _context(element: Element) -> str:
    if element.in_srcdoc:
        return "srcdoc"
    if element.in_noscript:
        return "noscript"
    if element.in_template:
        return "template"
    if element.in_foreign:
        return "svg"
    return ""


def _split_link_header(value: str) -> list[str]:
    """Split a Link header on the commas between entries (not those inside <...> or quotes)."""
    entries, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(value):
        if char == '"' and depth == 0:
            quoted = not quoted
        elif char == "<" and not quoted:
            depth += 1
        elif char == ">" and not quoted and depth:
            depth -= 1
        elif char == "," and depth == 0 and not quoted:
            entries.append(value[start:index])
            start = index + 1
    entries.append(value[start:])
    return [entry for entry in entries if entry.strip()]
