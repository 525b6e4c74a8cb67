"""The static files of the banner (consent.js, consent.css ...) served under ``/_consent/``.

Files live next to this module and are read once, then kept in memory: they are small
and served on every first page view. ``vendors.json`` is generated from the catalogue
(the runtime fetches it for vendors the page holds that the embedded state does not
describe). Only plain names with a known extension are served,
so a request can never walk out of this directory. Standard library only: must not
import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parent
CONTENT_TYPES: dict[str, str] = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
_ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(js|css|svg)$")
# Generated rather than shipped: the catalogue's vendors as the runtime shows them.
VENDORS_ASSET = "vendors.json"


def vendors_json() -> bytes:
    """Every catalogued vendor (id, name, category, privacy link, cookies, embed) as JSON.

    The banner fetches this only when a page holds a vendor the embedded state does not
    describe, so pages do not carry the whole catalogue (150+ vendors, ~33 KB).
    """
    from proxy.catalogue import Catalogue   # stdlib-only package; imported late to keep start-up light
    from proxy.web.model import vendor_entry

    entries = [vendor_entry(None, vendor) for vendor in Catalogue.default().vendors.values()]
    return json.dumps(entries, ensure_ascii=True, separators=(",", ":")).encode("ascii")


@functools.cache
def asset(name: str) -> tuple[bytes, str] | None:
    """(bytes, content type) of a shipped asset, or None when there is no such asset."""
    if name == VENDORS_ASSET:
        return vendors_json(), CONTENT_TYPES[".json"]
    if not _ASSET_NAME.match(name) or ".." in name:
        return None
    path = ASSET_DIR / name
    if not path.is_file():
        return None
    return path.read_bytes(), CONTENT_TYPES[path.suffix]
