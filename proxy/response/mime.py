"""Media types exactly as browsers read them: WHATWG MIME Sniffing "parse a MIME type" and
Fetch "extract a MIME type" from one or more ``Content-Type`` values.

A proxy that reads ``Content-Type`` differently from the browser rewrites the wrong
responses: ``text/plain, text/html`` is HTML to a browser (the last valid type wins),
``text/html x`` is no type at all (so the browser sniffs), ``*/*`` is skipped, and a
comma inside a quoted parameter does not split the value. Tested against the
web-platform-tests data in tests/data/wpt-mimesniff. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["MimeType", "extract_mime_type", "parse_mime_type", "split_header_values"]

_WS = "\t\n\r "
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_QUOTED_TOKEN = frozenset(["\t"] + [chr(c) for c in range(0x20, 0x7F)] + [chr(c) for c in range(0x80, 0x100)])


@dataclass(frozen=True, slots=True)
class MimeType:
    type: str
    subtype: str
    parameters: tuple[tuple[str, str], ...] = ()

    @property
    def essence(self) -> str:
        return f"{self.type}/{self.subtype}"

    def parameter(self, name: str) -> str | None:
        return next((value for key, value in self.parameters if key == name), None)

    @property
    def charset(self) -> str | None:
        return self.parameter("charset")

    def with_parameter(self, name: str, value: str) -> MimeType:
        return MimeType(self.type, self.subtype, (*self.parameters, (name, value)))

    @property
    def is_html(self) -> bool:
        return self.essence == "text/html"

    @property
    def is_xml(self) -> bool:
        """An XML MIME type (MIME Sniffing 4.6): XHTML, SVG, RSS... all render as documents."""
        return self.subtype.endswith("+xml") or self.essence in ("text/xml", "application/xml")

    def serialize(self) -> str:
        out = self.essence
        for name, value in self.parameters:
            if not value or any(c not in _TOKEN for c in value):
                value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            out += f";{name}={value}"
        return out


def _collect_quoted(text: str, position: int, extract: bool) -> tuple[str, int]:
    """HTTP "collect an HTTP quoted string" from ``text[position] == '"'``."""
    start = position
    value = ""
    position += 1
    while True:
        end = position
        while end < len(text) and text[end] not in '"\\':
            end += 1
        value += text[position:end]
        position = end
        if position >= len(text):
            break
        char = text[position]
        position += 1
        if char == "\\":
            if position >= len(text):
                value += "\\"
                break
            value += text[position]
            position += 1
        else:
            break
    return (value if extract else text[start:position]), position


def parse_mime_type(text: str) -> MimeType | None:
    """WHATWG MIME Sniffing "parse a MIME type"; None is failure."""
    text = text.strip(_WS)
    slash = text.find("/")
    if slash <= 0:
        return None
    type_ = text[:slash]
    if any(c not in _TOKEN for c in type_):
        return None
    semicolon = text.find(";", slash + 1)
    end = len(text) if semicolon < 0 else semicolon
    subtype = text[slash + 1:end].rstrip(_WS)
    if not subtype or any(c not in _TOKEN for c in subtype):
        return None
    params: list[tuple[str, str]] = []
    seen: set[str] = set()
    position = end
    while position < len(text):
        position += 1   # past ";"
        while position < len(text) and text[position] in _WS:
            position += 1
        start = position
        while position < len(text) and text[position] not in ";=":
            position += 1
        name = text[start:position].lower()
        if position < len(text):
            if text[position] == ";":
                continue
            position += 1   # past "="
        if position >= len(text):
            break
        if text[position] == '"':
            value, position = _collect_quoted(text, position, extract=True)
            while position < len(text) and text[position] != ";":
                position += 1
        else:
            start = position
            while position < len(text) and text[position] != ";":
                position += 1
            value = text[start:position].rstrip(_WS)
            if not value:
                continue
        if (name and all(c in _TOKEN for c in name) and all(c in _QUOTED_TOKEN for c in value)
                and name not in seen):
            seen.add(name)
            params.append((name, value))
    return MimeType(type_.lower(), subtype.lower(), tuple(params))


def split_header_values(value: str) -> list[str]:
    """Fetch "get, decode, and split": commas split, except inside quoted strings."""
    values: list[str] = []
    temporary = ""
    position = 0
    while True:
        start = position
        while position < len(value) and value[position] not in '",':
            position += 1
        temporary += value[start:position]
        if position < len(value):
            if value[position] == '"':
                quoted, position = _collect_quoted(value, position, extract=False)
                temporary += quoted
                if position < len(value):
                    continue
            else:
                position += 1   # past ","
        values.append(temporary.strip("\t "))
        temporary = ""
        if position >= len(value):
            return values


def extract_mime_type(header_values: Iterable[str]) -> MimeType | None:
    """Fetch "extract a MIME type" from every ``Content-Type`` field value, in order.

    Several fields are combined as one comma-separated value (RFC 9110 5.3). None when no
    value parses: the browser then sniffs the body.
    """
    combined = ", ".join(header_values)
    charset: str | None = None
    essence: str | None = None
    found: MimeType | None = None
    for value in split_header_values(combined):
        mime = parse_mime_type(value)
        if mime is None or mime.essence == "*/*":
            continue
        found = mime
        if mime.essence != essence:
            charset = mime.charset
            essence = mime.essence
        elif mime.charset is None and charset is not None:
            found = mime.with_parameter("charset", charset)
    return found
