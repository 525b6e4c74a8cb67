"""What the HTML scanner tells its caller about one element, and what it is told back.

The scanner materialises only elements that can fetch or execute. For each it builds an
``Element`` (decoded names and values, URLs already resolved against ``<base href>``)
and asks a caller-supplied ``decide`` function for a ``Decision``. Standard library only:
this module must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Action(enum.Enum):
    KEEP = "keep"          # leave the element's bytes untouched
    DEFER = "defer"        # make it inert and restorable (DESIGN.md table)
    STRIP = "strip"        # remove it with its content (for ping: just the attribute)
    ACTIVATE = "activate"  # author-marked inert markup the visitor consented to: make it live


@dataclass(frozen=True, slots=True)
class FetchURL:
    """One URL the element would fetch or navigate to automatically."""

    attribute: str   # where it came from: "src", "srcset", "data-src", "style", "content", "text" (inline script/style body) ...
    url: str         # absolute when resolvable (base href / base_url applied), else as written (decoded)


@dataclass(slots=True)
class Element:
    """An element that can fetch or execute, as a browser would parse it."""

    tag: str                                  # lower-case local name: "script", "img", "iframe", "link", "style", ...
    attrs: dict[str, str]                     # lower-case names, character references decoded; first of duplicates wins
    urls: list[FetchURL] = field(default_factory=list)
    text: str | None = None                   # body of an inline <script>/<style> (decoded), else None
    text_truncated: bool = False              # body exceeded the buffer limit: decide on what was seen
    # > 0: ``text`` is a later window of a body longer than the buffer limit, starting at this
    # byte offset of the body; the start tag already went out live (KEEP it, or DEFER/STRIP
    # to end the element inert before this window: see proxy/html/scanner.py)
    text_offset: int = 0
    in_noscript: bool = False
    in_template: bool = False
    in_foreign: bool = False                  # inside <svg> or <math>
    in_srcdoc: bool = False                   # inside an <iframe srcdoc> document
    offset: int = 0                           # byte offset of the start tag in the input stream
    line: int = 1                             # 1-based line of the start tag
    attribute: str | None = None              # set for an on* event handler: its name; text holds its code


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    category: str | None = None   # written as data-consent="<category>"
    vendor: str | None = None     # written as data-consent-vendor="<vendor id>" when known
    extra_attrs: tuple[tuple[str, str], ...] = ()   # added when the element stays or becomes live (e.g. a CSP nonce)
    # DEFER/STRIP of only these URLs (from ``Element.urls``): the rest of the element stays
    # live. A srcset/imagesrcset/ping loses just the refused candidates; other attributes
    # holding a refused URL are moved (or dropped) whole. None: the whole element.
    refused: frozenset[FetchURL] | None = None
    # A plain keep the caller recorded nothing about and would give again for the same
    # start tag in the same context and against the same URLs (no vendor involved): the
    # rewriter may then keep those bytes again without asking (``Rewriter(keep_memo=)``).
    repeatable: bool = False


KEEP = Decision(Action.KEEP)
