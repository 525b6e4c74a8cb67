"""The static files of the banner (consent.js, consent.css ...) served under ``/_consent/``.

Two kinds of files, both kept in memory once built (they are small and asked for on
every first page view):

* shipped files next to this module (``consent.js``, ``consent.css``), the same for
  every site, and ``vendors.json`` generated from the catalogue (the runtime fetches it
  for vendors the page holds that the embedded state does not describe);
* per-site files: ``guard.js`` (the guard with the site's vendor table, see
  ``proxy.csp.site_guard``) and ``site.js`` (the banner's texts, categories and theme in
  one language), which depend on the policy but never on the visitor.

Pages refer to every file with ``?v=<version>``, a digest of its bytes: a request
carrying the current version is answered as cacheable for a year (``immutable``), so
pages carry a few hundred bytes of tags instead of ~25 KB of inlined code. Any replica
with the same policy and catalogue computes the same versions, so it does not matter
which one a browser asks. Only plain names with a known extension are served, so a
request can never walk out of this directory. Standard library only: must not import
aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TYPE_CHECKING

from proxy.response.headers import split_etags

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy


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
GUARD_ASSET = "guard.js"
SITE_ASSET = "site.js"

# A request with the current version may be cached for good: a new version is a new URL.
CACHE_FOREVER = "public, max-age=31536000, immutable"
# No version (an old page, a hand-typed URL): cacheable for a while, then asked again.
CACHE_BRIEFLY = "public, max-age=300"
# A version that is not the current one (a page made before a policy reload): the
# current bytes, but never cached under the old URL.
CACHE_NEVER = "no-cache"


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


@dataclass(frozen=True, slots=True)
class AssetFile:
    """One servable file: its bytes, a gzip copy made once, and its version."""

    body: bytes
    gzipped: bytes
    content_type: str
    version: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> AssetFile:
        return cls(body, gzip.compress(body, 9, mtime=0), content_type, hashlib.sha256(body).hexdigest()[:16])


@dataclass(frozen=True, slots=True)
class AssetReply:
    """What to answer for one asset request (the server adds nothing but the transport)."""

    status: int                 # 200, or 304 when the client's copy is current
    body: bytes
    headers: dict[str, str]


@functools.cache
def shipped_file(name: str) -> AssetFile | None:
    found = asset(name)
    return AssetFile.of(*found) if found is not None else None


def shipped_version(name: str) -> str:
    """The ``?v=`` of a shipped file, for the tags that refer to it."""
    found = shipped_file(name)
    return found.version if found is not None else "0"


# Per-site files, remembered per site object (a reloaded policy is a new object, so its
# files are rebuilt); the entry keeps the site itself, so a recycled id() cannot match.
_PER_SITE: OrderedDict[tuple[Any, ...], tuple[Any, AssetFile]] = OrderedDict()
_PER_SITE_LIMIT = 256


def _per_site(key: str, site: SitePolicy, build: Callable[[], AssetFile]) -> AssetFile:
    cache_key = (key, id(site))
    entry = _PER_SITE.get(cache_key)
    if entry is not None and entry[0] is site:
        _PER_SITE.move_to_end(cache_key)
        return entry[1]
    built = build()
    _PER_SITE[cache_key] = (site, built)
    if len(_PER_SITE) > _PER_SITE_LIMIT:
        _PER_SITE.popitem(last=False)
    return built


def guard_file(site: SitePolicy) -> AssetFile:
    from proxy.csp import site_guard

    def build() -> AssetFile:
        source, _ = site_guard(site)
        return AssetFile.of(source.encode("utf-8"), CONTENT_TYPES[".js"])

    return _per_site(GUARD_ASSET, site, build)


def site_file(site: SitePolicy, lang: str) -> AssetFile:
    from proxy.web.model import site_model
    from proxy.web.snippet import json_for_script

    def build() -> AssetFile:
        body = f"window.__consentry_site={json_for_script(site_model(site, lang=lang))};"
        return AssetFile.of(body.encode("ascii"), CONTENT_TYPES[".js"])

    return _per_site(f"{SITE_ASSET}:{lang}", site, build)


def site_file_version(site: SitePolicy, lang: str) -> str:
    return site_file(site, lang).version


def guard_file_version(site: SitePolicy) -> str:
    return guard_file(site).version


def asset_reply(site: SitePolicy, name: str, query: Mapping[str, str], request_headers: Mapping[str, str]) -> AssetReply | None:
    """The answer to ``GET <consent_path>/<name>?<query>``, or None for "no such file".

    Conditional (``If-None-Match``) and compressed (``Accept-Encoding: gzip``) like any
    static file server; ``Vary: Accept-Encoding`` because the bytes depend on it.
    """
    found: AssetFile | None
    if name == GUARD_ASSET:
        found = guard_file(site)
    elif name == SITE_ASSET:
        from proxy.web.texts import LANGUAGES, pick_language

        lang = query.get("lang", "")
        if lang not in LANGUAGES:
            lang = pick_language(site, html_lang=None, accept_language=None)
        found = site_file(site, lang)
    else:
        found = shipped_file(name)
    if found is None:
        return None
    wanted = query.get("v")
    cache_control = CACHE_BRIEFLY if wanted is None else CACHE_FOREVER if wanted == found.version else CACHE_NEVER
    etag = f'"{found.version}"'
    headers = {"Content-Type": found.content_type, "Cache-Control": cache_control, "ETag": etag, "Vary": "Accept-Encoding"}
    # If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" matches "x".
    if etag in {tag.removeprefix("W/") for tag in split_etags(request_headers.get("If-None-Match", ""))}:
        return AssetReply(304, b"", headers)
    if _accepts_gzip(request_headers.get("Accept-Encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return AssetReply(200, found.gzipped, headers)
    return AssetReply(200, found.body, headers)


def _accepts_gzip(value: str) -> bool:
    for item in value.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False
