"""Find the URLs a piece of CSS would fetch: ``url()``, ``@import`` and ``image-set()``.

Used for ``<style>`` blocks and ``style`` attributes. CSS escapes are decoded first
(``\\75 rl(`` is ``url(``) and comments removed, so a tracker cannot hide behind
spelling. This is a scanner for fetches, not a CSS parser: it may report a URL that a
browser would ignore (harmless: the element is only neutralised), never the reverse.
Standard library only; must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import re

_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n\r\f]?|(\n)|(.))", re.S)
_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.S)
# A quick test before the exact work: most style attributes are "display:none".
_MAYBE_FETCH = re.compile(r"url\s*\(|image-set|@import|\\|/\*", re.I)

_URL_FUNCTION = re.compile(
    r"""url\(\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|([^\s"'()]*))""", re.I
)
_IMPORT_STRING = re.compile(r"""@import\s*(?:"([^"\n]*)"|'([^'\n]*)')""", re.I)
_IMAGE_SET = re.compile(r"image-set\(([^)]*)\)", re.I)
_STRING = re.compile(r""""([^"\n]*)"|'([^'\n]*)'""")


def _unescape_one(match: re.Match[str]) -> str:
    hex_digits, newline, other = match.groups()
    if hex_digits is not None:
        code = int(hex_digits, 16)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return "\ufffd"
        return chr(code)
    if newline is not None:
        return ""  # an escaped newline inside a string is a line continuation
    return other


def decode_css(text: str) -> str:
    """Remove comments and decode CSS escapes (for looking, never for output)."""
    if "\\" in text:
        text = _ESCAPE.sub(_unescape_one, text)
    if "/*" in text:
        text = _COMMENT.sub("", text)
    return text


def may_fetch(text: str) -> bool:
    """Cheap pre-test: False means the CSS certainly fetches nothing."""
    return _MAYBE_FETCH.search(text) is not None


def css_urls(text: str) -> list[str]:
    """Every URL the CSS text would fetch, in order of appearance, as written (decoded)."""
    if not may_fetch(text):
        return []
    text = decode_css(text)
    found: list[tuple[int, str]] = []
    for match in _URL_FUNCTION.finditer(text):
        value = next(group for group in match.groups() if group is not None)
        found.append((match.start(), value.strip()))
    for match in _IMPORT_STRING.finditer(text):
        found.append((match.start(), match.group(1) if match.group(1) is not None else match.group(2)))
    for match in _IMAGE_SET.finditer(text):
        for string in _STRING.finditer(match.group(1)):
            found.append((match.start(1) + string.start(), string.group(1) if string.group(1) is not None else string.group(2)))
    found.sort()
    return [url for _, url in found if url]
