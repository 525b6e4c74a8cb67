"""Tag-level tokenizing and editing: where a tag ends, its attributes, and re-serialising it.

The patterns follow the WHATWG tokenizer's tag states exactly where a mistake could hide
or invent a tag: an attribute name may start with ``=`` and contain quotes or ``<``; a
quoted value may contain ``>``; an unquoted value ends only at whitespace or ``>``; ``/``
outside a value is a separator; an unterminated quoted value means the tag is not over
yet. Edits keep every untouched attribute's raw bytes (quoting included) and only splice
the changed ones. Standard library only; must not import aiohttp, mitmproxy, jwt or
pydantic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WS = rb"\t\n\f\r "
NAME = rb"[^\t\n\f\r />][^\t\n\f\r />=]*+"
# One attribute: name, optional "= value". After "=" a value is required (an empty one
# only directly before ">"); an unterminated quote makes the whole tag incomplete.
VALUE = rb"""(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >"'][^\t\n\f\r >]*+|(?=>))"""
ATTR = NAME + rb"[\t\n\f\r ]*+(?:=[\t\n\f\r ]*+" + VALUE + rb"|(?!=))"
ATTRS = rb"(?:[\t\n\f\r /]++|" + ATTR + rb")*+"
TAG_NAME = rb"[A-Za-z][^\t\n\f\r />]*+"

# group 1: "/" for end tags, group 2: tag name, group 3: attributes region.
TAG = re.compile(rb"<(/?)(" + TAG_NAME + rb")(" + ATTRS + rb")>")

_ATTR_PARTS = re.compile(
    rb"[\t\n\f\r /]*+(" + NAME + rb")[\t\n\f\r ]*+(?:(=)[\t\n\f\r ]*+"
    rb"""(?:"([^"]*+)"|'([^']*+)'|([^\t\n\f\r >"'][^\t\n\f\r >]*+)|(?=>|$))|(?!=))"""
)


_ATTR_TEXT = re.compile(_ATTR_PARTS.pattern.decode("latin-1"))


# Pages repeat tags byte for byte (thumbnails, spacers, social icons): their decoded
# attributes are remembered, bounded by clearing and only for short tags (a few MB at
# most, whatever the page). Callers get a fresh dict each time.
_QUICK: dict[tuple[bytes, int, str], tuple[dict[str, str], bool]] = {}
_QUICK_MAX = 2048
_QUICK_LENGTH = 512


def quick_attributes(data: bytes, start: int, encoding: str) -> tuple[dict[str, str], bool]:
    """Decoded attributes (first of duplicates wins) and the self-closing flag of a tag.

    The cheap path for tags nobody edits: decode once, one ``findall``, no spans.
    """
    if len(data) > _QUICK_LENGTH:
        return _quick_attributes(data, start, encoding)
    key = (data, start, encoding)
    found = _QUICK.get(key)
    if found is None:
        if len(_QUICK) >= _QUICK_MAX:
            _QUICK.clear()
        found = _QUICK[key] = _quick_attributes(data, start, encoding)
    return dict(found[0]), found[1]


def _quick_attributes(data: bytes, start: int, encoding: str) -> tuple[dict[str, str], bool]:
    from proxy.html.charrefs import decode_attribute

    text = data[start:].decode(encoding, errors="replace")
    parts = _ATTR_TEXT.findall(text)
    decoded: dict[str, str] = {}
    for name, _, double, single, unquoted in reversed(parts):  # reversed: the first one wins
        decoded[name.lower()] = double or single or unquoted
    if "&" in text or "\x00" in text:
        decoded = {name.replace("\x00", "\ufffd"): decode_attribute(value) if ("&" in value or "\x00" in value) else value
                   for name, value in decoded.items()}
    # "/>" closes the tag unless that "/" ends an unquoted value (<a href=x/>).
    last_unquoted = parts[-1][4] if parts else ""
    self_closing = data.endswith(b"/>") and not (last_unquoted and text.endswith(last_unquoted + ">"))
    return decoded, self_closing


@dataclass(slots=True)
class Attr:
    """One attribute as written: lower-case name and the byte spans an edit needs."""

    name: str           # lower-case (ASCII), NUL as U+FFFD
    start: int          # first byte of the name
    name_end: int
    value_start: int    # value bytes without quotes (== value_end when there is no value)
    value_end: int
    end: int            # one past the attribute (closing quote included)
    has_value: bool


def parse_attributes(data: bytes, start: int, end: int) -> list[Attr]:
    """Attributes of the tag whose attribute region begins at ``start``.

    ``end`` is the position of the tag's closing ``>`` + 1, or the end of a truncated tag;
    a final attribute whose value was cut off is returned with what was seen.
    """
    attrs: list[Attr] = []
    for match in _ATTR_PARTS.finditer(data, start, end):
        name_start, name_end = match.span(1)
        name = data[name_start:name_end].lower().decode("latin-1").replace("\x00", "\ufffd")
        if match.group(2) is None:
            attrs.append(Attr(name, name_start, name_end, name_end, name_end, match.end(1), False))
            continue
        for group in (3, 4, 5):
            if match.group(group) is not None:
                value_start, value_end = match.span(group)
                break
        else:
            value_start = value_end = match.end()
        attrs.append(Attr(name, name_start, name_end, value_start, value_end, match.end(), True))
    return attrs


def truncated_attributes(data: bytes, start: int, end: int) -> list[Attr]:
    """Attributes of a tag cut off at ``end``, the last one possibly with a partial value.

    Parsed strictly in sequence: where the grammar stops (an unterminated quoted value),
    nothing after it is an attribute, however much it looks like one.
    """
    attrs: list[Attr] = []
    position = start
    while True:
        match = _ATTR_PARTS.match(data, position, end)
        if match is None or match.end() == position:
            break
        attrs.extend(parse_attributes(data, position, match.end()))
        position = match.end()
    # An unterminated quoted value: report what was seen of it.
    rest = re.match(rb"[\t\n\f\r /]*+(" + NAME + rb")[\t\n\f\r ]*+=[\t\n\f\r ]*+([\"'])", data[position:end])
    if rest is not None:
        name_start = position + rest.start(1)
        value_start = position + rest.end(2)
        name = data[name_start:position + rest.end(1)].lower().decode("latin-1")
        attrs.append(Attr(name, name_start, position + rest.end(1), value_start, end, end, True))
    return attrs


@dataclass(slots=True)
class TagEdit:
    """Changes to one start tag; applied by ``apply_edit``."""

    rename: dict[int, bytes]          # attribute start -> new name bytes
    drop: set[int]                    # attribute starts to remove
    set_value: dict[int, bytes]       # attribute start -> new raw "name=value" bytes
    append: list[bytes]               # whole ' name="value"' pieces, added at the end

    def __bool__(self) -> bool:
        return bool(self.rename or self.drop or self.set_value or self.append)


def new_edit() -> TagEdit:
    return TagEdit({}, set(), {}, [])


def apply_edit(data: bytes, tag_start: int, tag_end: int, attrs: list[Attr], edit: TagEdit) -> bytes:
    """The tag ``data[tag_start:tag_end]`` with ``edit`` applied, other bytes unchanged."""
    pieces: list[bytes] = []
    position = tag_start
    for attr in attrs:
        if attr.start in edit.drop:
            # Take the whitespace before the attribute with it, so no double spaces remain.
            cut = attr.start
            while cut > position and data[cut - 1] in b"\t\n\f\r ":
                cut -= 1
            pieces.append(data[position:cut])
            position = attr.end
        elif attr.start in edit.set_value:
            pieces.append(data[position:attr.start])
            pieces.append(edit.set_value[attr.start])
            position = attr.end
        elif attr.start in edit.rename:
            pieces.append(data[position:attr.start])
            pieces.append(edit.rename[attr.start])
            position = attr.name_end
    close = tag_end - 1  # the ">"
    # Keep a self-closing "/" last (it matters in SVG); a "/" that ends an unquoted
    # value is part of the value, not a marker.
    last_end = attrs[-1].end if attrs else -1
    if edit.append and data[close - 1:close] == b"/" and close - 1 >= last_end:
        close -= 1
    pieces.append(data[position:close])
    if edit.append and attrs and position <= attrs[-1].name_end:
        # "x=>" (an equals sign and no value): a browser would read the first appended
        # attribute as x's unquoted value, and type="text/plain" would never apply (found
        # by fuzzing). x="" is what "x=>" means; write it so the appended names stay names.
        if data[attrs[-1].name_end:close].strip(b"\t\n\f\r ") == b"=":
            pieces.append(b'""')
    pieces.extend(edit.append)
    pieces.append(data[close:tag_end])
    return b"".join(pieces)


def quote_value(text: str, encoding: str) -> bytes:
    """A double-quoted attribute value, escaped, in the document's encoding."""
    escaped = text.replace("&", "&amp;").replace('"', "&quot;")
    return b'"' + escaped.encode(encoding, errors="xmlcharrefreplace") + b'"'
