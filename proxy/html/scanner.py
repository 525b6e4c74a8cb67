"""The streaming scanner: WHATWG tokenizer states over bytes, edits spliced into the stream.

``Scanner.feed(chunk)`` returns the bytes that are final; everything it is not yet sure
about (an incomplete tag or comment, the possible beginning of ``</script``, a script
body it must see before deciding) stays in a tail capped by ``max_buffer``. It tracks
only what decides where tags start and end: data, RCDATA, RAWTEXT, script data with its
escaped and double-escaped states, comments, bogus comments, CDATA (foreign content
only) and PLAINTEXT, plus a small simulation of the tree builder (``<svg>``/``<math>``
with breakout tags and integration points, ``<template>``, ``<noscript>``, ``<select>``).
Bytes are copied through untouched except the tags it edits. Raw-text bodies are handled
by ``textmodes.py``, cut tags judged by ``overlong.py``, the element sets in ``rules.py``,
what fetches in ``fetch.py`` and the edits themselves in ``edits.py``/``tags.py``.

Readings it chooses where a browser could go either way (STYLE.md habit 4):

* ``<noscript>`` is read as markup (the scripting-disabled reading), so a tracker pixel
  or iframe in it is neutralised for browsers without JavaScript. A scripting browser
  reads the same bytes as raw text ending at the first ``</noscript``; where that would
  end the element earlier than the markup reading (``</noscript>`` inside an attribute
  value, comment, CDATA section or raw-text body inside the noscript, or an end tag that
  closes an SVG element named noscript), the ``</`` is rewritten to ``<\\/`` so both
  readings agree on where the noscript ends, and ``<plaintext>`` inside noscript does not
  switch to PLAINTEXT.
* Inside ``<select>``, parsers disagree on whether ``<style>``, ``<xmp>``, ``<title>``...
  switch to raw text (the classic spec ignores them there). Their bodies are scanned as
  raw text for the tokenizer state and also rewritten as markup (with the select still
  open); ``<plaintext>`` does not switch to PLAINTEXT, and a ``<![CDATA[`` in SVG/MathML
  there is also read as the bogus comment older parsers see.
* ``<![CDATA[`` in foreign content is a CDATA section in one reading and a bogus comment
  in another: at an integration point, in doubt about foreign content (below), and after
  any end tag the scanner could not match (it tracks only some foreign elements, and an
  end tag of any name may close an HTML ancestor: ``<mglyph><math></mglyph>``). So every
  section is read as CDATA and its text after the first ``>`` also rewritten as markup.
* ``<mglyph>``/``<malignmark>`` at a MathML text integration point are MathML unless an HTML
  element is open inside the point (not tracked): the doubt below, the other reading
  inside them. Inside ``<select>``, a raw-text element in SVG/MathML (older parsers: an
  HTML one once an ``<input>`` or ``<textarea>`` closed the select) is read both ways.
* Inside SVG/MathML, HTML fetch rules apply too (an ``<iframe src>`` there fetches
  nothing, but neutralising it costs nothing). An end tag that matches no open foreign
  element but names an HTML element leaves foreign content (it closes an ancestor), but
  the tree keeps the SVG open when no such ancestor is open, and Chromium's preload
  scanner believes it is still in SVG either way: until a breakout start tag or the
  other reading's root closes (while this reading is not itself in foreign content), the
  SVG fetch rules apply too (fast path off), and a raw-text element or ``<plaintext>``
  is also read as the foreign element it is in the other reading. An end tag that would
  pop past an integration point (which the tree builder does only if no HTML element is
  open in it, not tracked) starts the same doubt. Integration points belong to one
  namespace (``<mi>``, ``<annotation-xml>`` in MathML, ``<title>``, ``<desc>``,
  ``<foreignObject>`` in SVG), and ``<svg>``/``<math>`` inside foreign content are
  ordinary elements of it (marked with a NUL in the stack), not new roots. Where two
  readings are possible, comments and bogus comments are read as markup too, and a
  scanner that reads markup for the other reading lets no comment, raw text or PLAINTEXT
  hide what follows (``_paranoid``): it only finds more to defer.
* The scanner follows its *output*: when a tag is stripped, the state it would have
  caused (breaking out of SVG, a raw-text body) is not assumed for what follows.

The ``max_buffer`` cap (the "fail closed" setting): a tag longer than ``max_buffer`` is
decided on its first ``max_buffer`` bytes (``text_truncated``); a keep stands for what was
seen (a URL value cut by the cap counts when enough of it was seen, see ``overlong.py``),
and every fetching attribute after that point is renamed as it streams past (for a tag
nobody was asked about, only attributes that make the fast path stop, so a late ``style`` there is the one documented gap).

Script and style bodies longer than ``max_buffer`` are judged whole, in bounded memory:

* The start tag is held with the first ``max_buffer`` bytes of the body and decided on
  them (``text_truncated``). A refusal makes the element inert as for any body; a deferred
  style's whole body then streams with ``@import`` hidden (Chromium's preload scanner
  reads it whatever the type), an ``@`` that may begin one waiting for the next bytes.
* A keep sends the start tag out live, and with it the body up to where the next window
  starts. Windows are ``max_buffer`` long and start every ``max_buffer - overlap`` bytes
  (``WINDOW_OVERLAP``, at most a quarter of the window), at fixed body offsets whatever the
  chunking; each is shown to ``decide`` (``Element.text_offset``) before a byte of it goes
  out, so evidence up to ``overlap`` long lies whole in one window, and at most one window
  plus the last chunk is ever held. Each byte is judged about once (linear cost).
* A later window may be refused after the start tag and earlier bytes went out live,
  and those cannot be changed. A browser runs a script only once its end tag is parsed,
  and a classic or module script that does not parse runs not at all, so the element is
  ended right before the refused window with ``_CUT_CLOSE``: a backslash before a line
  break, which no lexical context can absorb (code: a syntax error; a string, template
  or block comment: a continuation that never closes; a regular expression: cut by the
  line break), then ``-->`` (leaves the escaped states) and ``</script>``. None of the
  script runs, as if it were deferred. For a style (CSS recovers rule by rule) what was
  judged stays; the close turns a ``url()``/string the cut divides into a bad token, so
  half an address is never fetched. The refused rest is dropped (strip) or streams in a
  new inert element (``type="text/plain" data-consent-cut="<category>"``, not
  ``data-consent``: the runtime must not activate a fragment on consent; the whole script
  runs after the next load). That element starts in the script data state, so the
  scanner reads the rest again from there: it follows its output, as everywhere.
* An SVG/MathML ``<script>``/``<style>`` body is markup to the tokenizer and streams as
  such (a ``<style>`` in ``<select>`` is read both ways); one whose text runs past
  ``max_buffer`` cannot be judged before it goes out, so a keep of it becomes a defer
  (``data-consent="unclassified"``): such a body never runs.

Comments, bogus comments and CDATA stream. Input that ends inside a
tag is passed through unchanged (a browser drops it). The same input gives the same
output for every chunking, the cap included.

Standard library only; must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from proxy.html import patterns as P
from proxy.html.edits import PREFIX, EditBuilder
from proxy.html.element import Action, Decision, Element, FetchURL
from proxy.html.fetch import (AUTHOR_MARKS, BREAKOUT, FOREIGN_END_INTERESTING, HTML_ELEMENTS, Inspection,
                              depends_on_document_path, inspect_tag)
from proxy.html.overlong import ENOUGH_OF_A_URL, classifiable
from proxy.html.rules import (AFTER_NAME, BOGUS, CDATA, COMMENT, DATA, HEAD_CONTENT, LONG_TAG, LONG_TAG_GENERIC,
                              LONG_TAG_MOVED, MATHML_TEXT_FOREIGN, MATHML_TEXT_INTEGRATION, NAME_HEAD, PLAINTEXT, RAW, RAWTEXT_ELEMENTS, S_DATA,
                              SEPARATORS, SVG_INTEGRATION, SVG_WHOLE, TEXT_MODE_ELEMENTS, UNQUOTED_END, VOID,
                              WHOLE_ELEMENT, defuse_noscript)
from proxy.html.charrefs import decode_attribute, decode_text
from proxy.html.css import css_urls
from proxy.html.tags import TAG, Attr, apply_edit, parse_attributes, quick_attributes, quote_value, truncated_attributes
from proxy.html.textmodes import find_end_tag, scan_script
from proxy.html.urls import URLResolver, resolve, usable_base


Decide = Callable[[Element], Decision]

KeepMemo = dict[bytes, str]
"""Start tags a rewriter kept byte for byte, by their raw bytes, for later documents.

The value says for which base URL the keep holds: the base it was decided against, or
``""`` when the tag's URLs depend at most on the document's origin (absolute, scheme- or
root-relative) and no ``<base href>`` moved it. The caller shares one memo between
documents only when everything else its decisions read is the same: the same consent,
the same document origin, the same rules (``Engine.rewriter`` keys them so). Only tags
whose decision was ``Decision.repeatable``, with no event handler, seen in the plain
context (HTML content, outside ``<noscript>``, ``<template>``, a stripped element or a
srcdoc document, after the injection point) and named in ``MEMO_NAMES`` are remembered.
"""
# Elements whose start tag changes nothing in the tokenizer or the tree-builder
# simulation: only the decision about them matters, so a remembered keep is complete.
MEMO_NAMES = frozenset({"img", "source", "link", "video", "audio", "track", "embed", "object", "a", "area",
                        "div", "span", "section", "article", "header", "footer", "li", "td", "th", "tr",
                        "table", "figure", "picture", "p", "button", "label", "i", "em", "strong"})
KEEP_MEMO_MAX = 4096

log = logging.getLogger(__name__)
_IMPORT = re.compile(rb"@(?i:import)")
_HIDDEN_IMPORT = rb"@\\69mport"

# Over-long raw-text bodies are judged in windows of ``max_buffer`` bytes that overlap by
# this much (a quarter of the window at most), so that any signature, URL or ``@import``
# up to this long lies whole inside one window.
WINDOW_OVERLAP = 8 * 1024
# What closes a live body cut at a refused window. Script: a backslash before a line
# break is a syntax error in code and after a line comment, a line continuation inside a
# string, template or block comment that then never ends (also an error), and a regular
# expression cannot span lines: whatever the lexical context at the cut, the truncated
# script does not parse, so none of it runs. "-->" leaves the escaped and double-escaped
# script states, so the "</script>" that follows ends the element. Style: after a line
# break an unquoted url( sees '"' and becomes a bad URL, a quoted string ends as a bad
# string (the first line break may be an escaped one), so a url()/@import the cut
# divides is dropped, never fetched with half its address.
_CUT_CLOSE = {"script": b"\n\\\n--></script>", "style": b'\n\n"</style>'}


# Edited start tags by (raw tag, decision's fields, moved attributes, encoding): bounded by
# clearing, short tags only, so a page of unique or huge tags costs one lookup each.
_EDITS: dict[tuple[bytes, str, str | None, str | None, tuple[tuple[str, str], ...], tuple[str, ...], str], bytes | None] = {}
_EDITS_MAX = 2048
_EDIT_LENGTH = 512
_MISSING = object()
# Under keeps_all, bytes that hold none of these (lowercased) cannot change: every author
# mark starts with one (see Scanner._send_ahead).
_MARK_WORDS = (b"data-consent", b"data-category", b"data-cookie")
assert all(any(mark.encode().startswith(word) for word in _MARK_WORDS) for mark in AUTHOR_MARKS)
assert all(word.startswith(b"data-c") for word in _MARK_WORDS)   # (_has_mark looks for that)
_MARK_SPAN = max(map(len, _MARK_WORDS)) - 1


def _has_mark(lowered: bytes) -> bool:
    """Whether lowercased bytes hold one of _MARK_WORDS (one pass over them)."""
    found = lowered.find(b"data-c")
    while found >= 0:
        if lowered.startswith(_MARK_WORDS, found):
            return True
        found = lowered.find(b"data-c", found + 6)
    return False

_MARKUP_IN_FOREIGN_TEXT = re.compile(rb"<!\[CDATA\[(.*?)(?:\]\]>|$)|<!--.*?-->|<[A-Za-z/!?][^>]*>", re.S)



_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _root_of(stack: list[tuple[str, bool]]) -> str:
    """The innermost foreign root (``svg``/``math``) of a foreign stack, or ``""``."""
    for name, _ in reversed(stack):
        if name in ("svg", "math"):
            return name
    return ""


def _last_named(stack: list[tuple[str, bool]], name: str) -> int:
    """Index of the innermost element of a foreign stack an end tag ``name`` closes, or -1
    (the NUL that marks a non-root svg/math does not stop its end tag matching)."""
    for index in range(len(stack) - 1, -1, -1):
        if stack[index][0].rstrip("\0") == name:
            return index
    return -1


def _foreign_entry(name: str, decoded: dict[str, str], root: str, parent: str = "") -> tuple[str, bool] | None:
    """What a foreign start tag (not self-closing) pushes on the foreign stack: (name, HTML
    content inside), or None. Only roots, integration points and elements whose end tags
    matter are tracked: other foreign elements change nothing about how the following
    bytes are tokenized."""
    if name in ("svg", "math"):
        # In foreign content they are ordinary elements of the current namespace (an SVG
        # element named "math"), except an <svg> in a MathML <annotation-xml>, which the
        # tree builder takes as HTML and so as a new SVG root. Marked with a NUL, which no
        # tag name holds: still matched by its end tag, never taken for a root.
        if name == "svg" and root == "math" and parent == "annotation-xml":
            return (name, False)
        return (name + "\0", False)
    # Integration points belong to one namespace: an <mi> or <annotation-xml> in SVG, or a
    # <title> in MathML, is an ordinary foreign element.
    if (name in MATHML_TEXT_INTEGRATION and root == "math") or (name in SVG_INTEGRATION and root == "svg"):
        return (name, True)
    if name == "annotation-xml" and root == "math":
        # An HTML integration point with an HTML encoding, compared as the standard and
        # browsers do: ASCII case-insensitively, nothing stripped (" text/html" is MathML
        # content, where <style> holds markup); tracked either way, since an <svg> in it
        # starts a new SVG root.
        encoding = decoded.get("encoding", "").translate(_ASCII_LOWER)
        return (name, encoding in ("text/html", "application/xhtml+xml"))
    if name in FOREIGN_END_INTERESTING and name not in VOID:
        return (name, False)
    return None

class Scanner:
    """Byte-preserving streaming rewriter for one ASCII-compatible document."""

    def __init__(self, decide: Decide, *, encoding: str, base_url: str | None = None,
                 max_buffer: int = 256 * 1024, inject: bytes | None = None, in_srcdoc: bool = False,
                 defuse_ambiguous: bool = True, resolve_url: URLResolver | None = None,
                 inject_nested: bytes | None = None, trace: Callable[[bytes], None] | None = None,
                 keeps_all: bool = False, keep_memo: KeepMemo | None = None, stream_ahead: bool = False) -> None:
        self._decide = decide
        # Start tags kept unchanged before, by their bytes (see KeepMemo): looked up before
        # any attribute is parsed, in the plain context only.
        self._keep_memo = keep_memo if not keeps_all and not in_srcdoc and trace is None else None
        self._repeatable = False   # the last element decision allows remembering the tag
        self._inject_nested = inject_nested or None
        self._resolve_url: URLResolver = resolve_url or resolve
        # The caller keeps every element but may activate author-marked ones (full
        # consent, no nonce): the fast path then stops only at what changes the tokenizer
        # state or carries an author mark, and every other tag is copied unseen.
        self._keeps_all = keeps_all
        self._skip = P.SKIP_KEEPING if keeps_all else P.SKIP
        # Output ahead of the scan (keeps_all only, see _send_ahead): the bytes sent as they
        # came but not scanned yet (None: none), and what of them is being scanned again
        # (its output must be exactly those bytes, and is dropped).
        self._ahead: list[bytes] | None = None
        self._ahead_size = 0
        self._held_tail = b""        # from the last "<" of what came since: not sent yet
        self._sent_ahead = b""       # sent ahead, being scanned: the output still to drop
        self._sent_until = 0         # stream offset where the bytes sent ahead end
        self._stream_ahead = stream_ahead and keeps_all and not defuse_ambiguous and trace is None
        # Nothing to inject: the bytes may go out unscanned from the first one.
        self._ahead_from_start = self._stream_ahead and not inject
        # Conformance seam: called with the raw bytes of every tag, comment, bogus comment
        # and doctype (the fast path is off then, so that every token is seen).
        self._trace = trace
        self._defuse_ambiguous = defuse_ambiguous
        self.encoding = encoding
        self._document_url = base_url if base_url and usable_base(base_url) else None
        self._base = self._document_url
        self._base_seen = False
        self._max = max(64, max_buffer)
        self._inject = inject or None
        self._in_srcdoc = in_srcdoc
        self._buf = b""
        self._offset = 0          # absolute stream offset of _buf[0]
        self._pos = 0             # scanning position in _buf
        self._emit_from = 0       # bytes of _buf before this are already emitted or discarded
        self._out: list[bytes] = []
        self._line = 1
        self._line_pos = 0
        self._mode = DATA
        # Text-mode (RAW) state, absolute offsets.
        self._raw_name = ""
        self._raw_name_bytes = b""
        self._raw_script = False
        self._script_state = S_DATA
        self._raw_scan = 0
        self._raw_body = 0
        self._raw_hold = False           # body not yet emitted (decision pending or noscript)
        self._raw_pending: tuple[bytes, int, str, dict[str, str], Inspection] | None = None  # tag bytes, offset, name, attributes, what it fetches
        self._raw_suppress = False
        # Windows of a live over-long body: where the next one starts (absolute, -1: none),
        # and the element they belong to (name, attributes, start tag offset, line).
        self._window = -1
        self._window_element: tuple[str, dict[str, str], int, int] | None = None
        self._raw_hide = False           # a deferred style body streams with "@import" hidden
        # Tree-builder simulation.
        self._foreign: list[tuple[str, bool]] = []  # open foreign elements: (name, HTML inside?)
        self._noscript = 0
        self._template = 0
        self._select = False
        self._last_action = Action.KEEP   # of the last element decision (a style body may follow it)
        self._foreign_doubt = False   # maybe still in SVG/MathML (see _close_contexts)
        # A scanner that reads markup for another reading (_read_as_markup) where the
        # readings disagree: no comment, raw text or PLAINTEXT hides what follows in it,
        # since in some reading those bytes are markup. It only ever finds more to defer.
        self._paranoid = False
        self._raw_dual = False
        self._doubt_foreign: list[tuple[str, bool]] = []   # the foreign stack the doubt may still be in
        self._raw_foreign: list[tuple[str, bool]] = []     # the markup reading of this body starts there
        # STRIP of an element with content: suppress until its end tag.
        self._strip_name: str | None = None
        self._strip_depth = 0
        self._strip_restores: list[tuple[str, bool]] | None = None
        # Over-long tag streaming state.
        self._long_quote = b""           # b'"', b"'", b" " (unquoted) or b"" (between attributes)
        self._long_decision: Decision | None = None
        self._long_info: tuple[str, bool, bool, bool] = ("", False, False, False)  # name, end tag, foreign, interesting
        self._comment_scan = 0
        self._bogus_start = 0
        self._long_strip_void = False
        self._long_classified_until = 0  # stream offset up to which decide saw the long tag
        self._closed = False
        # An incomplete token at the stream offset ``_stall_at`` is looked at again only
        # once the stream reaches ``_stall_size`` (twice what was waiting, up to the cap):
        # a tag fed in small chunks costs linear time, not one rescan per chunk.
        self._stall_at = -1
        self._stall_size = 0
        # Work counter: bytes handed to rescans of incomplete tokens (tests of linearity).
        self.rescanned = 0
        # Memory counter: the most input bytes held back after any feed (tests of the cap).
        self.held_max = 0

    # ----------------------------------------------------------------- public API

    def feed(self, data: bytes) -> bytes:
        if self._closed:
            raise ValueError("feed() after close()")
        if not data:
            return b""
        if self._ahead is not None:
            data = self._held_tail + data
            if self._may_send_ahead(data, self._ahead[-1] if self._ahead else b""):
                return self._send_ahead(data)
            self._held_tail = b""
            self._take_back_ahead()
        self._buf = self._buf + data if self._buf else bytes(data)
        unscanned, self._ahead_from_start = self._ahead_from_start, False
        if not unscanned:
            self._run(eof=False)
        out = self._flush()
        if self._stream_ahead and self._inject is None:
            # At the first byte with nothing to inject, or where the scan of these bytes
            # stopped (a token boundary) once the injection is placed: what is left may go
            # out unscanned (see _send_ahead).
            rest = self._buf
            if (self._pos == 0 and self._emit_from == 0 and not self._sent_ahead and self._may_stop_scanning()
                    and self._may_send_ahead(rest, b"")):
                self._buf = b""
                self._ahead = []
                return out + self._send_ahead(rest)
        if unscanned:   # a mark in the first bytes: they are scanned after all
            self._run(eof=False)
            out += self._flush()
        return out

    def close(self) -> bytes:
        if self._closed:
            return b""
        if self._ahead is not None:
            # Nothing in what is left can change: it goes out, and the end needs no scan
            # (Rewriter.body_reopener scans it, with catch_up, if it is asked).
            self._closed = True
            tail, self._held_tail = self._held_tail, b""
            self._ahead.append(tail)
            return tail
        self._run(eof=True)
        out = self._flush(final=True)
        if self._inject is not None:
            out += self._inject
            self._inject = None
        self._closed = True
        return out

    # ----------------------------------------------------------------- output ahead of the scan

    def _may_stop_scanning(self) -> bool:
        """Whether the bytes after this point may go out unscanned: when streaming ahead
        (keeps_all, nothing to defuse), with the injection placed, nothing held back or
        being cut."""
        return (self._stream_ahead and self._inject is None
                and self._raw_pending is None and not self._raw_hold and not self._suppressing
                and self._mode != LONG_TAG and self._window < 0)

    def _may_send_ahead(self, data: bytes, before: bytes) -> bool:
        """Whether ``data`` can go out unscanned: no author mark in it (nor across its
        boundary with ``before``), and the bytes kept unscanned stay within the cap."""
        if self._ahead_size + len(data) > self._max:
            return False
        return not _has_mark(data.lower()) and not _has_mark((before[-_MARK_SPAN:] + data[:_MARK_SPAN]).lower())

    def _send_ahead(self, data: bytes) -> bytes:
        """Send ``data`` unscanned (it starts at a token boundary, or where the bytes sent
        ahead end).

        Under keeps_all, once the injection is placed, nothing but an author-marked start
        tag can change, and every author mark starts with one of _MARK_WORDS: from the feed
        after the one that placed it (from the first byte when nothing is injected), bytes
        with none of them go out at once and the scan stays where it stopped. They are kept, up
        to the buffer cap: when a mark turns up, or the cap is reached, or the state at the
        end is asked for, they are scanned then and their output dropped (it is those
        bytes), which leaves the tokenizer state exact. A fragment under the cap without a
        mark is never scanned.

        The bytes from the last ``<`` on wait, unsent, for the next ones: a start tag cut
        there may carry its mark in them. (A tag that began before, with a ``<`` in an
        attribute value, stays as it went out: see _start_tag.)
        """
        assert self._ahead is not None
        cut = data.rfind(b"<")
        if cut < 0:
            cut = len(data)
        sent, self._held_tail = data[:cut], data[cut:]
        if sent:
            self._ahead.append(sent)
            self._ahead_size += len(sent)
        return sent

    def _take_back_ahead(self) -> None:
        """Put the bytes sent ahead back in the buffer, to be scanned; the output for them
        (which is those bytes: nothing in them changes) is dropped when it comes."""
        assert self._ahead is not None and not self._buf and not self._sent_ahead
        self._sent_ahead = b"".join(self._ahead)
        self._sent_until = self._offset + len(self._sent_ahead)
        self._buf = self._sent_ahead
        self._ahead = None
        self._ahead_size = 0

    @property
    def ahead_of_scan(self) -> bool:
        """Whether bytes went out that are not scanned yet (see _send_ahead)."""
        return self._ahead is not None

    def catch_up(self) -> None:
        """Scan what was sent ahead of the scan (see _send_ahead), not as an end of file:
        the state then tells what the document leaves open."""
        if self._ahead is not None:
            self._take_back_ahead()
            self.settle()
            self._flush()

    def settle(self) -> None:
        """Scan every token that is complete now, not as an end of file (for the state).

        A token that was incomplete waits until the bytes behind it have doubled before it
        is looked at again (the stall in _run); the bytes that came since may complete it.
        Its output, if any, goes out with the next feed or close.
        """
        self._stall_at = -1
        self._run(eof=False)

    # ----------------------------------------------------------------- plumbing

    def _defuse(self, data: bytes) -> bytes:
        """``</noscript`` made unambiguous, unless the caller keeps everything anyway.

        The defusing protects against the scripting-enabled reading exposing markup the
        scripting-disabled reading hid; when nothing will be refused there is nothing to
        protect, and the bytes stay as they were.
        """
        return defuse_noscript(data) if self._defuse_ambiguous else data

    @property
    def _suppressing(self) -> bool:
        return self._strip_name is not None or self._raw_suppress

    def _advance(self, position: int) -> None:
        self._pos = position
        if self._strip_name is not None or self._raw_suppress:  # _suppressing, inlined: a hot path
            self._emit_from = position

    def _replace(self, start: int, end: int, data: bytes) -> None:
        """Emit ``data`` instead of ``_buf[start:end]``."""
        if not self._suppressing:
            self._out.append(self._buf[self._emit_from:start])
            self._out.append(data)
        self._emit_from = end
        self._pos = end

    def _insert(self, at: int, data: bytes) -> None:
        if not self._suppressing:
            self._out.append(self._buf[self._emit_from:at])
            self._out.append(data)
            self._emit_from = at

    def _start_suppressing(self, at: int) -> None:
        if not self._suppressing:
            self._out.append(self._buf[self._emit_from:at])
        self._emit_from = at

    def _flush(self, final: bool = False) -> bytes:
        buf = self._buf
        if final:
            if not self._suppressing:
                self._out.append(buf[self._emit_from:])
            self._pos = self._emit_from = len(buf)
        elif self._raw_pending is None or self._mode != RAW:
            if not self._suppressing:
                self._out.append(buf[self._emit_from:self._pos])
            self._emit_from = self._pos
        cut = self._emit_from
        if cut:
            if self._line_pos < cut:
                self._line += buf.count(b"\n", self._line_pos, cut)
                self._line_pos = 0
            else:
                self._line_pos -= cut
            self._buf = buf[cut:]
            self._offset += cut
            self._pos -= cut
            self._emit_from = 0
        if len(self._buf) > self.held_max:
            self.held_max = len(self._buf)
        out = b"".join(self._out)
        self._out.clear()
        if self._sent_ahead:
            out = self._drop_sent_ahead(out)
        return out

    def _drop_sent_ahead(self, out: bytes) -> bytes:
        sent = self._sent_ahead
        count = min(len(sent), len(out))
        if out[:count] != sent[:count]:
            # Cannot happen (only a mark changes anything, and none was there): the page's
            # own bytes went out, which leaves any author-deferred element inert.
            log.error("rewrite output differed from bytes sent ahead of the scan; sent bytes kept")
        self._sent_ahead = sent[count:]
        return out[count:]

    def _line_at(self, position: int) -> int:
        if position > self._line_pos:
            self._line += self._buf.count(b"\n", self._line_pos, position)
            self._line_pos = position
        return self._line

    def _in_foreign(self) -> bool:
        return bool(self._foreign) and not self._foreign[-1][1]

    def _place_inject(self, at: int) -> None:
        data, self._inject = self._inject, None
        if data is not None:
            self._insert(at, data)

    # ----------------------------------------------------------------- main loop

    def _run(self, eof: bool) -> None:
        while True:
            mode = self._mode
            if mode == DATA:
                size = len(self._buf)
                if not eof and self._stall_at == self._offset + self._pos and self._offset + size < self._stall_size:
                    return
                progressed = self._data(eof)
                if not progressed and not eof and self._pos < size and self._mode == DATA:
                    # Stopped at an incomplete token: wait for enough new bytes first.
                    waiting = size - self._pos
                    self.rescanned += waiting
                    self._stall_at = self._offset + self._pos
                    self._stall_size = self._stall_at + min(2 * waiting, self._max)
            elif mode == RAW:
                progressed = self._raw(eof)
            elif mode == COMMENT:
                progressed = self._comment(eof)
            elif mode == BOGUS:
                progressed = self._bogus(eof)
            elif mode == CDATA:
                progressed = self._cdata(eof)
            elif mode == LONG_TAG:
                progressed = self._long_tag(eof)
            else:  # PLAINTEXT: everything after is text, nothing in it fetches
                self._advance(len(self._buf))
                progressed = False
            if not progressed:
                return

    def _data(self, eof: bool) -> bool:
        buf = self._buf
        size = len(buf)
        start = self._pos
        # In doubt about foreign content (see _close_contexts) neither fast path is the
        # union of both readings: every tag is looked at.
        fast = (self._inject is None and self._strip_name is None and not self._noscript and self._trace is None
                and not self._foreign_doubt and not (self._foreign and (self._select or self._foreign[-1][1])))
        if fast:
            # HTML (also inside an integration point) or foreign content.
            skip = self._skip if not self._foreign or self._foreign[-1][1] else P.SKIP_FOREIGN
            skipped = skip.match(buf, start)
            memo = self._keep_memo
            if memo is not None and not (self._foreign or self._template or self._raw_suppress):
                # Start tags kept before (KeepMemo) are copied here, one lookup each. A
                # remembered tag is complete, so if the bytes up to the next ">" are one,
                # the tag ends there (a ">" inside its quotes makes a prefix, which misses).
                while True:
                    assert skipped is not None  # SKIP matches the empty string
                    position = skipped.end()
                    close = buf.find(b">", position)
                    if close < 0 or not self._kept_before(buf[position:close + 1]):
                        break
                    skipped = skip.match(buf, close + 1)
        else:
            skipped = P.TEXT.match(buf, start)
        assert skipped is not None  # both match the empty string
        position = skipped.end()
        if not fast:
            if self._inject is not None and position > start and not (self._template or self._noscript):
                text = P.NON_WHITESPACE.search(buf, start, position)
                if text is not None:
                    self._advance(text.start())
                    self._place_inject(text.start())
        self._advance(position)
        if position >= size:
            return False
        if position + 1 >= size:
            if not eof:
                return False
            self._advance(size)
            return False
        following = buf[position + 1]
        if self._paranoid and following in (0x21, 0x3F):
            self._advance(position + 1)   # (see _paranoid: nothing hides what follows)
            return True
        if following == 0x21:  # "!"
            return self._markup_declaration(position, eof)
        if following == 0x3F:  # "?": bogus comment up to ">"
            self._mode = BOGUS
            self._bogus_start = self._offset + position
            return True
        if following == 0x2F:  # "/"
            if position + 2 >= size:
                if not eof:
                    return False
                self._advance(size)
                return False
            third = buf[position + 2]
            if third == 0x3E:  # "</>" is dropped by the tokenizer
                self._advance(position + 3)
                return True
            if not (0x41 <= third <= 0x5A or 0x61 <= third <= 0x7A):
                if self._paranoid:
                    self._advance(position + 1)
                    return True
                self._mode = BOGUS
                self._bogus_start = self._offset + position
                return True
            return self._tag(position, eof, end_tag=True)
        if 0x41 <= following <= 0x5A or 0x61 <= following <= 0x7A:
            return self._tag(position, eof, end_tag=False)
        self._advance(position + 1)  # a lone "<" is text
        return True

    # ----------------------------------------------------------------- comments & co.

    def _markup_declaration(self, position: int, eof: bool) -> bool:
        buf = self._buf
        head = buf[position:position + 9]
        if head.startswith(b"<!--"):
            after = buf[position + 4:position + 6]
            if not eof and after in (b"", b"-"):
                return False  # "<!-->" and "<!--->" end right away: need to see
            if after[:1] == b">":
                return self._token_done(position, position + 5)
            if after == b"->":
                return self._token_done(position, position + 6)
            end = P.COMMENT_END.search(buf, position + 4)
            if end is not None:
                return self._token_done(position, end.end())
            if eof:
                return self._token_done(position, len(buf))
            if len(buf) - position < self._max:
                return False
            self._mode = COMMENT
            self._comment_scan = self._offset + position + 4
            return True
        if not eof and len(head) < 9 and (b"<!--".startswith(head) or
                                          (bool(self._foreign) and b"<![CDATA[".startswith(head))):
            return False
        at_integration_point = bool(self._foreign) and self._foreign[-1][1]
        if head == b"<![CDATA[" and (self._foreign or self._two_readings()):
            # Two readings. In foreign content an end tag this scanner cannot match (it
            # tracks only some foreign elements) may have closed an HTML ancestor of any
            # name (<mglyph><math></mglyph> leaves the MathML: any unknown tag opens an
            # HTML element), so a browser may be in HTML, where this is a bogus comment
            # ending at the first ">". Inside <select>, older parsers (and the standard before
            # customizable selects) never entered the SVG/MathML: to them this is a bogus
            # comment ending at the first ">", and what follows is markup. At an
            # integration point it is a CDATA section if the SVG/MathML element itself is
            # the current node, a bogus comment if an HTML element was opened in it (which
            # is not tracked). In doubt about foreign content (see _close_contexts) one
            # reading is in HTML. Read the section as CDATA, and its text as markup too.
            close = buf.find(b"]]>", position + 9)
            if close < 0 and not eof and len(buf) - position < self._max:
                return False
            if close >= 0 or eof:
                close = close + 3 if close >= 0 else len(buf)
                token = buf[position:close]
                if self._noscript and not self._suppressing:
                    token = self._defuse(token)   # a scripting browser reads the noscript as raw text
                gt = token.find(b">", 9)
                if gt >= 0:
                    plain = not (self._two_readings() or at_integration_point)   # the reading that left
                    foreign = [] if plain or (self._select and not at_integration_point) else list(self._foreign)
                    token = token[:gt + 1] + self._read_as_markup(token[gt + 1:], foreign, paranoid=plain)
                if token != buf[position:close] and not self._suppressing:
                    self._replace(position, close, token)
                    return True
                self._advance(close)
                return True
        if head == b"<![CDATA[" and self._in_foreign():
            self._mode = CDATA
            self._comment_scan = self._offset + position + 9
            return True
        self._mode = BOGUS
        self._bogus_start = self._offset + position
        return True

    def _token_done(self, start: int, end: int) -> bool:
        """A comment-like token [start, end) is complete; defuse it inside noscript."""
        if self._trace is not None:
            self._trace(self._buf[start:end])
        chunk = self._buf[start:end]
        changed = chunk
        if self._noscript and not self._suppressing:
            changed = self._defuse(changed)
        if self._two_readings() and not self._suppressing and len(changed) > 1:
            # In the other reading this may not be a comment (a raw-text body or CDATA in
            # one reading, markup in the other): what it holds is read as markup too.
            changed = changed[:1] + self._read_as_markup(changed[1:], list(self._foreign))
        if changed != chunk:
            self._replace(start, end, changed)
            return True
        self._advance(end)
        return True

    def _comment(self, eof: bool) -> bool:
        buf = self._buf
        scan = max(self._comment_scan - self._offset, 0)
        end = P.COMMENT_END.search(buf, scan)
        if end is not None:
            self._mode = DATA
            self._advance(end.end())
            return True
        if eof:
            self._mode = DATA
            self._advance(len(buf))
            return False
        keep = max(scan, len(buf) - 3)
        self._comment_scan = self._offset + keep
        self._advance(keep)
        return False

    def _bogus(self, eof: bool) -> bool:
        """Bogus comment or DOCTYPE: everything up to the first ">" is inert."""
        buf = self._buf
        start = self._bogus_start - self._offset
        end = buf.find(b">", max(start + 2, self._pos))
        if end >= 0:
            self._mode = DATA
            if start >= self._emit_from:
                return self._token_done(start, end + 1)
            self._advance(end + 1)
            return True
        if eof:
            self._mode = DATA
            if self._trace is not None and start >= 0:
                self._trace(buf[start:])
            self._advance(len(buf))
            return False
        if len(buf) - start >= self._max:
            self._advance(len(buf))  # stream a very long one on
        return False

    def _cdata(self, eof: bool) -> bool:
        buf = self._buf
        scan = max(self._comment_scan - self._offset, 0)
        end = buf.find(b"]]>", scan)
        if end >= 0:
            self._mode = DATA
            self._cdata_through(end + 3)
            return True
        if eof:
            self._mode = DATA
            self._cdata_through(len(buf))
            return False
        # Held back: a "]]>" or, inside a noscript, a "</noscript" and the character after
        # it, which the next bytes may complete.
        keep = max(scan, len(buf) - (10 if self._noscript else 2))
        self._comment_scan = self._offset + keep
        self._cdata_through(keep)
        return False

    def _cdata_through(self, end: int) -> None:
        """CDATA text up to ``end`` goes out; inside a noscript with "</noscript" defused: a
        scripting browser reads the noscript as raw text, which that end tag would close."""
        start = self._pos
        if self._noscript and not self._suppressing and self._defuse_ambiguous and end > start:
            # Matched against everything buffered: "</noscript" needs the character after it.
            buf = self._buf
            hits = [found.start() for found in P.NOSCRIPT_END.finditer(buf, start) if found.start() < end]
            if hits:
                pieces, at = [], start
                for hit in hits:
                    pieces.append(buf[at:hit + 1] + b"\\")   # "</" -> "<\/", as defuse_noscript
                    at = hit + 1
                pieces.append(buf[at:end])
                self._replace(start, end, b"".join(pieces))
                return
        self._advance(end)

    # ----------------------------------------------------------------- tags

    def _tag(self, position: int, eof: bool, *, end_tag: bool) -> bool:
        buf = self._buf
        match = TAG.match(buf, position)
        if match is None:
            if eof:
                self._advance(len(buf))  # a tag cut off by the end of input is dropped by browsers
                return False
            if len(buf) - position >= self._max:
                return self._begin_long_tag(position, end_tag)
            return False
        if match.end() - position > self._max:
            # Decided the same way whether or not the chunking let us see it whole.
            return self._begin_long_tag(position, end_tag)
        name = match.group(2).lower().decode("latin-1").replace("\x00", "\ufffd")
        if end_tag:
            return self._end_tag(match, name)
        return self._start_tag(match, name, eof)

    def _end_tag(self, match: re.Match[bytes], name: str) -> bool:
        start, end = match.span()
        if self._trace is not None:
            self._trace(match.group())
        if self._strip_name is not None:
            if name in ("body", "html"):
                self._stop_strip(start)
            elif name == self._strip_name:
                self._strip_depth -= 1
                if self._strip_depth <= 0:
                    self._advance(end)
                    self._stop_strip(end)
                    self._close_contexts(name)
                    return True
        if (name == "noscript" and self._noscript and not self._suppressing and self._defuse_ambiguous
                and any(entry[0] == "noscript" for entry in self._foreign)):
            # This closes an SVG/MathML element named noscript in the markup reading, but a
            # scripting browser reads the HTML <noscript> around it as raw text, which this
            # end tag would end: text for both readings. As text, what the tag held (its
            # attribute junk: "</noscript/<img src=...>" is one end tag) must not become
            # markup: every "<" in it is written as a character reference.
            self._replace(start, end, b"<\\/" + self._buf[start + 2:end].replace(b"<", b"&lt;"))
            return True
        self._close_contexts(name)
        if self._noscript and not self._suppressing and P.NOSCRIPT_END.search(self._buf, start + 1, end):
            self._replace(start, end, self._buf[start:start + 1] + self._defuse(self._buf[start + 1:end]))
            return True
        self._advance(end)
        return True

    def _close_contexts(self, name: str) -> None:
        matched = False      # the end tag closed a foreign element (not an HTML one)
        new_doubt = False    # ... and started a doubt: the other reading did not close it
        if self._foreign:
            index = _last_named(self._foreign, name)
            if index >= 0:
                matched = True
                before = list(self._foreign)
                del self._foreign[index:]
                if any(html_inside for _, html_inside in before[index:]) and not self._foreign_doubt:
                    # An integration point (or past one) the tree builder pops only if no
                    # HTML element is open inside it (an HTML element there takes the end
                    # tag by the HTML rules, which stop at the special foreignObject,
                    # title, mi...), which is not tracked: read on both ways, the other
                    # reading still where it was.
                    self._foreign_doubt = new_doubt = True
                    self._doubt_foreign = before
            elif self._in_foreign() and name in HTML_ELEMENTS:
                # </p> and </br> always leave foreign content; the end tag of an HTML
                # ancestor leaves it only if that ancestor is open, which we cannot know:
                # read what follows both ways until the readings meet again.
                before = list(self._foreign)
                self._leave_foreign()
                if name not in ("p", "br") and not (self._foreign_doubt and _root_of(self._doubt_foreign)):
                    # (Already in doubt about a reading still in foreign content: that one
                    # stays the one followed.)
                    self._foreign_doubt = new_doubt = True
                    self._doubt_foreign = before   # where the other reading still is
        if self._foreign_doubt and not new_doubt:
            # The other reading pops its own stack: the doubt ends when its root closes
            # (</svg> leaves an SVG, not a MathML element, and the other way round), or
            # when </p> or </br> takes it out of foreign content as they take everyone.
            index = _last_named(self._doubt_foreign, name)
            if index >= 0:
                del self._doubt_foreign[index:]
            elif name in ("p", "br"):
                while self._doubt_foreign and not self._doubt_foreign[-1][1]:
                    self._doubt_foreign.pop()
            if not _root_of(self._doubt_foreign) and not self._in_foreign():
                self._foreign_doubt = False
                # (Left in foreign content itself, this reading is now the foreign one and
                # the other is in HTML: still in doubt, until a breakout tag or its end.)
        if matched:
            return
        if name == "select":
            self._select = False
        if name == "noscript" and self._noscript:
            self._noscript -= 1
        elif name == "template" and self._template:
            self._template -= 1

    def _foreign_root(self) -> str:
        return _root_of(self._foreign)

    def _leave_foreign(self) -> None:
        while self._foreign and not self._foreign[-1][1]:
            self._foreign.pop()

    def _stop_strip(self, at: int) -> None:
        self._strip_name = None
        self._strip_depth = 0
        self._emit_from = at
        self._restore_after_strip()

    def _restore_after_strip(self) -> None:
        """Follow the output: a stripped breakout tag never left foreign content there."""
        if self._strip_restores is not None:
            self._foreign = self._strip_restores
            self._strip_restores = None

    def _start_tag(self, match: re.Match[bytes], name: str, eof: bool) -> bool:
        """One complete start tag: the tree-builder context, the decision, the bytes out."""
        buf = self._buf
        start, end = match.span()
        if self._trace is not None:
            self._trace(match.group())
        raw = buf[start:end]
        memo = self._keep_memo
        remember = False
        if memo is not None and name in MEMO_NAMES and self._plain_context():
            # The fast path's loop looked this tag up already, unless a ">" inside it (in
            # quotes) made that lookup a prefix: only then is it worth another.
            if raw.find(b">", 0, len(raw) - 1) >= 0 and self._kept_before(raw):
                self._advance(end)
                return True
            remember = len(memo) < KEEP_MEMO_MAX
        decoded, self_closing = quick_attributes(raw, match.start(3) - start, self.encoding)
        foreign, before_breakout = self._foreign_context(name, decoded)
        if foreign and name in ("script", "style") and not self_closing and self._strip_name is None:
            # SVG script/style bodies are markup to the tokenizer; look ahead for the text.
            close = P.end_tag(name).search(buf, end)
            if close is None and not eof and len(buf) - end < self._max:
                return False
        self._note_start_tag(name, start, decoded, foreign=foreign, self_closing=self_closing)
        stripping = self._strip_name is not None
        new_tag: bytes | None = None
        strip_element = False
        inspection: Inspection | None = None
        if not stripping and (not self._keeps_all or (not AUTHOR_MARKS.isdisjoint(decoded)
                                                      and self._offset + start >= self._sent_until)):
            # In doubt, the SVG/MathML fetch rules apply too: the tree may still be in <svg>.
            inspection = inspect_tag(name, decoded, foreign=foreign or self._foreign_doubt, base=self._base,
                                     resolve=self._resolve_url)
            if inspection.asked or inspection.handlers:
                if not foreign and name in ("script", "style") and not self._paranoid:
                    # The body decides too: hold the start tag until the end tag is seen.
                    self._open_in_other_reading(name, decoded, self_closing)
                    self._enter_raw(name, end, pending=(raw, self._offset + start, name, decoded, inspection))
                    self._hold_from(start)
                    self._advance(end)
                    return True
                text, truncated = self._foreign_text(name, end, inspection) if foreign and not self_closing else (None, False)
                new_tag, strip_element = self._decide_tag(raw, name, None, decoded, inspection, foreign=foreign,
                                                          start=start, text=text, truncated=truncated)
        if (foreign and name == "style" and not self_closing and not strip_element and not stripping
                and self._last_action is Action.DEFER):
            self._hide_foreign_imports(end)
        if strip_element:
            self._strip_start_tag(name, start, end, foreign=foreign, self_closing=self_closing,
                                  before_breakout=before_breakout)
        else:
            self._emit_start_tag(raw, new_tag, name, start, end, stripping=stripping)
            if remember and new_tag is None:
                self._remember_keep(raw, decoded, inspection)
        self._open_contexts(name, foreign, self_closing, decoded)
        return True

    def _plain_context(self) -> bool:
        """HTML content where a start tag's output depends on its bytes and its decision only."""
        return not (self._foreign or self._foreign_doubt or self._noscript or self._template or self._inject is not None
                    or self._strip_name is not None or self._raw_suppress)

    def _kept_before(self, tag: bytes) -> bool:
        """Whether ``tag`` (whole start-tag bytes) was kept byte for byte and still holds here."""
        assert self._keep_memo is not None
        kept_for = self._keep_memo.get(tag)
        return kept_for is not None and (kept_for == self._base or (not kept_for and not self._base_seen))

    def _remember_keep(self, raw: bytes, decoded: dict[str, str], inspection: Inspection | None) -> None:
        """Remember a start tag kept byte for byte (see KeepMemo), if its decision allows."""
        assert self._keep_memo is not None
        if inspection is None or inspection.handlers:
            return
        if not inspection.asked:
            self._keep_memo[raw] = ""    # nothing in it fetches or runs: true for any base
        elif self._repeatable:
            path_bound = self._base_seen or depends_on_document_path(decoded, inspection)
            self._keep_memo[raw] = (self._base or "") if path_bound else ""

    def _foreign_context(self, name: str, decoded: dict[str, str]) -> tuple[bool, list[tuple[str, bool]] | None]:
        """(in foreign content for this tag?, the foreign stack before a breakout or None)."""
        foreign = bool(self._foreign) and not self._foreign[-1][1]  # _in_foreign(), inlined: a hot path
        if not (foreign or self._foreign_doubt):
            return False, None
        breakout = name in BREAKOUT or (name == "font" and ("color" in decoded or "face" in decoded or "size" in decoded))
        if self._foreign_doubt and breakout:
            # The other reading leaves foreign content too, as far as its innermost
            # integration point: still inside one (an <mo> that a <body> there does not
            # leave), it is still in the SVG/MathML tree, where an <mglyph> or an end tag
            # may take it back into foreign content. Without one, both readings are in HTML.
            doubt = self._doubt_foreign
            while doubt and not doubt[-1][1]:
                doubt.pop()
            if not _root_of(doubt):
                self._foreign_doubt = False
        if foreign and breakout:
            before_breakout = list(self._foreign)
            self._leave_foreign()
            return self._in_foreign(), before_breakout
        return foreign, None

    def _note_start_tag(self, name: str, start: int, decoded: dict[str, str], *, foreign: bool,
                        self_closing: bool) -> None:
        """What a start tag changes before its own edit: injection point, base URL, strip depth."""
        if self._inject is not None and not (self._template or self._noscript or self._foreign or self._strip_name):
            if name == "body" or (name not in HEAD_CONTENT and name != "head"):
                self._place_inject(start)
        # The first <base href> in the document tree counts; one in a <template> is not in it.
        if name == "base" and not foreign and not self._base_seen and "href" in decoded and not self._template:
            self._base_seen = True
            target = self._resolve_url(decoded["href"], self._document_url)
            if usable_base(target):
                self._base = target
        if self._strip_name is not None and name == self._strip_name and not (name in VOID or (foreign and self_closing)):
            self._strip_depth += 1

    def _foreign_text(self, name: str, end: int, inspection: Inspection) -> tuple[str | None, bool]:
        """The text of an SVG/MathML ``<script>``/``<style>`` (its text nodes), and whether it was cut.

        A ``<style>``'s ``url()``/``@import`` targets join ``inspection.urls``.
        """
        if name not in ("script", "style"):
            return None, False
        buf = self._buf
        close = P.end_tag(name).search(buf, end)
        body_end = close.start() if close is not None else len(buf)
        # Its text is its text nodes: the markup inside is elements, not code.
        body = _MARKUP_IN_FOREIGN_TEXT.sub(lambda m: m.group(1) or b"", buf[end:min(body_end, end + self._max)])
        # Foreign text is ordinary data: character references are decoded there.
        text = decode_text(body.decode(self.encoding, errors="replace"))
        if name == "style":
            inspection.urls.extend(FetchURL("text", self._resolve_url(url, self._base)) for url in css_urls(text))
        return text, body_end - end > self._max

    def _hide_foreign_imports(self, end: int) -> None:
        """As for an HTML <style>: Chromium's preload scanner must not see the @import
        of a deferred SVG <style> either (its body is markup still to be scanned)."""
        buf = self._buf
        close = P.end_tag("style").search(buf, end)
        if close is not None and b"@" in buf[end:close.start()]:
            body = _IMPORT.sub(rb"@\\69mport", buf[end:close.start()])
            self._buf = buf[:end] + body + buf[close.start():]

    def _strip_start_tag(self, name: str, start: int, end: int, *, foreign: bool, self_closing: bool,
                         before_breakout: list[tuple[str, bool]] | None) -> None:
        """Remove a start tag (and, unless void, everything up to its end tag)."""
        if before_breakout is not None:
            # The output will not contain the tag that broke out of foreign content.
            self._strip_restores = before_breakout
        if name in VOID or (foreign and self_closing):
            self._replace(start, end, b"")
            self._restore_after_strip()
            return
        self._start_suppressing(start)
        if not foreign and name in TEXT_MODE_ELEMENTS:
            self._raw_suppress = True
        else:
            self._strip_name = name
            self._strip_depth = 1
        self._advance(end)

    def _emit_start_tag(self, raw: bytes, new_tag: bytes | None, name: str, start: int, end: int, *,
                        stripping: bool) -> None:
        """Write a kept start tag (edited or not; defused inside noscript); inject after <head>."""
        if self._noscript and not self._suppressing:
            defused = self._defuse(new_tag if new_tag is not None else raw)
            if defused != raw:
                new_tag = defused
        if new_tag is not None:
            self._replace(start, end, new_tag)
        else:
            self._advance(end)
        if name == "head" and self._inject is not None and not (self._template or self._noscript or self._foreign or stripping):
            self._place_inject(end)

    def _hold_from(self, start: int) -> None:
        """Flush what precedes a start tag whose decision waits for its body."""
        if not self._suppressing:
            self._out.append(self._buf[self._emit_from:start])
        self._emit_from = start

    def _open_in_other_reading(self, name: str, decoded: dict[str, str], self_closing: bool) -> None:
        """In doubt, with the other reading in foreign content: a start tag opens there too
        (an <mi> is an integration point a later </br> stops at; a <title> holds what its
        raw-text body is in this reading). A self-closing foreign element holds nothing."""
        doubt = self._doubt_foreign
        if not self._foreign_doubt or not doubt or self_closing:
            return
        if not doubt[-1][1]:
            entry = _foreign_entry(name, decoded, _root_of(doubt), doubt[-1][0])
            if entry is not None:
                doubt.append(entry)
        elif name in MATHML_TEXT_FOREIGN and doubt[-1][0] in MATHML_TEXT_INTEGRATION:
            doubt.append((name, False))   # MathML there too (see _open_contexts)

    def _open_contexts(self, name: str, foreign: bool, self_closing: bool, decoded: dict[str, str]) -> None:
        if (name in MATHML_TEXT_FOREIGN and not self_closing and self._foreign and self._foreign[-1][1]
                and self._foreign[-1][0] in MATHML_TEXT_INTEGRATION):
            # At a MathML text integration point <mglyph> and <malignmark> stay MathML (the
            # markup after them is foreign content), unless an HTML element is open inside
            # the point, which is not tracked: read on both ways, the other reading inside
            # the MathML element (unless it is already elsewhere in foreign content).
            doubt = self._doubt_foreign
            if not self._foreign_doubt or not doubt or doubt[-1][1]:
                self._foreign_doubt = True
                self._doubt_foreign = [*self._foreign, (name, False)]
        else:
            self._open_in_other_reading(name, decoded, self_closing)
        if foreign:
            if (self._select and (name in RAWTEXT_ELEMENTS or name == "noscript") and self._mode == DATA
                    and not self._paranoid and not self._raw_suppress):
                # Older parsers (and the standard before customizable selects) never entered
                # the SVG/MathML in a <select>: to them a <textarea>, even self-closing,
                # closes the select and its body is RCDATA up to </textarea>, and once an
                # <input> or a <textarea> closed it, a <style>, <noscript>... is raw text
                # up to its end tag, where the foreign reading may be inside a script or a
                # comment. Read the body both ways (as for a raw-text element in a select),
                # the markup reading from here.
                self._enter_raw(name, self._pos, pending=None)
                self._raw_foreign = list(self._foreign)
                return
            if not self_closing:
                entry = _foreign_entry(name, decoded, self._foreign_root(), self._foreign[-1][0] if self._foreign else "")
                if entry is not None:
                    self._foreign.append(entry)
            return
        if name in ("svg", "math"):
            if not self_closing:
                self._foreign.append((name, False))
            return
        if name == "select":
            self._select = True
        elif name in ("input", "keygen", "textarea"):
            self._select = False  # these close an open select before anything else
        if name == "noscript":
            self._noscript += 1
        elif name == "template":
            self._template += 1
        elif name == "plaintext" and not self._noscript and not self._foreign_doubt and not self._select and not self._paranoid:
            # (In doubt the other reading is still in SVG/MathML, where <plaintext> is an
            # ordinary foreign element and the markup after it counts: read on as markup.
            # Inside <select> older parsers, and the standard before customizable selects,
            # ignore the start tag: read on as markup there too.)
            if self._mode == DATA and not self._raw_suppress:
                self._mode = PLAINTEXT
        elif (name == "script" or name in RAWTEXT_ELEMENTS) and not self._paranoid:
            if self._mode == DATA:
                self._enter_raw(name, self._pos, pending=None)

    # ----------------------------------------------------------------- decisions

    def _element(self, name: str, decoded: dict[str, str], start: int, *, foreign: bool, urls: list[FetchURL],
                 text: str | None = None, truncated: bool = False, attribute: str | None = None) -> Element:
        return Element(tag=name, attrs=decoded, urls=urls, text=text, text_truncated=truncated,
                       in_noscript=self._noscript > 0, in_template=self._template > 0, in_foreign=foreign,
                       in_srcdoc=self._in_srcdoc, offset=self._offset + start, line=self._line_at(start),
                       attribute=attribute)

    def _decide_tag(self, raw: bytes, name: str, attrs: list[Attr] | None, decoded: dict[str, str],
                    inspection: Inspection, *, foreign: bool, start: int, text: str | None = None,
                    truncated: bool = False) -> tuple[bytes | None, bool]:
        """(edited tag or None, strip the whole element?) for one start tag."""
        builder: EditBuilder | None = None
        memo_key: tuple[bytes, str, str | None, str | None, tuple[tuple[str, str], ...], tuple[str, ...], str] | None = None

        def edit() -> EditBuilder:
            # Attribute spans are only worth finding for a tag that changes (most do not).
            nonlocal builder, attrs
            if builder is None:
                if attrs is None:
                    attrs = parse_attributes(raw, len(name) + 1, len(raw))
                builder = EditBuilder(raw, attrs, self.encoding)
            return builder

        self._last_action = Action.KEEP
        self._repeatable = False
        if inspection.asked:
            element = self._element(name, decoded, start, foreign=foreign, urls=inspection.urls, text=text,
                                    truncated=truncated)
            decision = self._decide(element)
            if (truncated and (foreign or self._raw_dual) and name in ("script", "style")
                    and decision.action in (Action.KEEP, Action.ACTIVATE)):
                # An SVG/MathML script or style body is markup to the tokenizer and streams
                # as such (so does a body read both ways, in <select>): what follows the
                # first max_buffer bytes of its text cannot be judged before it goes out, so
                # a body that long does not run (fail closed).
                decision = Decision(Action.DEFER, "unclassified")
            action = self._last_action = decision.action
            self._repeatable = decision.repeatable
            memo_key = None
            if (not inspection.handlers and decision.refused is None and len(raw) <= _EDIT_LENGTH
                    and action is not Action.STRIP and (action is not Action.KEEP or decision.extra_attrs)
                    and "srcdoc" not in decoded):
                # (A plain keep edits nothing: no memo needed.)
                # Pages repeat tags byte for byte: the same decision edits them the same way.
                memo_key = (raw, action.value, decision.category, decision.vendor, decision.extra_attrs,
                            tuple(inspection.moved), self.encoding)
                try:
                    found = _EDITS.get(memo_key, _MISSING)
                except TypeError:  # a caller's Decision with unhashable extras
                    found = memo_key = None
                if found is not _MISSING and memo_key is not None:
                    return found, False  # type: ignore[return-value]
            if (decision.refused is not None and action in (Action.DEFER, Action.STRIP) and not inspection.author_marked
                    and name not in ("script", "style")):
                refused: dict[str, set[str]] = {}
                for fetch in decision.refused:
                    refused.setdefault(fetch.attribute, set()).add(fetch.url)
                base, resolve_url = self._base, self._resolve_url
                edit().narrow(decision, decoded, refused, lambda url: resolve_url(url, base), strip=action is Action.STRIP)
            elif action is Action.STRIP:
                if inspection.author_marked or name in WHOLE_ELEMENT or (foreign and name in SVG_WHOLE):
                    return None, True
                edit().strip_attributes(inspection.moved)
            elif action is Action.DEFER:
                edit().defer(decision, inspection.moved, inert_type=name in ("script", "style"))
            elif action is Action.ACTIVATE:
                edit().activate(decision)
            elif decision.extra_attrs:
                edit().add_extra(decision)
            if action in (Action.KEEP, Action.ACTIVATE) and name == "iframe" and "srcdoc" in decoded and not foreign:
                rewritten = self._rewrite_srcdoc(decoded["srcdoc"])
                if rewritten is not None:
                    edit().set_attribute("srcdoc", rewritten)
        for handler in inspection.handlers:
            element = self._element(name, decoded, start, foreign=foreign, urls=[], text=decoded[handler],
                                    attribute=handler)
            decision = self._decide(element)
            if decision.action is Action.DEFER:
                edit().move(handler, PREFIX + handler)
                edit().mark(decision)
            elif decision.action is Action.STRIP:
                edit().drop_all(handler)
        edited = None
        if builder is not None and builder.edit:
            assert attrs is not None
            edited = apply_edit(raw, 0, len(raw), attrs, builder.edit)
        if memo_key is not None:
            if len(_EDITS) >= _EDITS_MAX:
                _EDITS.clear()
            _EDITS[memo_key] = edited
        return edited, False

    def _rewrite_srcdoc(self, document: str) -> str | None:
        """The srcdoc document rewritten with the same decisions, or None if unchanged."""
        inner = Scanner(self._decide, encoding="utf-8", base_url=self._base, max_buffer=self._max, in_srcdoc=True,
                        defuse_ambiguous=self._defuse_ambiguous, resolve_url=self._resolve_url,
                        inject_nested=self._inject_nested, keeps_all=self._keeps_all)
        data = document.encode("utf-8", errors="surrogatepass")
        # Before everything, even a doctype: a srcdoc document is never in quirks mode, and
        # what is injected (the guard's adoption) must run before the document's own scripts.
        out = (self._inject_nested or b"") + inner.feed(data) + inner.close()
        if out == data:
            return None
        return out.decode("utf-8", errors="replace")

    # ----------------------------------------------------------------- raw-text bodies

    def _markup_reading(self, body: bytes) -> bytes:
        """A raw-text body rewritten as if it were markup (for the other reading)."""
        # Dual because of foreign doubt: the other reading of the body is as SVG/MathML
        # markup (an SVG <script>/<style> holds elements), so it starts inside that root.
        return self._read_as_markup(body, list(self._raw_foreign))

    def _read_as_markup(self, data: bytes, foreign: list[tuple[str, bool]], *, paranoid: bool = False) -> bytes:
        """``data`` rewritten by a scanner reading it as markup from ``foreign``, for a
        reading other than this scanner's. It keeps the select (older parsers ignore the
        tags of a select's body) and, where this scanner follows two readings, its doubt:
        what it reads as a comment or CDATA is read as markup too, and so on inside."""
        inner = Scanner(self._decide, encoding=self.encoding, base_url=self._base, max_buffer=self._max,
                        in_srcdoc=self._in_srcdoc, defuse_ambiguous=self._defuse_ambiguous,
                        resolve_url=self._resolve_url)
        inner._base_seen = True
        inner._foreign = foreign
        inner._select = self._select
        inner._paranoid = paranoid or self._paranoid or self._two_readings()
        if self._two_readings():
            inner._foreign_doubt = True
            inner._doubt_foreign = list(self._doubt_foreign if self._foreign_doubt else self._foreign)
        return inner.feed(data) + inner.close()

    def _two_readings(self) -> bool:
        """Whether browsers may read what comes next two ways: SVG/MathML that may or may not
        be open (the doubt), or SVG/MathML inside a <select>, which older parsers never enter."""
        return self._foreign_doubt or (self._select and bool(self._foreign))

    def _enter_raw(self, name: str, body_start: int,
                   pending: tuple[bytes, int, str, dict[str, str], Inspection] | None) -> None:
        self._mode = RAW
        self._raw_name = name
        self._raw_name_bytes = name.encode("ascii")
        self._raw_script = name == "script"
        self._script_state = S_DATA
        self._raw_body = self._raw_scan = self._offset + body_start
        self._raw_pending = pending
        # Inside <select>, older parsers (and the spec before customizable selects)
        # ignore <style>, <xmp>, <title>...: their bodies are markup there. Read both ways.
        self._raw_dual = (self._select and name != "script") or self._foreign_doubt
        # In doubt, the other reading reads the body as markup from where it is, inside the
        # foreign element this start tag opened there (_open_in_other_reading): an SVG
        # <title> is an integration point, where <e><![CDATA[ is an HTML element and a
        # bogus comment, not CDATA.
        self._raw_foreign = list(self._doubt_foreign) if self._foreign_doubt else []
        self._raw_hold = pending is not None or self._noscript > 0 or self._raw_dual

    def _raw(self, eof: bool) -> bool:
        buf = self._buf
        size = len(buf)
        scan = max(self._raw_scan - self._offset, 0)
        body = self._raw_body - self._offset
        end: int | None
        if self._raw_script:
            end, self._script_state, resume = scan_script(buf, scan, self._script_state)
        else:
            end, resume = find_end_tag(buf, scan, self._raw_name_bytes)
        self._raw_scan = self._offset + resume
        if end is None:
            if eof:
                end = size
            else:
                safe = self._raw_scan - self._offset
                if self._raw_hold and safe - body > self._max:
                    self._release_body(body, body + self._max, truncated=True)
                if not self._raw_hold:
                    if self._window >= 0 and self._judge_windows(safe, final=False):
                        return True  # cut: the rest is scanned again as the browser will read it
                    self._stream_body(safe, final=False)
                return False
        if self._raw_hold:
            # The same cut whatever the chunking: a body over the cap is judged on its prefix.
            truncated = end - body > self._max
            self._release_body(body, body + self._max if truncated else end, truncated=truncated)
        if self._window >= 0 and self._judge_windows(end, final=True):
            return True
        if self._raw_hide:
            self._stream_body(end, final=True)
            self._raw_hide = False
        if end >= size:
            self._advance(size)
            self._mode = DATA
            self._raw_suppress = False
            return False
        closing = TAG.match(buf, end)
        if closing is None:
            if not eof and size - end < self._max:
                self._advance(max(end, self._pos))
                return False
            # An end tag that never closes: let the long-tag path stream it.
            self._advance(max(end, self._pos))
            self._mode = DATA
            was_suppressing = self._raw_suppress
            self._raw_suppress = False
            if was_suppressing:
                self._emit_from = end
            return True
        if self._trace is not None:
            self._trace(closing.group())
        self._advance(closing.end())
        if self._raw_suppress:
            self._raw_suppress = False
            self._emit_from = closing.end()
        self._mode = DATA
        return True

    def _release_body(self, body: int, cut: int, *, truncated: bool) -> None:
        """Decide on a held start tag with ``_buf[body:cut]`` as its text, then emit."""
        buf = self._buf
        pending = self._raw_pending
        self._raw_pending = None
        self._raw_hold = False
        if pending is None:  # a body held only because of <noscript> or <select>
            chunk = defused = buf[body:cut]
            if self._noscript and not truncated:
                # Only inside a noscript: elsewhere a "</noscript" is the markup reading's
                # own (it may close an inner noscript or leave SVG) and must stay as it is.
                defused = self._defuse(defused)
            if self._raw_dual:
                # Read as markup after the defusing: "<\/noscript" makes text of an end tag
                # of that reading, and of what was inside it markup (an SVG <image href>).
                defused = self._markup_reading(defused)
            if defused != chunk and not self._suppressing:
                self._out.append(buf[self._emit_from:body])
                self._out.append(defused)
                self._emit_from = cut
            self._advance(max(cut, self._pos))
            if self._suppressing:
                self._emit_from = cut
            return
        # The start tag's inspection: no <base> can come between it and its body.
        raw, offset, name, decoded, inspection = pending
        foreign = False  # only HTML script/style bodies are held (SVG ones are markup)
        start = offset - self._offset
        text = buf[body:cut].decode(self.encoding, errors="replace")
        if "\x00" in text:
            text = text.replace("\x00", "\ufffd")
        if name == "style":
            inspection.urls.extend(FetchURL("text", self._resolve_url(url, self._base)) for url in css_urls(text))
        new_tag, strip_element = self._decide_tag(raw, name, None, decoded, inspection, foreign=foreign,
                                                  start=start, text=text, truncated=truncated)
        if strip_element:
            # Nothing of it was emitted yet (emit_from is the tag start): drop from here.
            self._raw_suppress = True
            self._emit_from = max(self._pos, start)
            return
        if self._noscript and not self._suppressing:
            defused_tag = self._defuse(new_tag if new_tag is not None else raw)
            if defused_tag != raw:
                new_tag = defused_tag
        if new_tag is not None and not self._suppressing:
            self._out.append(new_tag)
            self._emit_from = start + len(raw)
        action = self._last_action
        if truncated and not self._suppressing and not self._raw_dual:
            if name == "style" and action is Action.DEFER:
                # The whole body streams with "@import" hidden (see _stream_body).
                if new_tag is None:
                    self._out.append(buf[self._emit_from:body])
                self._emit_from = body
                self._pos = max(self._pos, body)
                self._raw_hide = True
                return
            if action is Action.KEEP or action is Action.ACTIVATE:
                # The start tag goes out live: every later window is judged before it is emitted.
                self._window = self._raw_body + self._max - min(WINDOW_OVERLAP, self._max // 4)
                self._window_element = (name, decoded, offset, self._line_at(start))
        body_bytes = buf[body:cut]
        hide_imports = name == "style" and action is Action.DEFER and b"@" in body_bytes
        if (self._noscript or self._raw_dual or hide_imports) and not truncated:
            defused = body_bytes
            if hide_imports:
                # Chromium's preload scanner fetches @import from a <style> whatever its
                # type; "@\69mport" is the same at-rule to CSS once restored, but not to it.
                defused = _IMPORT.sub(rb"@\\69mport", defused)
            if self._noscript and not truncated:
                defused = self._defuse(defused)
            if self._raw_dual and not truncated:
                defused = self._markup_reading(defused)   # after the defusing, as above
            if defused != body_bytes:
                if new_tag is None:
                    self._out.append(buf[self._emit_from:body])
                self._out.append(defused)
                self._emit_from = cut
        self._pos = max(self._pos, cut if not truncated else self._pos)

    def _stream_body(self, limit: int, *, final: bool) -> None:
        """Let a body out up to ``limit``: never past the next window still to be judged,
        and with "@import" hidden in a deferred style (an "@" that may begin one waits)."""
        if self._window >= 0:
            limit = min(limit, self._window - self._offset)
        if not self._raw_hide:
            self._advance(max(limit, self._pos))
            return
        start = self._emit_from  # the same as _pos while hiding
        if not final:
            at = self._buf.rfind(b"@", max(start, limit - 6), limit)
            if at >= 0:
                limit = at
        if limit <= start:
            return
        if not self._suppressing:
            self._out.append(_IMPORT.sub(_HIDDEN_IMPORT, self._buf[start:limit]))
        self._emit_from = self._pos = limit

    def _judge_windows(self, limit: int, *, final: bool) -> bool:
        """Judge each window of a live over-long body that ``limit`` completes; True after a cut.

        Windows are ``max_buffer`` long and start every ``max_buffer - overlap`` bytes of
        the body (the first one, judged with the start tag, at its start), so they fall at
        the same offsets whatever the chunking. A window is complete once the body is known
        to extend past it; the last one ends with the body (``final``).
        """
        size = self._max
        stride = size - min(WINDOW_OVERLAP, size // 4)
        while True:
            start = self._window - self._offset
            if limit - start > size:
                end = start + size
            elif final and limit > start:
                end = limit
            else:
                return False
            decision = self._judge_window(start, end)
            if decision.action is Action.DEFER or decision.action is Action.STRIP:
                self._cut(start, decision)
                return True
            if end == limit:
                self._window = -1
                self._window_element = None
                return False
            self._window += stride

    def _judge_window(self, start: int, end: int) -> Decision:
        assert self._window_element is not None
        name, decoded, offset, line = self._window_element
        text = self._buf[start:end].decode(self.encoding, errors="replace")
        if "\x00" in text:
            text = text.replace("\x00", "\ufffd")
        urls = ([FetchURL("text", self._resolve_url(url, self._base)) for url in css_urls(text)]
                if name == "style" else [])
        element = Element(tag=name, attrs=decoded, urls=urls, text=text, text_truncated=True,
                          in_noscript=self._noscript > 0, in_template=self._template > 0, in_srcdoc=self._in_srcdoc,
                          offset=offset, line=line, text_offset=self._offset + start - self._raw_body)
        return self._decide(element)

    def _cut(self, at: int, decision: Decision) -> None:
        """A later window of a live body is refused: end the element before it, inert.

        What went out (start tag and body up to ``at``) cannot be changed, so the element
        is closed here with ``_CUT_CLOSE`` (the script cannot parse, so none of it runs; a
        style's construct the cut divides is dropped). The refused rest is dropped (strip)
        or goes on in a new inert element, ``type="text/plain"`` with
        ``data-consent-cut="<category>"``: not ``data-consent``, because the runtime
        must not activate a fragment on consent (the whole script runs after a reload).
        The new element starts in the script data state, so the scanner reads the rest
        again from there, as the browser will (it follows its output).
        """
        name = self._raw_name
        if not self._suppressing:
            self._out.append(self._buf[self._emit_from:at])
            self._out.append(_CUT_CLOSE[name])
        self._emit_from = self._pos = at
        self._window = -1
        self._window_element = None
        self._last_action = decision.action
        if decision.action is Action.STRIP:
            self._raw_suppress = True
            return
        if not self._suppressing:
            tag = b"<" + self._raw_name_bytes + b' type="text/plain" data-consent-cut='
            tag += quote_value(decision.category or "unclassified", self.encoding)
            if decision.vendor:
                tag += b" data-consent-vendor=" + quote_value(decision.vendor, self.encoding)
            self._out.append(tag + b">")
        if self._raw_script:
            self._script_state = S_DATA
            self._raw_scan = self._offset + at
        else:
            self._raw_hide = True

    # ----------------------------------------------------------------- over-long tags

    def _begin_long_tag(self, position: int, end_tag: bool) -> bool:
        """A tag longer than max_buffer: decide on what was seen, then stream it."""
        buf = self._buf
        name_match = re.match(rb"</?([^\t\n\f\r />]*+)", buf[position:position + self._max])
        assert name_match is not None
        name = name_match.group(1).lower().decode("latin-1")
        foreign = self._in_foreign()
        interesting = False
        self._long_decision = None
        # Under keeps_all nothing is refused: an over-long tag streams as it is (a mark past
        # the cut is not seen, so that element stays inert, which fails closed).
        if not end_tag and self._strip_name is None and not self._keeps_all:
            seen = buf[position:position + self._max]
            attrs = truncated_attributes(seen, name_match.end(), len(seen))
            decoded: dict[str, str] = {}
            for attr in attrs:
                if attr.name not in decoded:
                    decoded[attr.name] = decode_attribute(seen[attr.value_start:attr.value_end].decode(self.encoding, errors="replace"))
            inspection = inspect_tag(name, decoded, foreign=foreign, base=self._base, resolve=self._resolve_url)
            if inspection.asked:
                interesting = True
                element = self._element(name, decoded, position, foreign=foreign, urls=inspection.urls,
                                        truncated=True)
                decision = self._decide(element)
                self._long_classified_until = self._offset + position + len(seen)
                if attrs and attrs[-1].end == len(seen) and not classifiable(attrs[-1], min(ENOUGH_OF_A_URL, self._max // 4)):
                    # The cut runs through a value that matters and too little of it was seen.
                    self._long_classified_until = self._offset + position + attrs[-1].start
                if decision.action in (Action.KEEP, Action.ACTIVATE) and name in ("script", "style"):
                    # Its type may already be behind us: an inert type cannot be added safely.
                    decision = Decision(Action.DEFER, decision.category or "unclassified", decision.vendor)
                self._long_decision = decision
                if decision.action is Action.STRIP:
                    self._start_suppressing(position)
                    self._strip_name = name
                    self._strip_depth = 1
                    self._long_info = (name, end_tag, foreign, True)
                    self._long_strip_void = name in VOID
                    self._mode = LONG_TAG
                    self._long_quote = b""
                    self._advance(position + name_match.end())
                    return True
            log.warning("tag at byte %d is longer than max_buffer (%d); decided on its first bytes",
                        self._offset + position, self._max)
        self._long_strip_void = False
        self._long_info = (name, end_tag, foreign, interesting)
        self._long_quote = b""
        self._mode = LONG_TAG
        self._advance(position + name_match.end())
        return True

    def _long_tag(self, eof: bool) -> bool:
        """Stream an over-long tag: attribute by attribute, values as they come."""
        buf = self._buf
        size = len(buf)
        position = self._pos
        name, end_tag, _, _ = self._long_info
        while position < size:
            state = self._long_quote
            if state in (b'"', b"'", b" "):  # inside a value
                if state == b" ":
                    found = UNQUOTED_END.search(buf, position)
                    stop = found.start() if found is not None else -1
                else:
                    stop = buf.find(state, position)
                    stop = stop + 1 if stop >= 0 else -1
                if stop < 0:
                    position = size
                    break
                self._long_quote = b""
                position = stop
                continue
            if state == b"=":  # right after an attribute name
                after = AFTER_NAME.match(buf, position)
                assert after is not None
                if after.end() >= size and not eof:
                    break
                position = after.end()
                self._long_quote = b""
                if after.group(1):
                    if after.group(2):
                        self._long_quote = after.group(2)
                    elif position < size and buf[position] != 0x3E:
                        self._long_quote = b" "
                continue
            separators = SEPARATORS.match(buf, position)
            assert separators is not None  # matches the empty string
            position = separators.end()
            if position >= size:
                break
            if buf[position] == 0x3E:  # ">"
                return self._finish_long_tag(position, name, end_tag)
            head = NAME_HEAD.match(buf, position)
            assert head is not None
            if head.end() >= size and not eof:
                break  # the attribute name may continue in the next chunk
            if not end_tag and self._long_neutralises(head.group(1).lower().decode("latin-1"), name,
                                                      self._offset + head.start(1)):
                self._advance(head.start(1))
                self._insert(head.start(1), PREFIX.encode("ascii"))
            position = head.end()
            self._long_quote = b"="
        self._advance(position)
        if eof:
            self._advance(size)
            self._mode = DATA
        return False

    def _long_neutralises(self, attribute: str, name: str, at: int) -> bool:
        """Should this attribute, seen after the cut of an over-long tag, be renamed?"""
        if self._keeps_all:
            return False   # nothing is refused: nothing to neutralise (see _begin_long_tag)
        decision = self._long_decision
        handler = attribute.startswith("on") and len(attribute) > 2
        if not self._long_info[3]:  # nobody was asked about this tag
            # Nobody was asked about this tag. Rename only what makes the fast path stop
            # too, so the output does not depend on whether the chunking let us see the
            # tag whole. (A style attribute is left alone: only its value says whether
            # it fetches. Documented limit for tags over max_buffer.)
            if not (handler or attribute in LONG_TAG_GENERIC or (attribute == "ping" and name in ("a", "area"))):
                return False
            self._long_decision = Decision(Action.DEFER, "unclassified")
            return True
        fetching = attribute in LONG_TAG_MOVED or handler or (attribute == "type" and name in ("script", "style"))
        if decision is not None and decision.action in (Action.KEEP, Action.ACTIVATE):
            # Kept on what was seen; what decide could not see is neutralised (fail closed).
            if not fetching or at < self._long_classified_until:
                return False
            self._long_decision = Decision(Action.DEFER, "unclassified")
            return True
        if decision is None or decision.action is not Action.DEFER:
            return False
        return fetching

    def _finish_long_tag(self, gt: int, name: str, end_tag: bool) -> bool:
        foreign = self._long_info[2]
        decision = self._long_decision
        if decision is not None and decision.action is Action.DEFER and not end_tag:
            extra = f' data-consent="{decision.category or "unclassified"}"'
            if decision.vendor:
                extra += f' data-consent-vendor="{decision.vendor}"'
            if name in ("script", "style"):
                extra += ' type="text/plain"'
            self._advance(gt)
            self._insert(gt, extra.encode("ascii", errors="replace"))
        self._advance(gt + 1)
        self._mode = DATA
        if self._strip_name is not None and self._long_info[3] and self._long_strip_void:
            self._stop_strip(gt + 1)
        elif self._strip_name is not None and self._long_info[3]:
            if name in RAWTEXT_ELEMENTS or name == "script":
                self._strip_name = None
                self._raw_suppress = True
        if end_tag:
            self._close_contexts(name)
        else:
            self._open_contexts(name, foreign, False, {})
        return True
