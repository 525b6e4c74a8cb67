"""A second judge for the rewriter's output: parse5, the current HTML standard's tree builder.

The html fuzz target and ``fuzz.sequences`` judge with html5lib 1.1 (2020), corrected where
it predates the standard (``fuzz.targets._spec_parser``). parse5 (Node.js, the parser of
jsdom) follows the standard of today and was written by others: a page that leaves a
tracker live for either judge is a failure. It found a form html5lib missed (a breakout
tag inside a MathML ``<mo>``, docs/security.md, fifth run).

``Parse5Judge`` keeps one ``node fuzz/parse5/judge.mjs`` process and sends it pages in
batches. It needs Node.js and ``npm ci --prefix fuzz/parse5`` (``make test`` and
``.ci/run`` run it when npm is there). Run the two-readings search with both judges::

    python -m fuzz.sequences --seconds 600 --tokens 6 --seed 1 --parse5
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

HERE = Path(__file__).resolve().parent / "parse5"
_BATCH = 64   # pages per round trip (a page may be 100 KB; pipes hold 64 KB)


def unavailable() -> str | None:
    """Why the parse5 judge cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "Node.js (node) is not installed"
    if not (HERE / "node_modules" / "parse5").is_dir():
        return f"parse5 is not installed: npm ci --prefix {HERE}"
    return None


def browser_text(page: bytes) -> str:
    """The page as a browser without a transport charset decodes it: a byte order mark,
    else the encoding its prescan finds, else windows-1252."""
    from fuzz.targets import _as_browsers_decode
    from proxy.html.encoding import prescan

    decoded = _as_browsers_decode(page)
    if isinstance(decoded, str):
        return decoded
    label = prescan(page) or "windows-1252"
    if label.lower().startswith("utf-16"):
        label = "utf-8"        # a <meta> cannot make a page UTF-16 (the standard: UTF-8)
    try:
        return page.decode(label, errors="replace")
    except LookupError:
        return page.decode("windows-1252", errors="replace")


class Parse5Judge:
    """``judge.live(pages)``: for each page, the tracker URLs parse5's tree fetches."""

    def __init__(self) -> None:
        reason = unavailable()
        if reason is not None:
            raise RuntimeError(reason)
        self._node = subprocess.Popen(["node", str(HERE / "judge.mjs")], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, encoding="utf-8", cwd=HERE)

    def live(self, pages: Iterable[bytes]) -> list[list[str]]:
        answers: list[list[str]] = []
        batch: list[bytes] = []
        for page in pages:
            batch.append(page)
            if len(batch) == _BATCH:
                answers += self._ask(batch)
                batch = []
        return answers + self._ask(batch) if batch else answers

    def _ask(self, pages: list[bytes]) -> list[list[str]]:
        # A bounded batch: the answers are read before more is written, so neither pipe fills.
        assert self._node.stdin is not None and self._node.stdout is not None
        for number, page in enumerate(pages):
            self._node.stdin.write(json.dumps({"id": number, "html": browser_text(page)}) + "\n")
        self._node.stdin.flush()
        answers = []
        for number in range(len(pages)):
            answer = json.loads(self._node.stdout.readline())
            assert answer["id"] == number, answer
            answers.append(answer["live"])
        return answers

    def close(self) -> None:
        if self._node.stdin is not None:
            self._node.stdin.close()
        self._node.wait(timeout=30)
        if self._node.stdout is not None:
            self._node.stdout.close()

    def __enter__(self) -> Parse5Judge:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()
