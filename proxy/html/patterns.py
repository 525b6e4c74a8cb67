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

from proxy.html.fetch import (FAST_PATH_ATTRIBUTES, FOREIGN_CONTAINERS, FOREIGN_END_INTERESTING,
                              FOREIGN_FAST_PATH_ATTRIBUTES, FOREIGN_INTERESTING, INTERESTING_TAGS, TEXT_STATE_TAGS)
from proxy.html.tags import ATTR, TAG_NAME, VALUE

_TERMINATOR = rb"[\t\n\f\r />]"


type _Trie = dict[str, _Trie]


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


# Names that are NOT in a word list, written positively. A negative look-ahead per tag
# and per attribute made sre open a sub-match each time (the fast path ran at ~43 MB/s on
# tag-dense markup); walking a trie of the words and leaving it at the first character
# that differs costs a few character-class tests instead. Both are atomic, so nothing
# backtracks into them. Equivalence with the look-ahead forms is tested.

def _case_class(chars: list[str], excluded: str) -> str:
    both = sorted({c.lower() for c in chars} | {c.upper() for c in chars})
    return "[^" + excluded + "".join(re.escape(c) for c in both) + "]"


def _letter(char: str) -> str:
    return f"[{char.lower()}{char.upper()}]" if char.isalpha() else re.escape(char)


def _trie_of(words: list[str]) -> _Trie:
    tree: _Trie = {}
    for word in words:
        node = tree
        for char in word.lower():
            node = node.setdefault(char, {})
        node[""] = {}
    return tree


def none_of(words: list[str], *, first: str, excluded: str) -> bytes:
    """A name (a letter of ``first``, then chars not in ``excluded``) equal to none of ``words``."""
    rest = "[^" + excluded + "]*+"

    def node(branch: _Trie, depth: int) -> str:
        children = sorted(char for char in branch if char)
        if depth == 0:
            away = "[" + "".join(c for c in first if c.lower() not in children) + "]" + rest
        else:
            away = _case_class(children, excluded) + rest
        options = [away] + [_letter(char) + node(branch[char], depth + 1) for char in children]
        if "" not in branch and depth > 0:
            options.append("(?=[" + excluded + "])")  # a proper prefix of a word, ending here
        return "(?:" + "|".join(options) + ")"

    return ("(?>" + node(_trie_of(words), 0) + ")").encode("ascii")


def not_starting_with(words: list[str], *, first_excluded: str, excluded: str) -> bytes:
    """A name that does not start with any of ``words`` (case-insensitively)."""
    rest = "[^" + excluded + "]*+"

    def node(branch: _Trie, depth: int) -> str | None:
        if "" in branch:
            return None  # a word ends here: every name that goes on starts with it
        children = sorted(char for char in branch if char)
        options = [_case_class(children, first_excluded if depth == 0 else excluded) + rest]
        for char in children:
            deeper = node(branch[char], depth + 1)
            if deeper is not None:
                options.append(_letter(char) + deeper)
        if depth > 0:
            options.append("(?=[" + excluded + "])")  # a proper prefix of a word, ending here
        return "(?:" + "|".join(options) + ")"

    found = node(_trie_of(words), 0)
    assert found is not None
    return ("(?>" + found + ")").encode("ascii")


_WS = "\\t\\n\\f\\r "
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


_TAG_WORDS = _alternatives(sorted(INTERESTING_TAGS))
# End tags the tree-builder simulation needs; the SVG/MathML integration points are
# here so that the fast path can run inside them too.
END_WORDS = sorted({"noscript", "template", "svg", "math", "select", *FOREIGN_CONTAINERS})
_END_WORDS = _alternatives(END_WORDS)
# Attribute names that can fetch or run something, or mark consent; prefixes suffice
# because the Python side checks exact names.
ATTR_WORDS = list(FAST_PATH_ATTRIBUTES)
_ATTR_WORDS = _alternatives(ATTR_WORDS)
# Inside SVG/MathML, exact names (followed by a terminator where used).
_FOREIGN_ATTR_WORDS = _alternatives(list(FOREIGN_FAST_PATH_ATTRIBUTES))

# A style attribute that cannot fetch: no "(" (url(), image-set()), "@" (@import), and
# nothing that could spell them in disguise ("\\" CSS escapes, "&" character references).
_INERT_STYLE = (
    rb"(?i:style)[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    rb"""(?:"[^"(@\\&]*+"|'[^'(@\\&]*+'|[^\t\n\f\r >"'(@\\&][^\t\n\f\r >(@\\&]*+)"""
    rb"(?=[\t\n\f\r />])"
)
_ATTR_TAIL = rb"[\t\n\f\r ]*+(?:=[\t\n\f\r ]*+" + VALUE + rb"|(?!=))"
_BORING_TAG_NAME = none_of(sorted(INTERESTING_TAGS), first=_LETTERS, excluded=_WS + "/>")
_BORING_ATTR = not_starting_with(ATTR_WORDS, first_excluded=_WS + "/>", excluded=_WS + "/>=") + _ATTR_TAIL
_BORING_START = rb"<" + _BORING_TAG_NAME + rb"(?:[\t\n\f\r /]++|" + _BORING_ATTR + rb"|" + _INERT_STYLE + rb")*+>"
# The same with look-aheads, kept to test the positive form against.
LOOKAHEAD_BORING_START = (
    rb"<(?!" + _TAG_WORDS + _TERMINATOR + rb")" + TAG_NAME
    + rb"(?:[\t\n\f\r /]++|(?!" + _ATTR_WORDS + rb")" + ATTR + rb"|" + _INERT_STYLE + rb")*+>"
)
_BORING_END = (
    rb"</" + none_of(END_WORDS, first=_LETTERS, excluded=_WS + "/>")
    + rb"(?:[\t\n\f\r /]++|" + ATTR + rb")*+>"
)
LOOKAHEAD_BORING_END = (
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



def _skip(boring_start: bytes, boring_void: bytes, boring_end: bytes = _BORING_END) -> re.Pattern[bytes]:
    """The fast path: text and whole tokens that need no Python, most frequent first."""
    return re.compile(
        rb"(?:[^<]++"
        + rb"|" + boring_start
        + rb"|" + boring_end
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


def lookahead_skip() -> re.Pattern[bytes]:
    """SKIP written with negative look-aheads, as it was: the reference for tests."""
    return _skip(LOOKAHEAD_BORING_START, _BORING_VOID, LOOKAHEAD_BORING_END)

# When the caller keeps every element (full consent) the only start tags that matter are
# those that change the tokenizer state or the tree-builder simulation, and those with an
# author's consent mark (they may be activated); everything else is copied unseen.
MARK_WORDS = ["data-consent", "data-category", "data-cookie"]
SKIP_KEEPING = _skip(
    rb"<" + none_of(sorted(TEXT_STATE_TAGS), first=_LETTERS, excluded=_WS + "/>")
    + rb"(?:[\t\n\f\r /]++|"
    + not_starting_with(MARK_WORDS, first_excluded=_WS + "/>", excluded=_WS + "/>=") + _ATTR_TAIL + rb")*+>",
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
    # (No CDATA: the scanner reads every CDATA section in foreign content two ways.)
    + rb"|<(?![!/])(?!" + _FOREIGN_TAGS + _TERMINATOR + rb")" + TAG_NAME
    + rb"(?:[\t\n\f\r /]++|(?!" + _ATTR_WORDS + rb"|" + _FOREIGN_ATTR_WORDS + rb"[\t\n\f\r /=>])" + ATTR + rb"|" + _INERT_STYLE + rb")*+>"
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
