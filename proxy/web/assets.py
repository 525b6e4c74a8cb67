"""The static files of the banner (consent.js, consent.css ...) served under ``/_consent/``.

Files live next to this module and are read once, then kept in memory: they are small
and served on every first page view. Only plain names with a known extension are served,
so a request can never walk out of this directory. Standard library only: must not
import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parent
CONTENT_TYPES: dict[str, str] = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(js|css|svg)$")


@functools.cache
def asset(name: str) -> tuple[bytes, str] | None:
    """(bytes, content type) of a shipped asset, or None when there is no such asset."""
    if not _ASSET_NAME.match(name) or ".." in name:
        return None
    path = ASSET_DIR / name
    if not path.is_file():
        return None
    return path.read_bytes(), CONTENT_TYPES[path.suffix]
