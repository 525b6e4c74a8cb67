"""Dotted TOML key paths, and the line in the TOML text where each key is written.

``format_path(("sites", "shop.example", "rules", 2, "category"))`` gives
``sites."shop.example".rules[2].category``, the way a user would write the key.
``KeyLines(text)`` scans TOML text once (table headers, arrays of tables, dotted
keys, inline tables and arrays, multi-line strings) and answers the 1-based line
of a key path, falling back to the nearest enclosing table when the key itself is
not written (a missing key is reported where its table starts). tomllib keeps no
positions, hence this small scanner; it runs only on text tomllib has accepted
and never raises. Standard library only: must not depend on pydantic, aiohttp,
mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence

__all__ = ["KeyLines", "KeyPath", "format_path"]

type KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# A bare value (number, boolean, date) runs until the next separator.
_SCALAR = re.compile(r"[^,\]}\n#]*")


def format_path(path: Sequence[str | int]) -> str:
    """A key path as TOML would spell it: bare keys, quoted keys, ``[n]`` for array items."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        key = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        text = f"{text}.{key}" if text else key
    return text


class KeyLines:
    """Where each key path of a TOML document is written (first mention wins)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._line = 1
        self._lines: dict[KeyPath, int] = {}
        # Arrays of tables seen so far -> index of their latest [[entry]].
        self._array_tables: dict[KeyPath, int] = {}
        self._last_loop_pos = -1
        try:
            self._document()
        except (IndexError, ValueError, tomllib.TOMLDecodeError):
            pass  # keep what was found: a line for most keys beats none

    def line_for(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, else of its nearest ancestor that is written down, else None."""
        key = tuple(path)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key[:-1]
        return None

    # -- scanning -------------------------------------------------------------

    def _peek(self, n: int = 1) -> str:
        return self._text[self._pos : self._pos + n]

    def _advance(self, n: int = 1) -> None:
        self._line += self._text.count("\n", self._pos, self._pos + n)
        self._pos += n

    def _skip_blank(self, newlines: bool) -> None:
        """Skip spaces and comments, and line breaks too when ``newlines``."""
        while self._pos < len(self._text):
            char = self._text[self._pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self._advance()
            elif char == "#":
                end = self._text.find("\n", self._pos)
                self._advance((len(self._text) if end < 0 else end) - self._pos)
            else:
                return

    def _progress(self) -> None:
        """Stop (ValueError) rather than loop forever if the text is not TOML as expected."""
        if self._pos >= len(self._text) or self._pos == self._last_loop_pos:
            raise ValueError("no progress")
        self._last_loop_pos = self._pos

    def _record(self, path: KeyPath, line: int) -> None:
        for size in range(1, len(path) + 1):
            self._lines.setdefault(path[:size], line)

    def _document(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self._pos >= len(self._text):
                return
            line = self._line
            if self._peek(2) == "[[":
                self._advance(2)
                keys = self._key()
                path = self._resolve(keys[:-1]) + (keys[-1],)
                index = self._array_tables.get(path, -1) + 1
                self._array_tables[path] = index
                table = path + (index,)
                self._record(table, line)
                self._advance(self._text.index("]]", self._pos) + 2 - self._pos)
            elif self._peek() == "[":
                self._advance()
                table = self._resolve(self._key())
                self._record(table, line)
                self._advance(self._text.index("]", self._pos) + 1 - self._pos)
            else:
                path = table + self._key()
                self._record(path, line)
                self._skip_blank(newlines=False)
                self._advance()  # the "="
                self._value(path)

    def _resolve(self, keys: KeyPath) -> KeyPath:
        """Insert the current index after every array of tables the header passes through."""
        resolved: KeyPath = ()
        for key in keys:
            resolved += (key,)
            if resolved in self._array_tables:
                resolved += (self._array_tables[resolved],)
        return resolved

    def _key(self) -> KeyPath:
        parts: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            char = self._peek()
            if char in "\"'":
                start = self._pos
                self._string()
                parts.append(tomllib.loads(f"k = {self._text[start:self._pos]}")["k"])
            else:
                match = _BARE_KEY.match(self._text, self._pos)
                if match is None:
                    raise ValueError("not a key")
                parts.append(match.group())
                self._advance(match.end() - self._pos)
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return tuple(parts)
            self._advance()

    def _string(self) -> None:
        quote = self._peek()
        if self._peek(3) == quote * 3:
            end = self._text.index(quote * 3, self._pos + 3)
            # A closing delimiter may be followed by up to two more quotes that belong to the string.
            while self._text[end + 3 : end + 4] == quote:
                end += 1
            self._advance(end + 3 - self._pos)
            return
        self._advance()
        while self._peek() != quote:
            if self._pos >= len(self._text) or self._peek() == "\n":
                raise ValueError("unterminated string")
            self._advance(2 if quote == '"' and self._peek() == "\\" else 1)
        self._advance()

    def _value(self, path: KeyPath) -> None:
        self._skip_blank(newlines=False)
        char = self._peek()
        if char in "\"'":
            self._string()
        elif char == "[":
            self._advance()
            index = 0
            while True:
                self._skip_blank(newlines=True)
                self._progress()
                if self._peek() == "]":
                    self._advance()
                    return
                self._record(path + (index,), self._line)
                self._value(path + (index,))
                self._skip_blank(newlines=True)
                if self._peek() == ",":
                    self._advance()
                    index += 1
        elif char == "{":
            self._advance()
            while True:
                self._skip_blank(newlines=True)
                self._progress()
                if self._peek() == "}":
                    self._advance()
                    return
                if self._peek() == ",":
                    self._advance()
                    continue
                key_path = path + self._key()
                self._record(key_path, self._line)
                self._skip_blank(newlines=False)
                self._advance()  # the "="
                self._value(key_path)
        else:
            match = _SCALAR.match(self._text, self._pos)
            assert match is not None  # the pattern matches the empty string
            self._advance(match.end() - self._pos)
