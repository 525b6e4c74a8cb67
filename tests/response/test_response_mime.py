"""Media types parsed and extracted as browsers do, checked against web-platform-tests data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.response.mime import extract_mime_type, parse_mime_type, split_header_values

DATA = Path(__file__).resolve().parent.parent / "data" / "wpt-mimesniff"
CASES = [case for case in json.loads((DATA / "mime-types.json").read_text(encoding="utf-8")) if isinstance(case, dict)]
HEADER_CASES = json.loads((DATA / "content-types.json").read_text(encoding="utf-8"))


def _unspaced(serialized: str) -> str:
    """This WPT revision serialises parameters as "; name=value" (and rewrote ";" inside one
    quoted test value the same way); the standard and its current tests have no space."""
    return serialized.replace("; ", ";")


@pytest.mark.parametrize("case", CASES, ids=lambda case: repr(case["input"])[:60])
def test_parse_mime_type_matches_wpt(case):
    parsed = parse_mime_type(case["input"])
    if case["output"] is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert parsed.serialize() == _unspaced(case["output"])


@pytest.mark.parametrize("case", HEADER_CASES, ids=lambda case: " | ".join(case["input"]))
def test_extract_mime_type_from_several_headers_matches_wpt(case):
    found = extract_mime_type(case["input"])
    assert found is not None
    assert found.serialize() == case["mimeType"]
    assert found.essence == case["documentContentType"]


@pytest.mark.parametrize("values, essence", [
    (["text/plain, text/html"], "text/html"),
    (["text/plain", "text/html"], "text/html"),
    (["text/html x"], None),
    (["*/*"], None),
    ([""], None),
    ([], None),
    (['text/html;x="a,text/plain"'], "text/html"),
    (["text/html;charset=utf-8, */*"], "text/html"),
    (["image/svg+xml"], "image/svg+xml"),
])
def test_the_audit_cases(values, essence):
    found = extract_mime_type(values)
    assert (found.essence if found else None) == essence


def test_split_keeps_quoted_commas():
    assert split_header_values('a/b;x="1,2", c/d') == ['a/b;x="1,2"', "c/d"]
