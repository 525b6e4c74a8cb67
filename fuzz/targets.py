"""Fuzz targets: one function per parser an attacker reaches, each with its invariants.

Every target takes the fuzzer's bytes and raises ``AssertionError`` when an invariant
breaks (any other exception is a crash too). They run under atheris (coverage-guided,
``python -m fuzz.run``) and under Hypothesis in the test suite (tests/fuzzing), with the same
code. Invariants:

* ``html`` (a tracker planted in the middle of the input; a quarter of the inputs after a
  prefix of ``fuzz.sequences.PREFIXES``, where markup has two readings): the rewriter never raises; the output for the input split at any point is
  the output for it whole (streaming is exact); with nothing refused the output is the
  input byte for byte (also on the server's full-consent fast path, split); the split
  rewrite shares a KeepMemo with earlier inputs, as the server does between pages, and
  its output is still the whole one's; after a rewrite no tracker URL is live — a second pass sees no
  element that can fetch a tracker (and, every 64th input, html5lib agrees, with one
  tokenizer bug of html5lib 1.1 corrected as the standard and Chromium read it, and so
  does parse5 where Node.js and parse5 are installed: fuzz/second_judge.py).
* ``url``: WHATWG resolution never raises, is idempotent on its own output, and an
  absolute http(s) result parses again with the same host.
* ``css``: ``css_urls`` never raises and finds a URL planted in a plain ``url()``.
* ``consent``: any cookie header gives a consent state (never an exception), and one
  that is not a token we signed grants nothing beyond "necessary".
* ``policy``: any TOML text loads or raises ``ConfigError`` (whose problems format).
* ``response``: media-type extraction, sniffing, response plans, dot-segment removal and
  every decoder (gzip, deflate, br, zstd, with the size cap) never raise anything but
  ``CodingError``; a parsed media type reparses to itself; an upstream path stays under
  its prefix with no dot segment left.
"""

from __future__ import annotations

import atexit
import functools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from fuzz.second_judge import Parse5Judge

TRACKER = "tracker.test"
_PLANTS = (
    b'<script src="https://tracker.test/t.js"></script>',
    b'<img src="//tracker.test/p.gif">',
    b'<iframe src="https://a.tracker.test/f"></iframe>',
    b'<div style="background:url(https://tracker.test/bg.png)">',
    b'<link rel=preload href="https://tracker.test/x.js">',
)


def _is_tracker(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host == TRACKER or host.endswith("." + TRACKER)


def _decide_factory() -> Callable[[object], object]:
    from proxy.html import Action, Decision

    # A keep that depends on the element's URLs only, as the engine's keeps without a vendor
    # are: ``repeatable`` lets a rewriter with a KeepMemo copy the same start tag again unasked.
    keep = Decision(Action.KEEP, repeatable=True)

    def decide(element: object) -> object:
        urls = getattr(element, "urls", ())
        if any(_is_tracker(u.url) for u in urls):
            return Decision(Action.DEFER, "marketing", "tracker")
        return keep

    return decide


# Start tags kept byte for byte, shared between executions as the server shares one memo
# between the pages of one origin and consent (Engine.keep_memos). Emptied every
# _MEMO_GENERATION executions, so that it keeps learning the tags of new inputs (it stops
# growing at KEEP_MEMO_MAX entries).
_keep_memos: dict[str, dict[bytes, str]] = {}
_MEMO_GENERATION = 1024


def _rewrite(data: bytes, decide: Callable[[object], object], split: int | None = None, *,
             defuse: bool = True, keeps_all: bool = False, stream_ahead: bool = False,
             keep_memos: dict[str, dict[bytes, str]] | None = None) -> bytes:
    from proxy.html import Rewriter

    # ``defuse`` as the engine sets it: off when nothing can be refused (full consent), so
    # ambiguous markup (``</noscript`` inside a script) is defused only when it matters.
    # ``keeps_all``: the server's full-consent fast path (no nonce), where only author-marked
    # markup and the tags that change the tokenizer's state are looked at.
    # ``stream_ahead``: its fetch()ed-fragment form, where bytes without an author mark go
    # out unscanned and are scanned later only when a mark turns up (Scanner._send_ahead).
    # ``keep_memos``: tags kept before, copied after one lookup (see _keep_memos).
    rewriter = Rewriter(decide, base_url="https://site.test/", defuse_ambiguous=defuse, keeps_all=keeps_all,
                        stream_ahead=stream_ahead, keep_memos=keep_memos)
    if split is None:
        return rewriter.feed(data) + rewriter.close()
    return rewriter.feed(data[:split]) + rewriter.feed(data[split:]) + rewriter.close()


_html_count = 0


def html(data: bytes) -> None:
    global _html_count
    from proxy.html import KEEP

    if not data:
        return
    # The first byte picks a planted tracker and a split point: markup around it is fuzzed.
    plant = _PLANTS[data[0] % len(_PLANTS)]
    body = data[1:]
    middle = len(body) // 2
    page = body[:middle] + plant + body[middle:]
    if data[0] >= 0xC0:
        # A quarter of the inputs start where browsers may read markup two ways (SVG an
        # end tag may have closed, a select older parsers do not enter SVG in...): the
        # family of every stop of the fourth run (fuzz/sequences.py searches it directly).
        from fuzz.sequences import PREFIXES

        page = PREFIXES[data[0] % len(PREFIXES)] + page
    split = (data[0] * 7919) % (len(page) + 1)
    assert _rewrite(page, lambda e: KEEP, defuse=False) == page, "nothing refused, yet bytes changed"
    streaming = bool(data[0] & 1)   # page loads and fragments take turns
    assert _rewrite(page, lambda e: KEEP, split, defuse=False, keeps_all=True, stream_ahead=streaming) == page, \
        f"full consent (keeps_all, stream_ahead={streaming}), split at {split}: bytes changed"
    whole = _rewrite(page, _decide_factory())
    if _html_count % _MEMO_GENERATION == 0:
        _keep_memos.clear()
    if _rewrite(page, _decide_factory(), split, keep_memos=_keep_memos) != whole:
        memo_blamed = _rewrite(page, _decide_factory(), split) == whole
        raise AssertionError("the tags remembered from earlier inputs (KeepMemo) changed the output" if memo_blamed
                             else f"split at {split} changed the output")
    live: list[str] = []

    def second(element: object) -> object:
        attrs = getattr(element, "attrs", {})
        if getattr(element, "tag", "") in ("script", "style") and attrs.get("type", "").strip().lower() == "text/plain":
            return KEEP   # inert: neither a script nor a style sheet of type text/plain runs or fetches
        live.extend(u.url for u in getattr(element, "urls", ()) if _is_tracker(u.url))
        return KEEP

    _rewrite(whole, second)
    assert not live, f"tracker still live after the rewrite: {live[:3]}"
    _html_count += 1
    if _html_count % 64 == 0:
        _html5lib_check(whole)
        _parse5_check(whole)


@functools.cache
def _parse5_judge() -> Parse5Judge | None:
    """The second judge (fuzz/second_judge.py), started once; None without Node.js/parse5."""
    from fuzz.second_judge import Parse5Judge, unavailable

    if unavailable() is not None:
        return None
    judge = Parse5Judge()
    atexit.register(judge.close)
    return judge


def _parse5_check(out: bytes) -> None:
    """parse5 sees no tracker live in ``out``, where Node.js and parse5 are installed."""
    judge = _parse5_judge()
    if judge is None:
        return
    live = judge.live([out])[0]
    if live:
        raise AssertionError(f"parse5 sees a live {live[0]}")


# What each element fetches in a browser's tree (html5lib's tag names: HTML elements plain,
# SVG ones namespaced). An attribute that fetches nothing there (<img href>, <a href>) is
# not live, whatever its value: Chromium requests nothing for it either.
_SVG = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_FETCHING = {
    "script": ("src",), "img": ("src", "srcset"), "iframe": ("src",), "frame": ("src",),
    "link": ("href", "imagesrcset"), "embed": ("src",), "source": ("src", "srcset"), "video": ("src", "poster"),
    "audio": ("src",), "track": ("src",), "object": ("data",),
    **{_SVG + name: ("href", "xlink:href", _XLINK_HREF) for name in ("image", "script", "use", "feImage")},
}


_INERT_PARENTS = ("template", "noscript", "textarea", "title", "xmp", "noembed", "noframes")


_judge_parser: type | None = None


def _spec_parser() -> type:
    """html5lib's parser with one tokenizer bug corrected (html5lib 1.1, unmaintained).

    After ``<!--`` or ``<!---`` a NUL leaves html5lib in the comment start (dash) state,
    where a later ``>`` ends the comment: ``<!---\0\0><img src=tracker>`` became an empty
    comment and a live ``<img>``. The standard (13.2.5.43 comment start state and 13.2.5.44
    comment start dash state, "anything else": append "-" in the dash state, then reconsume
    in the comment state) puts the NUL in the comment state, where it becomes U+FFFD and
    ``>`` is comment text: the comment runs on to ``-->`` (or ``--!>``, or the end).
    Chromium agrees (``tests/fuzzing/test_fuzz_targets.py`` loads the forms in it: no
    element, no request), and so does our scanner. Found by the second campaign.
    """
    global _judge_parser
    if _judge_parser is not None:
        return _judge_parser
    import html5lib
    from html5lib import _tokenizer
    from html5lib.constants import _ReparseException, tokenTypes

    class SpecTokenizer(_tokenizer.HTMLTokenizer):  # type: ignore[misc]
        def _nul_into_comment(self, prefix: str) -> bool:
            self.tokenQueue.append({"type": tokenTypes["ParseError"], "data": "invalid-codepoint"})
            self.currentToken["data"] += prefix + "\uFFFD"
            self.state = self.commentState
            return True

        def commentStartState(self) -> bool:
            char = self.stream.char()
            if char == "\u0000":
                return self._nul_into_comment("")
            self.stream.unget(char)   # EOF and every other character: html5lib's own rules
            return bool(super().commentStartState())

        def commentStartDashState(self) -> bool:
            char = self.stream.char()
            if char == "\u0000":
                return self._nul_into_comment("-")
            self.stream.unget(char)
            return bool(super().commentStartDashState())

    modes = {"select": "inSelect", "td": "inCell", "th": "inCell", "tr": "inRow", "tbody": "inTableBody",
             "thead": "inTableBody", "tfoot": "inTableBody", "caption": "inCaption", "colgroup": "inColumnGroup",
             "table": "inTable", "head": "inBody", "body": "inBody", "frameset": "inFrameset", "html": "beforeHead"}

    class SpecParser(html5lib.HTMLParser):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.phases["inForeignContent"] = _leaving_foreign(type(self.phases["inForeignContent"]))(self, self.tree)

        def resetInsertionMode(self) -> None:  # noqa: N802
            # html5lib 1.1's, with one fix: it asserted "fragment parsing only" for any element
            # named select/colgroup/head/html before looking at its namespace, so an SVG
            # <select> (<svg><select><title><select><select>: the inner <select> closes the
            # HTML one and resets the mode) crashed the judge (the third run's stop). The
            # standard's steps look for those HTML elements only: foreign nodes are skipped
            # first, as html5lib already skips them for every other name.
            for node in self.tree.openElements[::-1]:
                last = node is self.tree.openElements[0]
                if not last and node.namespace != self.tree.defaultNamespace:
                    continue
                name = self.innerHTML if last and self.innerHTML else node.name
                if name == "html" and not self.innerHTML:   # the root (html5lib asserted here too)
                    self.phase = self.phases["beforeHead" if self.tree.headPointer is None else "afterHead"]
                    return
                if name in modes:
                    self.phase = self.phases[modes[name]]
                    return
                if last:
                    self.phase = self.phases["inBody"]
                    return

        def _parse(self, stream: object, innerHTML: bool = False, container: str = "div",  # noqa: N803
                   scripting: bool = False, **kwargs: object) -> None:
            # html5lib 1.1's HTMLParser._parse, with the corrected tokenizer.
            self.innerHTMLMode = innerHTML
            self.container = container
            self.scripting = scripting
            self.tokenizer = SpecTokenizer(stream, parser=self, **kwargs)
            self.reset()
            try:
                self.mainLoop()
            except _ReparseException:
                self.reset()
                self.mainLoop()

    def _leaving_foreign(phase: type) -> type:
        class InForeignContent(phase):  # type: ignore[misc, valid-type]
            __slots__ = ()

            def processEndTag(self, token: dict[str, object]) -> object:  # noqa: N802
                # html5lib 1.1 predates the rule "in foreign content, an end tag p or br":
                # pop to an HTML element or integration point and reprocess there. It kept
                # <svg> open after </p>, so <svg></p><script><script href=x> held an SVG
                # <script href> where the standard and Chromium have an HTML script whose
                # text is "<script href=x>" (no fetch, checked in Chromium; the third run's
                # second stop). Chromium's preload scanner still believes it is in SVG after
                # such an end tag (<svg></p><image href=x> fetches): our scanner's doubt
                # rules and the second pass cover that (tests/html/test_foreign_doubt.py).
                if token["name"] in ("p", "br"):
                    parser, elements = self.parser, self.tree.openElements
                    while (elements[-1].namespace != self.tree.defaultNamespace
                           and not parser.isHTMLIntegrationPoint(elements[-1])
                           and not parser.isMathMLTextIntegrationPoint(elements[-1])):
                        elements.pop()
                    # "according to the rules of the current insertion mode in HTML content":
                    # handed to that mode here (returning the token would come back to this
                    # phase when the current node is an integration point).
                    return parser.phase.processEndTag(token)
                return super().processEndTag(token)

        return InForeignContent

    _judge_parser = SpecParser
    return SpecParser


def _as_browsers_decode(out: bytes) -> bytes | str:
    """A UTF-16 byte order mark decides the encoding (WHATWG Encoding, "BOM sniff": UTF-8,
    UTF-16BE and UTF-16LE only). html5lib 1.1 also takes FF FE 00 00 for a UTF-32 mark and,
    failing to decode that, reads the bytes as windows-1252: markup browsers never see
    (the fourth run's stop h9, seed regression-judge-utf32-bom). Otherwise html5lib decides."""
    if out.startswith(b"\xff\xfe"):
        return out[2:].decode("utf-16-le", errors="replace")
    if out.startswith(b"\xfe\xff"):
        return out[2:].decode("utf-16-be", errors="replace")
    return out


def _html5lib_check(out: bytes) -> None:
    tree = _spec_parser()(namespaceHTMLElements=False).parse(_as_browsers_decode(out), scripting=True)
    # html5lib's etree has no parent pointers: one map per tree, made when a fetching
    # element is first met (a map per element was quadratic in the number of elements).
    parents: dict[object, object] | None = None
    for element in tree.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        names = _FETCHING.get(tag if tag.startswith("{") else tag.lower())
        if tag.lower() == "input" and (element.get("type") or "").strip().lower() == "image":
            names = ("src",)
        if names is None:
            continue
        if parents is None:
            parents = {child: parent for parent in tree.iter() for child in parent}
        if _in_inert(element, parents):
            continue
        if tag.lower().endswith("script") and (element.get("type") or "").strip().lower() == "text/plain":
            continue   # inert: a script of type text/plain neither runs nor fetches
        for name in names:
            value = element.get(name) or ""
            urls = [part.split()[0] for part in value.split(",") if part.strip()] if "srcset" in name else [value]
            for url in urls:
                if url and _is_tracker(url if "//" in url else "https://x/" + url):
                    raise AssertionError(f"html5lib sees a live <{tag} {name}={value!r}>")


def judge_sees_live(page: bytes) -> bool:
    """Whether the html target's judge (html5lib, as corrected above) sees a tracker live."""
    try:
        _html5lib_check(page)
    except AssertionError:
        return True
    return False


def _in_inert(element: object, parents: dict[object, object]) -> bool:
    # <template>/<noscript> contents parse as children of those elements, which browsers
    # (with scripting) never fetch.
    node = element
    while node in parents:
        node = parents[node]
        tag = getattr(node, "tag", "")
        if isinstance(tag, str) and tag.lower() in _INERT_PARENTS:
            return True
    return False


def url(data: bytes) -> None:
    from proxy.urls import resolve

    text = data.decode("utf-8", "replace")
    base, _, ref = text.partition("\n")
    base = "https://site.test/" + base if not base.startswith(("http:", "https:")) else base
    once = resolve(ref, base)
    assert isinstance(once, str)
    if once.startswith(("http://", "https://")) and once != ref:
        again = resolve(once, base)
        assert again == once, f"not idempotent: {once!r} -> {again!r}"


def css(data: bytes) -> None:
    from proxy.html.css import css_urls

    text = data.decode("utf-8", "replace")
    found = css_urls(text)
    assert all(isinstance(u, str) for u in found)
    planted = "https://tracker.test/" + "".join(c for c in text[:20] if c.isalnum())
    assert planted in css_urls(f"a{{color:red}} b{{background:url({planted})}}"), "plain url() missed"


_consent_ring: object | None = None


def consent(data: bytes) -> None:
    global _consent_ring
    from proxy.consent import KeyRing, read_consent
    from proxy.policy import default_config

    os.environ.setdefault("CONSENTRY_SECRET", "fuzzing-secret-0123456789abcdef0123456789")
    if _consent_ring is None:
        _consent_ring = (default_config(upstream="http://127.0.0.1:9"), KeyRing.single_hs256(os.environ["CONSENTRY_SECRET"]))
    config, ring = _consent_ring  # type: ignore[misc]
    site = config.sites["default"]
    text = data.decode("latin-1")
    for header in (text, f"consentry={text}", f"a=b; consentry={text.replace(';', '')}"):
        state = read_consent([header], site=site, keyring=ring)
        assert state.source == "none" or state.failure is None
        if state.source == "none":
            assert set(state.categories) <= {"necessary"}, state.categories


_policy_dir: Path | None = None


def policy(data: bytes) -> None:
    global _policy_dir
    from proxy.policy import ConfigError
    from proxy.policy.keyring import quiet_random_secret
    from proxy.policy.loader import parse_config

    # The loader's own code after its read (``load_config`` = read_bytes + ``parse_config``),
    # without a temporary file per input: the file system round trip was a fifth of the time.
    # The policy "lives" in an empty private directory, so relative key and catalogue paths
    # resolve as they would next to a real file (and never into another process's files).
    if _policy_dir is None:
        _policy_dir = Path(tempfile.mkdtemp(prefix="consentry-fuzz-policy-"))
    source = _policy_dir / "policy.toml"
    quiet = quiet_random_secret.set(True)   # as check-config: no log line per input without CONSENTRY_SECRET
    try:
        parse_config(data, name=str(source), source=source)
    except ConfigError as error:
        for problem in error.problems:
            assert problem.format()
    finally:
        quiet_random_secret.reset(quiet)


def response(data: bytes) -> None:
    from proxy.response.codings import SUPPORTED, CodingError, DecodeChain
    from proxy.response.headers import refresh_url, upstream_if_none_match
    from proxy.response.mime import extract_mime_type, parse_mime_type
    from proxy.response.plan import plan_response
    from proxy.response.sniff import sniff
    from proxy.server.headers import upstream_path

    text = data.decode("latin-1")
    values = text.split("\n")
    mime = extract_mime_type(values)
    if mime is not None:
        assert parse_mime_type(mime.serialize()) == mime, mime.serialize()
    plan_response("GET", 200 + data[0] % 400 if data else 200,
                  [("Content-Type", v) for v in values[:3]] + [("Content-Encoding", v) for v in values[3:5]])
    sniff(data)
    refresh_url(text)
    upstream_if_none_match(text, "abc")
    path = upstream_path("/app", "/" + text.replace("\n", "").replace("?", ""))
    if path is not None:
        assert path.startswith("/app/"), path
        segments = path[len("/app/"):].split("/")
        assert not any(s.lower().replace("%2e", ".") in (".", "..") for s in segments), path
    coding = SUPPORTED[data[0] % len(SUPPORTED)] if data else "gzip"
    chain = DecodeChain([coding], max_size=1 << 20)
    try:
        for piece in chain.decode(data[1:]):
            assert len(piece) <= 8 << 20
        list(chain.flush())
    except CodingError:
        pass


TARGETS: dict[str, Callable[[bytes], None]] = {
    "html": html, "url": url, "css": css, "consent": consent, "policy": policy, "response": response,
}
