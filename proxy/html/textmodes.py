"""Where raw-text bodies end: the script-data states and the appropriate end tag.

Pure functions over bytes, used by ``proxy.html.scanner.Scanner`` for ``<script>`` (the
script-data states with their escaped and double-escaped variants) and for RAWTEXT and
RCDATA elements (the first ``</name`` followed by a terminator). Each returns where the
body ends, or where to resume when more bytes arrive, so a body split over any number of
chunks is scanned once. Standard library only; must not import aiohttp, mitmproxy, jwt
or pydantic.
"""

from __future__ import annotations

from proxy.html.rules import S_DATA, S_DOUBLE, S_ESCAPED, TERMINATOR_BYTES


def scan_script(buf: bytes, position: int, state: int) -> tuple[int | None, int, int]:
    """Run the script-data states from ``position`` in ``state``.

    Returns (start of the ``</script`` that ends the body or None, the state there, where
    to resume when more bytes arrive).

    Uses ``bytes.find`` (memchr) rather than a regex search: script bodies are the
    bulk of many pages and a regex without a literal prefix walks them byte by byte.
    """
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
            # (a "<" near the end may start a token that the next chunk completes)
            return None, state, max(position, size - 8)
        following = buf[less + 1]
        if following == 0x2F:  # "</"
            if buf[less + 2:less + 8].lower() == b"script" and buf[less + 8] in TERMINATOR_BYTES:
                if state == S_DOUBLE:
                    state = S_ESCAPED
                    position = less + 8
                    continue
                return less, state, less
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


def find_end_tag(buf: bytes, position: int, name: bytes) -> tuple[int | None, int]:
    """(start of ``</name`` + terminator or None, where to resume) for RAWTEXT/RCDATA."""
    length = len(name) + 2
    size = len(buf)
    while True:
        found = buf.find(b"</", position)
        if found < 0 or found + length >= size:
            return None, max(position, size - length)
        if buf[found + 2:found + length].lower() == name and buf[found + length] in TERMINATOR_BYTES:
            return found, found
        position = found + 2
