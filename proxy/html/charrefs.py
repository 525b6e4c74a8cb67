"""Decode character references the way a WHATWG tokenizer does inside attribute values.

``html.unescape`` is close but not exact for attributes: there a legacy named reference
without ``;`` (``&amp``, ``&copy``...) followed by ``=`` or an ASCII letter or digit is
left as written, so ``?a=1&copy=2`` keeps its ``&copy``. Getting this right matters
because URLs are matched against tracker hosts after decoding (``&#58;``, ``&colon;``,
``&#x2F;``). Standard library only; must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import html.entities
import re

_NAMED = html.entities.html5
_LONGEST_NAME = max(len(name) for name in _NAMED)

_REF = re.compile(r"&(#[xX][0-9a-fA-F]*;?|#[0-9]*;?|[A-Za-z][A-Za-z0-9]*;?)")

# Numeric references that the spec maps to windows-1252 characters (C1 controls).
_C1_REPLACEMENTS = {
    0x80: "\u20ac", 0x82: "\u201a", 0x83: "\u0192", 0x84: "\u201e", 0x85: "\u2026",
    0x86: "\u2020", 0x87: "\u2021", 0x88: "\u02c6", 0x89: "\u2030", 0x8A: "\u0160",
    0x8B: "\u2039", 0x8C: "\u0152", 0x8E: "\u017d", 0x91: "\u2018", 0x92: "\u2019",
    0x93: "\u201c", 0x94: "\u201d", 0x95: "\u2022", 0x96: "\u2013", 0x97: "\u2014",
    0x98: "\u02dc", 0x99: "\u2122", 0x9A: "\u0161", 0x9B: "\u203a", 0x9C: "\u0153",
    0x9E: "\u017e", 0x9F: "\u0178",
}


def _numeric(body: str) -> str | None:
    if len(body) < 2:
        return None  # a bare "&#" (found by fuzzing: it raised IndexError) is not a reference
    digits = body[2:] if body[1] in "xX" else body[1:]
    digits = digits.rstrip(";")
    if not digits:
        return None  # "&#;" / "&#x" are not references: left as written
    code = int(digits, 16 if body[1] in "xX" else 10)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return _C1_REPLACEMENTS.get(code, chr(code))


def _decode(text: str, in_attribute: bool) -> str:
    if "&" not in text:
        return text.replace("\x00", "\ufffd")

    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        if body[0] == "#":
            decoded = _numeric(body)
            return match.group(0) if decoded is None else decoded
        # Longest prefix that is a known name ("&notit;" -> "¬it;").
        for length in range(min(len(body), _LONGEST_NAME), 0, -1):
            candidate = body[:length]
            if candidate in _NAMED:
                break
        else:
            return match.group(0)
        rest = body[length:]
        if not candidate.endswith(";") and in_attribute:
            following = rest[:1] or text[match.end():match.end() + 1]
            if following == "=" or (following.isascii() and following.isalnum()):
                return match.group(0)
        return _NAMED[candidate] + rest

    return _REF.sub(replace, text).replace("\x00", "\ufffd")


def decode_attribute(text: str) -> str:
    """Decode an attribute value as a browser does (legacy-reference rule included)."""
    return _decode(text, in_attribute=True)


def decode_text(text: str) -> str:
    """Decode character references in text content (data or RCDATA)."""
    return _decode(text, in_attribute=False)
