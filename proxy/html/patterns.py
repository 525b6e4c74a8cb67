"""Compiled byte patterns for the scanner: the fast path and the text-mode end searches.

The fast path (``SKIP``) is one possessive regular expression that consumes, in C, runs
of text and whole tags that can neither fetch nor change the tokenizer's mode: tags
whose name and attribute names are all uninteresting, comments, doctypes and bogus
comments. It stops at anything else, and at anything incomplete (a tag, comment or
``<`` at the end of the buffer), so Python code runs only per interesting token.
Quoted attribute values are consumed as units, so a ``<`` or ``>`` inside one never
starts or ends a tag. Standard library only; must not import aiohttp, mitmproxy, jwt or
pydantic.
"""

from __future__ import annotations

import re

from proxy.html.fetch import (FOREIGN_CONTAINERS, FOREIGN_END_INTERESTING, FOREIGN_INTERESTING, INTERESTING_TAGS,
                              TEXT_STATE_TAGS)
from proxy.html.tags import ATTR, TAG_NAME

_TERMINATOR = rb"[\t\n\f\r />]"


_Trie = dict[str, "_Trie"]


def _alternatives(words: list[str]) -> bytes:
    """A case-insensitive regex matching any of ``words``, factored as a trie.

    sre tries alternatives one by one; sharing prefixes ("i" -> frame|mage|mg|nput)
    makes the negative look-ahead run once per tag cost a few steps, not thirty.
    """
    tree: _Trie = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: _Trie) -> str:
        branches = []
        for char, child in sorted(node.items()):
            if char == "":
                continue
            piece = f"[{char.lower()}{char.upper()}]" if char.isalpha() else re.escape(char)
            branches.append(piece + emit(child))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            body = "(?:" + body + ")?"
        return body

    return emit(tree).encode("ascii")


_TAG_WORDS = _alternatives(sorted(INTERESTING_TAGS))
# End tags the tree-builder simulation needs; the SVG/MathML integration points are
# here so that the fast path can run inside them too.
_END_WORDS = _alternatives(["noscript", "template", "svg", "math", "select", *FOREIGN_CONTAINERS])
# Attribute names that can fetch or run something, or mark consent; prefixes suffice
# because the Python side checks exact names.
_ATTR_WORDS = _alternatives(["style", "background", "on", "ping", "data-src", "data-lazy-src", "data-bg",
                              "data-consent", "data-category", "data-cookie"])

# A style attribute that cannot fetch: no "(" (url(), image-set()), "@" (@import), and
# nothing that could spell them in disguise ("\\" CSS escapes, "&" character references).
_INERT_STYLE = (
    rb"(?i:style)[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    rb"""(?:"[^"(@\\&]*+"|'[^'(@\\&]*+'|[^\t\n\f\r >"'(@\\&][^\t\n\f\r >(@\\&]*+)"""
    rb"(?=[\t\n\f\r />])"
)
_BORING_START = (
    rb"<(?!" + _TAG_WORDS + _TERMINATOR + rb")" + TAG_NAME
    + rb"(?:[\t\n\f\r /]++|(?!" + _ATTR_WORDS + rb")" + ATTR + rb"|" + _INERT_STYLE + rb")*+>"
)
_BORING_END = (
    rb"</(?!" + _END_WORDS + _TERMINATOR + rb")" + TAG_NAME
    + rb"(?:[\t\n\f\r /]++|" + ATTR + rb")*+>"
)
_COMMENT = rb"<!--(?:-?>|(?:[^-]++|-(?!-!?>))*+--!?>)"

# meta without http-equiv and input without type are only ever data.
_QUIET_ATTR = rb"(?!(?i:http-equiv|type)[\t\n\f\r /=>])" + ATTR
# An input type that is not (and does not contain) "image" loads nothing.
_NO_IMAGE = rb"(?:(?![iI][mM][aA][gG][eE])"
_INERT_INPUT_TYPE = (
    rb"(?i:type)[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"" + _NO_IMAGE + rb"[^\"])*+\"|'" + _NO_IMAGE + rb"[^'])*+'"
    rb"|" + _NO_IMAGE + rb"[^\t\n\f\r >\"'])" + _NO_IMAGE + rb"[^\t\n\f\r >])*+)(?=[\t\n\f\r />])"
)
_BORING_VOID = (
    rb"<(?i:meta|input)(?=[\t\n\f\r />])(?:[\t\n\f\r /]++|(?!" + _ATTR_WORDS + rb")" + _QUIET_ATTR
    + rb"|" + _INERT_STYLE + rb")*+>"
    rb"|<(?i:input)(?=[\t\n\f\r />])(?:[\t\n\f\r /]++|(?!" + _ATTR_WORDS + rb")" + _QUIET_ATTR
    + rb"|" + _INERT_STYLE + rb"|" + _INERT_INPUT_TYPE + rb")*+>"
)



def _skip(boring_start: bytes, boring_void: bytes) -> re.Pattern[bytes]:
    """The fast path: text and whole tokens that need no Python, most frequent first."""
    return re.compile(
        rb"(?:[^<]++"
        + rb"|" + boring_start
        + rb"|" + _BORING_END
        + rb"|<(?=[^A-Za-z/!?])"
        + rb"|" + _COMMENT
        + rb"|<!(?!--)[^>]*+>"
        rb"|<\?[^>]*+>"
        rb"|</>"
        rb"|</[^A-Za-z>][^>]*+>"
        + (rb"|" + boring_void if boring_void else b"")
        + rb")*+"
    )


SKIP = _skip(_BORING_START, _BORING_VOID)

# When the caller keeps every element (full consent) the only start tags that matter are
# those that change the tokenizer state or the tree-builder simulation, and those with an
# author's consent mark (they may be activated); everything else is copied unseen.
_STATE_TAGS = _alternatives(sorted(TEXT_STATE_TAGS))
_MARK_WORDS = _alternatives(["data-consent", "data-category", "data-cookie"])
SKIP_KEEPING = _skip(
    rb"<(?!" + _STATE_TAGS + _TERMINATOR + rb")" + TAG_NAME
    + rb"(?:[\t\n\f\r /]++|(?!" + _MARK_WORDS + rb")" + ATTR + rb")*+>",
    b"",
)

# Inside <svg>/<math>: skip tags that neither fetch, nor leave foreign content, nor open
# or close an element the tree-builder simulation tracks.
_FOREIGN_TAGS = _alternatives(sorted(FOREIGN_INTERESTING))
_FOREIGN_END_TAGS = _alternatives(sorted(FOREIGN_END_INTERESTING))
SKIP_FOREIGN = re.compile(
    rb"(?:[^<]++"
    rb"|<(?=[^A-Za-z/!?])"
    + rb"|" + _COMMENT
    + rb"|<!\[CDATA\[(?:[^\]]++|\](?!\]>))*+\]\]>"
    rb"|<(?![!/])(?!" + _FOREIGN_TAGS + _TERMINATOR + rb")" + TAG_NAME
    + rb"(?:[\t\n\f\r /]++|(?!" + _ATTR_WORDS + rb"|(?i:href|xlink:href)[\t\n\f\r /=>])" + ATTR + rb"|" + _INERT_STYLE + rb")*+>"
    rb"|</(?!" + _FOREIGN_END_TAGS + _TERMINATOR + rb")" + TAG_NAME
    + rb"(?:[\t\n\f\r /]++|" + ATTR + rb")*+>"
    + rb")*+"
)

TEXT = re.compile(rb"[^<]*+")
NON_WHITESPACE = re.compile(rb"[^\t\n\f\r ]")
COMMENT_END = re.compile(rb"--!?>")

# Script data: the states that decide where a <script> ends (WHATWG 13.2.5.4ff).
SCRIPT_DATA = re.compile(rb"<!--|</(?i:script)" + _TERMINATOR)
SCRIPT_ESCAPED = re.compile(rb"-->|</(?i:script)" + _TERMINATOR + rb"|<(?i:script)" + _TERMINATOR)
SCRIPT_DOUBLE_ESCAPED = re.compile(rb"-->|</(?i:script)" + _TERMINATOR)

# Inside <noscript>, a "</noscript" that a scripting browser would take as the end.
NOSCRIPT_END = re.compile(rb"</(?=(?i:noscript)" + _TERMINATOR + rb")")

_END_TAG_CACHE: dict[str, re.Pattern[bytes]] = {}


def end_tag(name: str) -> re.Pattern[bytes]:
    """``</name`` followed by a terminator, case-insensitively (RAWTEXT/RCDATA ends)."""
    pattern = _END_TAG_CACHE.get(name)
    if pattern is None:
        pattern = re.compile(rb"</(?i:" + re.escape(name.encode("ascii")) + rb")" + _TERMINATOR)
        _END_TAG_CACHE[name] = pattern
    return pattern
