"""Property tests: the line finder against generated TOML documents, and host normalisation."""

from __future__ import annotations

import json
import tomllib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.policy.hosts import parse_host_header, parse_host_pattern
from proxy.policy.tomlpaths import KeyLines

# Bare keys, and keys that need quoting (dots, spaces, non-ASCII), as site keys do.
KEYS = st.sampled_from(["a", "mode", "b_c", "x-y", "k9", "shop.example", "bücher.example", "two words"])
# Values whose text could fool a naive scanner: '=' and '[' inside strings, multi-line strings.
TRICKY_TEXT = st.sampled_from(['x = 1', '[fake]', 'a # b', '"q"', "multi\nline = 2\n[t]", ""])
SCALARS = st.one_of(st.integers(-5, 5), st.booleans(), TRICKY_TEXT)


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"""{value}"""' if "\n" in value else json.dumps(value)
    if isinstance(value, list):
        return "[\n" + "".join(f"  {_value(v)},\n" for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    return str(value)


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[tuple[tuple[str | int, ...], str]]]:
    """A TOML text and, for each key it writes, the path and the key as written."""
    lines: list[str] = []
    expected: list[tuple[tuple[str | int, ...], str]] = []
    tables = draw(st.dictionaries(KEYS, st.dictionaries(KEYS, st.one_of(SCALARS, st.dictionaries(KEYS, SCALARS, max_size=2), st.lists(SCALARS, max_size=3)), max_size=4), min_size=1, max_size=4))
    for table, body in tables.items():
        lines.append(f"[{_key(table)}]")
        for key, value in body.items():
            written = f"{_key(key)} = {_value(value)}"
            expected.append(((table, key), _key(key)))
            if isinstance(value, dict):
                expected += [((table, key, inner), _key(inner)) for inner in value]
            lines.extend(written.split("\n"))
        lines.append("")
    return "\n".join(lines), expected


@settings(max_examples=100, deadline=None)
@given(documents())
def test_every_key_is_found_on_its_own_line(document: tuple[str, list[tuple[tuple[str | int, ...], str]]]) -> None:
    text, expected = document
    tomllib.loads(text)  # the generator writes valid TOML
    lines = text.split("\n")
    finder = KeyLines(text)
    for path, written in expected:
        line = finder.line_for(path)
        assert line is not None, path
        assert f"{written} =" in lines[line - 1], (path, line, lines[line - 1])


LABELS = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
UNICODE_LABELS = st.sampled_from(["bücher", "münchen", "straße", "日本", "пример"])


@given(st.lists(st.one_of(LABELS, UNICODE_LABELS), min_size=1, max_size=4), st.one_of(st.none(), st.integers(1, 65535)))
def test_host_normalisation_is_idempotent_and_case_blind(labels: list[str], port: int | None) -> None:
    host = ".".join(labels) + ("" if port is None else f":{port}")
    parsed = parse_host_header(host)
    assert parse_host_header(str(parsed)) == parsed
    assert parse_host_header(host.upper()) == parsed
    assert parse_host_header(host.replace(":", ".:", 1) if port else host + ".") == parsed
    assert str(parsed).isascii()
    assert parse_host_pattern(host) == parsed
