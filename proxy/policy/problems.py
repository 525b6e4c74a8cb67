"""Configuration problems: one located message each, and the error that carries them all.

A ``Problem`` names the file, the line (when it can be found), the dotted TOML
key path and a message that says how to fix it; ``ConfigError`` carries every
problem found in one pass so that a user fixes a file in one round trip, not
one error at a time. Also home of the did-you-mean helper shared by the
loader's messages. Standard library only: must not depend on pydantic, aiohttp,
mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ConfigError", "Problem", "did_you_mean"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a configuration, located as precisely as we can."""

    file: str
    line: int | None
    key_path: str
    message: str

    def format(self) -> str:
        """``FILE:LINE: key.path: message``; the line and the key path are left out when unknown."""
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.key_path:
            return f"{where}: {self.key_path}: {self.message}"
        return f"{where}: {self.message}"

    def __str__(self) -> str:
        return self.format()


class ConfigError(Exception):
    """A configuration that cannot be used; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(p.format() for p in self.problems))

    def lines(self) -> list[str]:
        """The problems as the lines ``consentry check-config`` prints."""
        return [p.format() for p in self.problems]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``'; did you mean "x"?'`` for the closest choice, or ``""`` when nothing is close.

    Case is ignored when comparing because "Strip" for "strip" is the commonest slip.
    """
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f'; did you mean "{by_lower[close[0]]}"?' if close else ""
