"""The scanner against the html5lib tokenizer tests (tests/data/html5lib-tests, MIT).

Every test's input goes through the scanner with its conformance seam (``trace``), which
reports the raw bytes of each tag, comment, bogus comment and doctype it finds (the fast
path is off then, so every token is seen). From those bytes we rebuild the test's
non-character tokens (start tags with decoded attributes and the self-closing flag, end
tags, comments with their data, doctypes) and compare them with the expected output:
where a tag starts and ends, and which text modes hide markup, must be exactly what the
WHATWG tokenizer says. Character tokens are not compared (the scanner copies text as
slices and never decodes it).

Initial states other than Data are reached with a prefix the scanner understands
(``<xmp>`` for RAWTEXT, ``<script>`` for script data, ``<svg><![CDATA[`` ...). The html5lib
tokenizer runs without a tree builder, so a ``<script>`` in its input does not switch
state there while it does here: each comparison stops after the first start tag that
switches the scanner's text mode or enters foreign content. Every input runs whole,
split at every offset, and in random chunks (the seed is printed).
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest

from proxy.html import KEEP, Element
from proxy.html.scanner import Scanner
from proxy.html.tags import quick_attributes

DATA = Path(__file__).resolve().parents[1] / "data" / "html5lib-tests" / "tokenizer"
FILES = sorted(DATA.glob("*.test"))

# Start tags after which this scanner (which simulates the tree builder) and a bare
# tokenizer legitimately disagree.
SWITCHING = {"script", "style", "xmp", "iframe", "noembed", "noframes", "title", "textarea", "plaintext",
             "svg", "math"}

# (initial state, last start tag) -> the prefix that puts the scanner there.
PREFIX_ELEMENT = {"RCDATA state": "textarea", "RAWTEXT state": "xmp", "Script data state": "script",
                  "PLAINTEXT state": "plaintext"}

Token = tuple[object, ...]


def _keep(element: Element):  # noqa: ANN202 - decide function
    return KEEP


def _unescape(text: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def _lossy(text: str) -> str:
    """What the scanner can report for ``text``: lone surrogates become U+FFFD."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _name(raw: bytes) -> str:
    return raw.lower().decode("utf-8", "replace").replace("\x00", "\ufffd")


def _comment_data(raw: bytes) -> str:
    body = raw[4:]
    if body in (b">", b"->"):
        data = b""
    elif body.endswith(b"--!>"):
        data = body[:-4]
    elif body.endswith(b"-->"):
        data = body[:-3]
    else:  # cut off by the end of input
        for tail in (b"--!", b"--", b"-"):
            if body.endswith(tail):
                body = body[:-len(tail)]
                break
        data = body
    return data.decode("utf-8", "replace").replace("\x00", "\ufffd")


def token_of(raw: bytes) -> Token:
    """The html5lib token for one traced piece of markup."""
    if raw.startswith(b"<!--"):
        return ("Comment", _comment_data(raw))
    if raw[:9].lower() == b"<!doctype":
        return ("DOCTYPE",)
    if raw[:2] == b"</" and raw[2:3].isalpha():
        name = re.match(rb"</([^\t\n\f\r />]*)", raw)
        assert name is not None
        return ("EndTag", _name(name.group(1)))
    if raw[:1] == b"<" and raw[1:2].isalpha():
        name = re.match(rb"<([^\t\n\f\r />]*)", raw)
        assert name is not None
        attrs, self_closing = quick_attributes(raw, name.end(), "utf-8")
        return ("StartTag", _name(name.group(1)), attrs, self_closing)
    # Bogus comments: "<?" keeps its "?", "<!" and "</" do not keep theirs.
    body = raw[1:] if raw[:2] == b"<?" else raw[2:]
    if body.endswith(b">"):
        body = body[:-1]
    return ("Comment", body.decode("utf-8", "replace").replace("\x00", "\ufffd"))


def expected_tokens(output: list[list[object]], double_escaped: bool) -> list[Token]:
    tokens: list[Token] = []

    def text(value: object) -> str:
        assert isinstance(value, str)
        return _lossy(_unescape(value) if double_escaped else value)

    for token in output:
        kind = token[0]
        if kind == "Character":
            continue
        if kind == "DOCTYPE":
            tokens.append(("DOCTYPE",))
        elif kind == "StartTag":
            attrs = token[2] if len(token) > 2 else {}
            assert isinstance(attrs, dict)
            tokens.append(("StartTag", text(token[1]), {text(k): text(v) for k, v in attrs.items()},
                           len(token) > 3 and token[3] is True))
        elif kind == "EndTag":
            tokens.append(("EndTag", text(token[1])))
        elif kind == "Comment":
            tokens.append(("Comment", text(token[1])))
    return tokens


def until_switch(tokens: list[Token]) -> list[Token]:
    for index, token in enumerate(tokens):
        if token[0] == "StartTag" and token[1] in SWITCHING:
            return tokens[:index + 1]
    return tokens


def scan(data: bytes, chunks: list[int] | None = None) -> list[Token]:
    pieces: list[bytes] = []
    scanner = Scanner(_keep, encoding="utf-8", trace=pieces.append)
    out = []
    if chunks is None:
        out.append(scanner.feed(data))
    else:
        position = 0
        for size in chunks:
            out.append(scanner.feed(data[position:position + size]))
            position += size
        out.append(scanner.feed(data[position:]))
    out.append(scanner.close())
    assert b"".join(out) == data, "a keep-all scan must not change a byte"
    return [token_of(piece) for piece in pieces]


def _cases() -> list[object]:
    cases = []
    for path in FILES:
        document = json.loads(path.read_text(encoding="utf-8"))
        for index, test in enumerate(document["tests"]):
            for state in test.get("initialStates", ["Data state"]):
                cases.append(pytest.param(path.name, index, state, id=f"{path.stem}-{index}-{state.split()[0]}"))
    return cases


def _prepare(test: dict[str, object], state: str) -> tuple[bytes, int, list[Token]] | str:
    """(input bytes, tokens the prefix adds, expected tokens), or why the case cannot be set up."""
    double = bool(test.get("doubleEscaped"))
    text = test["input"]
    assert isinstance(text, str)
    text = _normalise_newlines(_unescape(text) if double else text)
    output = test["output"]
    assert isinstance(output, list)
    expected = expected_tokens(output, double)
    last = test.get("lastStartTag")
    if state == "Data state":
        return text.encode("utf-8", "surrogatepass"), 0, until_switch(expected)
    if state == "CDATA section state":
        if "<![CDATA[" in text:
            return "a second CDATA section would be one here (foreign content)"
        prefix = "<svg><![CDATA["
        added = 1
    else:
        element = PREFIX_ELEMENT[state]
        if last is not None:
            if state == "Script data state" and last != "script":
                return "script-data escapes with another element's end tag do not occur in HTML"
            element = str(last)
        elif f"</{element}" in text.lower():
            return "without a last start tag no end tag is appropriate; the prefix would make one"
        prefix = f"<{element}>"
        added = 1
    return (prefix + text).encode("utf-8", "surrogatepass"), added, until_switch(expected)


def _load(name: str, index: int) -> dict[str, object]:
    test = json.loads((DATA / name).read_text(encoding="utf-8"))["tests"][index]
    assert isinstance(test, dict)
    return test


SEED = int(os.environ.get("HTML5LIB_SEED", random.randrange(10**6)))


@pytest.mark.skipif(not FILES, reason=f"html5lib tokenizer tests not found at {DATA}")
@pytest.mark.parametrize(("name", "index", "state"), _cases())
def test_html5lib_tokenizer(name: str, index: int, state: str) -> None:
    test = _load(name, index)
    prepared = _prepare(test, state)
    if isinstance(prepared, str):
        pytest.skip(prepared)
    data, added, expected = prepared
    whole = until_switch(scan(data)[added:])
    assert whole == expected, test["description"]
    for offset in range(1, len(data)):
        assert until_switch(scan(data, [offset])[added:]) == expected, f"split at {offset}: {test['description']}"
    generator = random.Random(f"{SEED}-{name}-{index}-{state}")
    sizes = []
    remaining = len(data)
    while remaining > 0:
        sizes.append(generator.randint(1, 8))
        remaining -= sizes[-1]
    assert until_switch(scan(data, sizes)[added:]) == expected, f"HTML5LIB_SEED={SEED} chunks {sizes}"


def test_the_conformance_data_is_here() -> None:
    """The skip above is for a checkout without tests/data; in this repository it must not fire."""
    assert len(FILES) >= 8 and (DATA.parent / "LICENSE").is_file()
    assert len(_cases()) > 2000
