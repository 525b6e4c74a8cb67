"""Raw-text bodies: where ``<script>``, ``<style>``, RCDATA and RAWTEXT elements end.

A mixin of ``Scanner``: the script-data states (escaped and double-escaped), the
appropriate-end-tag search for RAWTEXT/RCDATA, and holding a ``<script>``/``<style>``
body until its end tag so that ``decide`` sees the text (up to ``max_buffer``, then the
prefix decides and the rest streams). Standard library only; must not import aiohttp,
mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

from collections.abc import Callable

import re

from proxy.html.css import css_urls
from proxy.html.element import Action, FetchURL
from proxy.html.fetch import Inspection
from proxy.html.rules import DATA, RAW, S_DATA, S_DOUBLE, S_ESCAPED, TERMINATOR_BYTES
from proxy.html.tags import TAG
from proxy.html.urls import URLResolver


_IMPORT = re.compile(rb"@(?i:import)")


class TextModes:
    """RAW mode of the scanner (see ``proxy.html.scanner.Scanner`` for the state)."""

    _buf: bytes
    _offset: int
    _pos: int
    _emit_from: int
    _out: list[bytes]
    _defuse_ambiguous: bool
    _trace: Callable[[bytes], None] | None
    _resolve_url: URLResolver

    _defuse: Callable[[bytes], bytes]   # Scanner's: </noscript made unambiguous when asked

    def _markup_reading(self, body: bytes) -> bytes:
        """A raw-text body rewritten as if it were markup (for the other reading)."""
        from proxy.html.scanner import Scanner  # the mixin's own class: imported late, no cycle

        inner = Scanner(self._decide, encoding=self.encoding, base_url=self._base, max_buffer=self._max,
                        in_srcdoc=self._in_srcdoc, defuse_ambiguous=self._defuse_ambiguous,
                        resolve_url=self._resolve_url)
        inner._base_seen = True
        return inner.feed(body) + inner.close()

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
        self._raw_hold = pending is not None or self._noscript > 0 or self._raw_dual

    def _scan_script(self, buf: bytes, position: int) -> int | None:
        """Run the script-data states from ``position``; the start of ``</script`` or None.

        Uses ``bytes.find`` (memchr) rather than a regex search: script bodies are the
        bulk of many pages and a regex without a literal prefix walks them byte by byte.
        """
        state = self._script_state
        size = len(buf)
        dash = -2  # position of the next "-->", computed lazily (-2: not yet looked)
        while True:
            if state != S_DATA and (dash == -2 or (0 <= dash < position)):
                dash = buf.find(b"-->", position)
            less = buf.find(b"<", position)
            if state != S_DATA and dash >= 0 and (less < 0 or dash < less):
                state = S_DATA if state == S_ESCAPED or state == S_DOUBLE else state
                position = dash + 3
                dash = -2
                continue
            if less < 0 or less + 9 > size:
                if less >= 0 and less + 9 > size:
                    # Maybe the start of a token that the next chunk completes.
                    pass
                self._script_state = state
                self._raw_scan = self._offset + max(position, size - 8)
                return None
            following = buf[less + 1]
            if following == 0x2F:  # "</"
                if buf[less + 2:less + 8].lower() == b"script" and buf[less + 8] in TERMINATOR_BYTES:
                    if state == S_DOUBLE:
                        state = S_ESCAPED
                        position = less + 8
                        continue
                    self._script_state = state
                    self._raw_scan = self._offset + less
                    return less
            elif following == 0x21 and state == S_DATA:  # "<!--"
                if buf[less + 2:less + 4] == b"--":
                    state = S_ESCAPED
                    position = less + 2  # its dashes count towards "-->"
                    dash = -2
                    continue
            elif state == S_ESCAPED and following in (0x53, 0x73):  # "<script" + terminator
                if buf[less + 1:less + 7].lower() == b"script" and buf[less + 7] in TERMINATOR_BYTES:
                    state = S_DOUBLE
                    position = less + 7
                    continue
            position = less + 1

    def _find_end_tag(self, buf: bytes, position: int) -> int | None:
        """Start of ``</name`` + terminator for the current RAWTEXT/RCDATA element."""
        name = self._raw_name_bytes
        length = len(name) + 2
        size = len(buf)
        while True:
            found = buf.find(b"</", position)
            if found < 0 or found + length >= size:
                self._raw_scan = self._offset + max(position, size - length)
                return None
            if buf[found + 2:found + length].lower() == name and buf[found + length] in TERMINATOR_BYTES:
                self._raw_scan = self._offset + found
                return found
            position = found + 2

    def _raw(self, eof: bool) -> bool:
        buf = self._buf
        size = len(buf)
        scan = max(self._raw_scan - self._offset, 0)
        body = self._raw_body - self._offset
        if self._raw_script:
            end = self._scan_script(buf, scan)
        else:
            end = self._find_end_tag(buf, scan)
        if end is None:
            if eof:
                end = size
            else:
                safe = self._raw_scan - self._offset
                if self._raw_hold and safe - body > self._max:
                    self._release_body(body, body + self._max, truncated=True)
                if not self._raw_hold:
                    self._advance(max(safe, self._pos))
                return False
        if self._raw_hold:
            # The same cut whatever the chunking: a body over the cap is judged on its prefix.
            truncated = end - body > self._max
            self._release_body(body, body + self._max if truncated else end, truncated=truncated)
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
            chunk = buf[body:cut]
            defused = self._markup_reading(chunk) if self._raw_dual else chunk
            defused = self._defuse(defused) if not truncated else defused
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
        body_bytes = buf[body:cut]
        hide_imports = name == "style" and self._last_action is Action.DEFER and b"@" in body_bytes
        if (self._noscript or self._raw_dual or hide_imports) and not (truncated and not hide_imports):
            defused = body_bytes
            if hide_imports:
                # Chromium's preload scanner fetches @import from a <style> whatever its
                # type; "@\69mport" is the same at-rule to CSS once restored, but not to it.
                defused = _IMPORT.sub(rb"@\\69mport", defused)
            if self._raw_dual and not truncated:
                defused = self._markup_reading(defused)
            if self._noscript and not truncated:
                defused = self._defuse(defused)
            if defused != body_bytes:
                if new_tag is None:
                    self._out.append(buf[self._emit_from:body])
                self._out.append(defused)
                self._emit_from = cut
        self._pos = max(self._pos, cut if not truncated else self._pos)
