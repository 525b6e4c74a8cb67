"""The key-path formatter and the line finder that places each problem in the file."""

from __future__ import annotations

import tomllib

import pytest

from proxy.policy.tomlpaths import KeyLines, format_path

DOCUMENT = '''\
# a comment with key = "value" that is not a key
[proxy]
listen = "0.0.0.0:8080"
timeouts.connect = 3

[sites."shop.example"]
upstream = "http://127.0.0.1:8000"
banner = { enabled = true, theme = { accent = "#123" } }
rules = [
  { category = "analytics", host = "stats.example" },

  { category = "marketing", url_glob = "*://ads.example/*" },
]
notes = """
mode = "strip" is inside a string,
[sites."fake"] too
"""
'quoted key' = 1

[[sites."shop.example".extra]]
name = "first"

[[sites."shop.example".extra]]
name = "second"
nested = [[1, 2], [3,
  4]]

[sites.'news.example']
mode = "defer"
'''


@pytest.fixture(scope="module")
def lines() -> KeyLines:
    tomllib.loads(DOCUMENT)  # the finder only ever sees valid TOML
    return KeyLines(DOCUMENT)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("proxy",), 2),
        (("proxy", "listen"), 3),
        (("proxy", "timeouts"), 4),
        (("proxy", "timeouts", "connect"), 4),
        (("sites",), 6),
        (("sites", "shop.example"), 6),
        (("sites", "shop.example", "upstream"), 7),
        (("sites", "shop.example", "banner", "theme", "accent"), 8),
        (("sites", "shop.example", "rules"), 9),
        (("sites", "shop.example", "rules", 0, "host"), 10),
        (("sites", "shop.example", "rules", 1), 12),
        (("sites", "shop.example", "rules", 1, "url_glob"), 12),
        (("sites", "shop.example", "notes"), 14),
        (("sites", "shop.example", "quoted key"), 18),
        (("sites", "shop.example", "extra", 0, "name"), 21),
        (("sites", "shop.example", "extra", 1), 23),
        (("sites", "shop.example", "extra", 1, "name"), 24),
        (("sites", "shop.example", "extra", 1, "nested", 1, 1), 26),
        (("sites", "news.example", "mode"), 29),
    ],
)
def test_line_of_each_key(lines: KeyLines, path: tuple[str | int, ...], line: int) -> None:
    assert lines.line_for(path) == line


def test_text_inside_strings_and_comments_is_not_a_key(lines: KeyLines) -> None:
    assert lines.line_for(("sites", "fake")) == 6  # falls back to "sites", never the string's line 16
    assert lines.line_for(("sites", "shop.example", "mode")) == 6  # "mode" only appears in a string


def test_missing_key_falls_back_to_its_table(lines: KeyLines) -> None:
    assert lines.line_for(("sites", "news.example", "upstream")) == 28
    assert lines.line_for(("receipts", "url")) is None


def test_never_raises_on_odd_text() -> None:
    assert KeyLines("[unterminated").line_for(("x",)) is None
    assert KeyLines("").line_for(()) is None


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("sites", "shop.example", "rules", 2, "category"), 'sites."shop.example".rules[2].category'),
        (("sites", "default", "mode"), "sites.default.mode"),
        (("vendors", "meta-pixel"), "vendors.meta-pixel"),
        (("sites", "bücher.example"), 'sites."bücher.example"'),
        (("banner", "texts", 'say "hi"'), 'banner.texts."say \\"hi\\""'),
        (("keys", 0), "keys[0]"),
    ],
)
def test_format_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text
    if not any(isinstance(part, int) for part in path):
        # What we print is a key a user can paste back into TOML.
        assert tomllib.loads(f"{text} = 1") == _nest(path, 1)


def _nest(path: tuple[str | int, ...], value: object) -> object:
    for part in reversed(path):
        value = {part: value}
    return value


@pytest.mark.parametrize("text", ["a = [1 }", "a = { b = 1 ]", "a = [", "a = {", "[[a", 'a = "unterminated'])
def test_never_hangs_on_text_that_is_not_toml(text: str) -> None:
    assert KeyLines(text).line_for(("a", "b")) in (None, 1)
