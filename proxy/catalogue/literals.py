"""Find the literal text every match of a signature regex must contain.

`SignatureIndex` tests that literal with a plain substring search before it
runs the regex, which keeps inline-script classification fast on large
scripts. Standard library only: no aiohttp, mitmproxy, jwt or pydantic here.
"""

import re

_CLASS_ESCAPES = frozenset("bBdDsSwWAZzGg")
_CONTROL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_QUANTIFIERS = "*+?{"
# (?i) makes the regex case-insensitive and (?x) gives whitespace another meaning:
# a case-sensitive substring test would then be wrong, so no literal is offered.
_UNSAFE_FLAGS = re.compile(r"\(\?[aLmsux-]*[ix]")


def required_literal(pattern: str) -> str:
    """The longest run of literal text that every match of `pattern` contains ("" if none is known).

    Understands the regex subset signatures use: escapes, character classes,
    groups (skipped: their content may be optional or alternative), quantifiers
    and alternation (a top-level ``|`` means no single literal is required).
    """
    if _UNSAFE_FLAGS.search(pattern):
        return ""
    best, run = "", ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        piece = ""
        if char == "\\":
            following = pattern[index + 1 : index + 2]
            if following in _CLASS_ESCAPES or following.isdigit() or following in ("x", "u", "U", "N", ""):
                best, run = max(best, run, key=len), ""
                index += 2
                if following == "x":
                    index += 2
                elif following in ("u", "U"):
                    index += 4 if following == "u" else 8
                index = _skip_quantifier(pattern, index)
                continue
            piece = _CONTROL_ESCAPES.get(following, following)
            index += 2
        elif char == "[":
            best, run = max(best, run, key=len), ""
            index = _skip_class(pattern, index)
            index = _skip_quantifier(pattern, index)
            continue
        elif char == "(":
            best, run = max(best, run, key=len), ""
            index = _skip_group(pattern, index)
            index = _skip_quantifier(pattern, index)
            continue
        elif char == "|":
            return ""
        elif char in ".^$":
            best, run = max(best, run, key=len), ""
            index += 1
            index = _skip_quantifier(pattern, index)
            continue
        else:
            piece = char
            index += 1
        quantifier = pattern[index : index + 1]
        if quantifier and quantifier in _QUANTIFIERS:
            # "x+" still requires one x, but what follows need not be adjacent to it.
            if quantifier == "+":
                run += piece
            best, run = max(best, run, key=len), ""
            index = _skip_quantifier(pattern, index)
            continue
        run += piece
    return max(best, run, key=len)


def _skip_class(pattern: str, index: int) -> int:
    index += 1
    if pattern[index : index + 1] == "^":
        index += 1
    if pattern[index : index + 1] == "]":
        index += 1
    while index < len(pattern) and pattern[index] != "]":
        index += 2 if pattern[index] == "\\" else 1
    return index + 1


def _skip_group(pattern: str, index: int) -> int:
    depth = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = _skip_class(pattern, index)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return index


def _skip_quantifier(pattern: str, index: int) -> int:
    if pattern[index : index + 1] in ("*", "+", "?"):
        index += 1
    elif pattern[index : index + 1] == "{":
        closing = pattern.find("}", index)
        index = closing + 1 if closing != -1 else index + 1
    if pattern[index : index + 1] in ("?", "+"):  # lazy or possessive
        index += 1
    return index
