"""Tags longer than ``max_buffer``: decided on their first bytes, then streamed.

A mixin of ``Scanner``. The seen prefix is parsed as far as it goes and shown to
``decide`` (``text_truncated``); a fetching kind is deferred even if the answer was keep
(fail closed). The rest of the tag streams attribute by attribute, values as they come,
renaming fetching attributes on the way and appending the ``data-consent`` marker before
the closing ``>``. Standard library only; must not import aiohttp, mitmproxy, jwt or
pydantic.
"""

from __future__ import annotations

import logging
import re
from proxy.html.charrefs import decode_attribute
from proxy.html.edits import PREFIX
from proxy.html.element import Action, Decision
from proxy.html.fetch import inspect_tag
from proxy.html.rules import (AFTER_NAME, DATA, LONG_TAG, LONG_TAG_GENERIC, LONG_TAG_MOVED, NAME_HEAD,
                              RAWTEXT_ELEMENTS, SEPARATORS, UNQUOTED_END, VOID)
from proxy.html.tags import Attr, truncated_attributes
from proxy.html.urls import URLResolver

log = logging.getLogger("proxy.html.scanner")


# A value cut at max_buffer still classifies when it is one URL of which enough was seen:
# scheme, host and path decide, not the tail of a data: URI or a long query string.
_URL_VALUED = frozenset({"src", "href", "data", "poster", "xlink:href", "background", "data-src", "data-lazy-src",
                         "data-bg"})
_ENOUGH_OF_A_URL = 1024


def _classifiable(attr: Attr, enough: int) -> bool:
    """Was enough of this attribute, cut by the cap, shown to decide?"""
    return attr.has_value and attr.name in _URL_VALUED and attr.value_end - attr.value_start >= enough


class OverlongTags:
    """LONG_TAG mode of the scanner (see ``proxy.html.scanner.Scanner`` for the state)."""

    _buf: bytes
    _offset: int
    _pos: int
    _resolve_url: URLResolver
    _long_classified_until: int

    def _begin_long_tag(self, position: int, end_tag: bool) -> bool:
        """A tag longer than max_buffer: decide on what was seen, then stream it."""
        buf = self._buf
        name_match = re.match(rb"</?([^\t\n\f\r />]*+)", buf[position:position + self._max])
        assert name_match is not None
        name = name_match.group(1).lower().decode("latin-1")
        foreign = self._in_foreign()
        interesting = False
        self._long_decision = None
        if not end_tag and self._strip_name is None:
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
                if attrs and attrs[-1].end == len(seen) and not _classifiable(attrs[-1], min(_ENOUGH_OF_A_URL, self._max // 4)):
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
            position = SEPARATORS.match(buf, position).end()
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
            extra = ' data-consent="%s"' % (decision.category or "unclassified")
            if decision.vendor:
                extra += ' data-consent-vendor="%s"' % decision.vendor
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
