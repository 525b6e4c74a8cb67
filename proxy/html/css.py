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
_COMMENT = re.compile(r"/\*[^*]*+\*++(?:[^/*][^*]*+\*++)*+/|/\*.*", re.S)

# Anchored right after the opening "url(" / "@import" / "image-set(" found by str.find.
_URL_ARGUMENT = re.compile(r"""\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|([^\s"'()]*))""")
_IMPORT_ARGUMENT = re.compile(r"""\s*(?:"([^"\n]*)"|'([^'\n]*)')""")
_IMAGE_SET_ARGUMENT = re.compile(r"([^)]*)\)")
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


def _lower(text: str) -> str:
    lowered = text.lower()
    if len(lowered) != len(text):  # a few non-ASCII letters change length when lowered
        lowered = "".join(char.lower() if char.isascii() else char for char in text)
    return lowered


def css_urls(text: str) -> list[str]:
    """Every URL the CSS text would fetch, in order of appearance, as written (decoded).

    Comments are removed only where they could hide a fetch (around ``@import`` and in
    ``image-set()``); a ``url()`` inside a comment is reported, which errs on the side of
    neutralising.
    """
    lowered = _lower(text)
    escaped = "\\" in text
    if not escaped and "url(" not in lowered and "image-set" not in lowered and "@import" not in lowered:
        return []
    if escaped:
        text = _ESCAPE.sub(_unescape_one, text)
    if "/*" in text and ("@import" in lowered or "image-set" in lowered or escaped):
        text = _COMMENT.sub("", text)
    if text is not lowered and (escaped or len(text) != len(lowered)):
        lowered = _lower(text)
    found: list[tuple[int, str]] = []
    position = lowered.find("url(")
    while position >= 0:
        match = _URL_ARGUMENT.match(text, position + 4)
        if match is not None:
            value = next((group for group in match.groups() if group is not None), "")
            found.append((position, value.strip()))
        position = lowered.find("url(", position + 4)
    for needle, pattern in (("@import", _IMPORT_ARGUMENT), ("image-set(", _IMAGE_SET_ARGUMENT)):
        position = lowered.find(needle)
        while position >= 0:
            match = pattern.match(text, position + len(needle))
            if match is not None:
                if needle == "image-set(":
                    for string in _STRING.finditer(match.group(1)):
                        value = string.group(1) if string.group(1) is not None else string.group(2)
                        found.append((match.start(1) + string.start(), value))
                else:
                    value = next((group for group in match.groups() if group is not None), "")
                    found.append((position, value.strip()))
            position = lowered.find(needle, position + 1)
    found.sort()
    return [url for _, url in found if url]
