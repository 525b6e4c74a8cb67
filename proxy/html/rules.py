"""The tree-builder vocabulary the scanner simulates: element sets, modes, shared patterns.

Which elements are void, which switch the tokenizer to raw text, which leave or
integrate foreign content, which a STRIP removes whole; the tokenizer modes and
script-data sub-states; and the small helpers the scanner's parts share. Standard library
only; must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import re

from proxy.html import patterns as P
from proxy.html.fetch import ALWAYS_ASKED, LAZY_ATTRS

# Tokenizer modes.
DATA, RAW, COMMENT, BOGUS, CDATA, PLAINTEXT, LONG_TAG = range(7)
# Script data sub-states.
S_DATA, S_ESCAPED, S_DOUBLE = range(3)

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "image", "input", "link", "meta",
                  "source", "track", "wbr", "param", "keygen", "frame", "basefont", "bgsound"})
RAWTEXT_ELEMENTS = frozenset({"style", "xmp", "iframe", "noembed", "noframes", "title", "textarea"})
TEXT_MODE_ELEMENTS = RAWTEXT_ELEMENTS | {"script"}
# Start tags that end foreign content (tree construction, "in foreign content").
SVG_INTEGRATION = frozenset({"foreignobject", "desc", "title"})
MATHML_TEXT_INTEGRATION = frozenset({"mi", "mo", "mn", "ms", "mtext"})
# Start tags that stay MathML at a MathML text integration point (the rest are HTML there).
MATHML_TEXT_FOREIGN = frozenset({"mglyph", "malignmark"})
HEAD_CONTENT = frozenset({"html", "meta", "title", "link", "base", "style", "script", "noscript",
                          "template", "basefont", "bgsound"})
# Elements a STRIP removes entirely; for the rest it removes only the fetching attributes
# (a <div style="background:url(tracker)"> keeps its content, an <a ping> stays a link).
WHOLE_ELEMENT = ALWAYS_ASKED | {"input", "meta"}
SVG_WHOLE = frozenset({"image", "use", "feimage", "script", "style"})
# Attribute names renamed after the cut of an over-long tag that is being deferred.
LONG_TAG_MOVED = frozenset({"src", "srcset", "srcdoc", "poster", "data", "href", "xlink:href", "imagesrcset",
                            "ping", "style", "background", "http-equiv", *LAZY_ATTRS})
LONG_TAG_GENERIC = frozenset({"background", *LAZY_ATTRS})
NAME_HEAD = re.compile(rb"[\t\n\f\r /]*+([^\t\n\f\r />][^\t\n\f\r />=]*+)")
AFTER_NAME = re.compile(rb"[\t\n\f\r ]*+(?:(=)[\t\n\f\r ]*+([\"']?))?")
SEPARATORS = re.compile(rb"[\t\n\f\r /]*+")
UNQUOTED_END = re.compile(rb"[\t\n\f\r >]")
TERMINATOR_BYTES = frozenset(b"\t\n\f\r />")


def defuse_noscript(data: bytes) -> bytes:
    """Make a "</noscript" inside a token end nothing for a scripting browser either."""
    return P.NOSCRIPT_END.sub(rb"<\\/", data)
