"""The tracker catalogue: load the vendor data file and classify URLs, inline scripts and cookies.

`Catalogue.default()` reads the shipped ``vendors.toml`` once per process;
`Catalogue.load(path)` reads another file, `Catalogue.from_dict(...)` builds one
from plain data (tests, embedders). Classification answers "which vendor is
this?" only; what to do about it (keep, defer, strip) is the engine's business.
Standard library only (`tomllib`): this module must not import aiohttp,
mitmproxy, jwt or pydantic.
"""

import dataclasses
import fnmatch
import functools
import hashlib
import json
import logging
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, Self

from proxy.catalogue.matchers import (
    CookieIndex,
    FileNameIndex,
    HostIndex,
    LibraryIndex,
    SignatureIndex,
    TagIdIndex,
    most_restrictive,
)
from proxy.catalogue.urls import is_first_party, last_segment, split_url
from proxy.catalogue.vendor import CATEGORIES, CatalogueError, Vendor, vendor_from_table

log = logging.getLogger(__name__)

DATA_FILE = "vendors.toml"
# The shipped catalogue is vendors.toml plus the files beside it named vendors-<class>.toml
# (necessary services, analytics, ads, ...), read in name order: one data set split by class.
DATA_FILE_GLOB = "vendors-*.toml"
URL_CACHE_SIZE = 8192
CACHED_URL_LENGTH = 1024
SCRIPT_CACHE_SIZE = 1024
CACHED_SCRIPT_LENGTH = 8192

# A URL written inside a script, found by its double slash (scheme-relative or
# absolute alike), which may be escaped: \/\/ in JSON, %2F%2F in
# document.write(unescape(...)), \u002F. The pattern starts with a literal so
# the regex engine can skip ahead quickly; the host is capped at DNS's 253 characters.
_EMBEDDED_URL = re.compile(
    r"(?://|\\/\\/|%2[Ff]%2[Ff]|\\u002[Ff]\\u002[Ff]|\\x2[Ff]\\x2[Ff])"
    r"(?P<host>[A-Za-z0-9][A-Za-z0-9.-]{0,252})"
    r"(?P<path>(?:(?:/|\\/|%2[Ff]|\\u002[Ff]|\\x2[Ff])[^\s'\"`<>()\\{}|^,;?#%]*)*)"
)
_ESCAPED_SLASH = re.compile(r"\\/|%2[Ff]|\\u002[Ff]|\\x2[Ff]")


@dataclasses.dataclass(frozen=True, slots=True)
class UrlMatch:
    """How the catalogue recognised a URL: the vendor, by what ("host", "tag id", "file name"), the entry."""

    vendor: Vendor
    how: str
    entry: str


class Catalogue:
    """Vendors indexed for fast classification; immutable once built."""

    def __init__(self, vendors: Iterable[Vendor], digest: str, source: str = "<catalogue>") -> None:
        self.vendors: dict[str, Vendor] = {}
        for vendor in vendors:
            if vendor.id in self.vendors:
                raise CatalogueError(f"{source}: vendor id {vendor.id!r} is defined twice")
            self.vendors[vendor.id] = vendor
        self.digest = digest
        self.source = source
        ordered = list(self.vendors.values())
        try:
            self._hosts = HostIndex(ordered)
            self._signatures = SignatureIndex(ordered)
        except CatalogueError as error:
            raise CatalogueError(f"{source}: {error}") from None
        self._file_names = FileNameIndex(ordered)
        self._cookies = CookieIndex(ordered)
        self._tag_ids = TagIdIndex(ordered)
        self._libraries = LibraryIndex(ordered)
        # The same tracker URLs and snippets come back on every page of a site;
        # short ones are remembered (long ones would make the cache a memory sink).
        self._url_cache = functools.lru_cache(maxsize=URL_CACHE_SIZE)(self._classify_url)
        self._script_cache = functools.lru_cache(maxsize=SCRIPT_CACHE_SIZE)(self._classify_script)
        log.debug("catalogue %s: %d vendors, digest %s", source, len(self.vendors), digest[:12])

    # -- construction -----------------------------------------------------------------

    @classmethod
    def default(cls) -> "Catalogue":
        """The catalogue shipped with Consentry (``proxy/catalogue/vendors.toml``), loaded once."""
        return _default_catalogue()

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a vendor data file; raises `CatalogueError` naming the file and the bad key."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CatalogueError(f"{path}: cannot read the vendor file: {error.strerror}") from None
        return cls.from_bytes(data, source=str(path))

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<bytes>") -> Self:
        try:
            table = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise CatalogueError(f"{source}: {error}") from None
        return cls._from_table(table, hashlib.sha256(data).hexdigest(), source)

    @classmethod
    def from_parts(cls, parts: Iterable[tuple[str, bytes]]) -> Self:
        """One catalogue from several data files (name, bytes): vendors of all, digest over all.

        A vendor id or host entry defined in two files is an error naming both.
        """
        parts = list(parts)
        vendors: list[Vendor] = []
        for name, data in parts:
            try:
                table = tomllib.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
                raise CatalogueError(f"{name}: {error}") from None
            _check_top_level(table, name)
            vendors += [vendor_from_table(raw, f"{name}: vendor #{n}") for n, raw in enumerate(table["vendor"], 1)]
        digest, source = parts_digest(parts)
        return cls(vendors, digest, source)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> Self:
        """Build from the data file's shape: ``{"vendor": [{"id": ..., ...}, ...]}``."""
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
        return cls._from_table(data, hashlib.sha256(canonical).hexdigest(), source)

    @classmethod
    def _from_table(cls, table: Mapping[str, Any], digest: str, source: str) -> Self:
        _check_top_level(table, source)
        vendors = [vendor_from_table(raw, f"{source}: vendor #{n}") for n, raw in enumerate(table["vendor"], 1)]
        return cls(vendors, digest, source)

    def with_overlay(self, overlay: "Catalogue") -> "Catalogue":
        """This catalogue plus what `overlay` knows that it does not.

        An overlay (an operator's list turned into vendor data by ``consentry catalogue
        import``) adds vendors and hosts; it never re-judges what this catalogue already
        classifies: an overlay host entry that this catalogue already matches is dropped,
        and an overlay vendor whose id is taken is renamed ``<id>-overlay``. A site moves
        a shipped vendor with its ``vendors`` overrides, not with an overlay.
        """
        vendors = list(self.vendors.values())
        taken = set(self.vendors)
        for vendor in overlay.vendors.values():
            hosts = tuple(entry for entry in vendor.hosts if self.vendor_for_url("//" + entry) is None)
            if vendor.hosts and not hosts and not vendor.signatures and not vendor.file_names:
                continue  # everything it names is known already
            vendor_id = vendor.id if vendor.id not in taken else f"{vendor.id}-overlay"
            taken.add(vendor_id)
            vendors.append(dataclasses.replace(vendor, id=vendor_id, hosts=hosts))
        digest = hashlib.sha256(f"{self.digest}+{overlay.digest}".encode()).hexdigest()
        return type(self)(vendors, digest, f"{self.source}+{overlay.source}")

    # -- classification ----------------------------------------------------------------

    def vendor_for_url(self, url: str) -> Vendor | None:
        """The vendor serving `url`: by host (+ path prefix), else by the file name of a self-hosted copy."""
        if len(url) <= CACHED_URL_LENGTH:
            return self._url_cache(url)
        return self._classify_url(url)

    def _classify_url(self, url: str) -> Vendor | None:
        parts = split_url(url)
        if parts is None:
            return None
        host, path = parts
        if host:
            vendor = self._hosts.lookup(host, path)
            if vendor is not None:
                if vendor.tag_ids:
                    # A shared loader (gtag/js serves Analytics and Ads alike): its id decides.
                    return self._tag_ids.for_url(url) or vendor
                return vendor
        return self._file_names.lookup(last_segment(path))

    def explain_url(self, url: str) -> "UrlMatch | None":
        """Which entry decides `url` and how (for ``consentry catalogue lookup``); not for hot paths."""
        parts = split_url(url)
        if parts is None:
            return None
        host, path = parts
        if host:
            vendor = self._hosts.lookup(host, path)
            if vendor is not None:
                entry = max(
                    (e for e in vendor.hosts if HostIndex([dataclasses.replace(vendor, hosts=(e,))]).lookup(host, path)),
                    key=len,
                    default="",
                )
                tagged = self._tag_ids.for_url(url) if vendor.tag_ids else None
                if tagged is not None and tagged.id != vendor.id:
                    return UrlMatch(tagged, "tag id", f"{entry} is {vendor.id}'s loader; its id= prefix names {tagged.id}")
                return UrlMatch(vendor, "host", entry)
        name = last_segment(path)
        vendor = self._file_names.lookup(name)
        if vendor is not None:
            return UrlMatch(vendor, "file name", f"{name!r} is a copy of one of {', '.join(vendor.file_names)}")
        return None

    def vendors_for_script(self, text: str) -> list[Vendor]:
        """Every vendor an inline script shows: signatures first, then catalogued URLs in its text."""
        if _is_json(text):
            return []
        found = {vendor.id: vendor for vendor in self._signatures.vendors_in(text)}
        for vendor in self._vendors_in_urls(text):
            found.setdefault(vendor.id, vendor)
        return list(found.values())

    def vendor_for_script(self, text: str) -> Vendor | None:
        """The vendor of an inline script, or None.

        A signature match decides; only without one do catalogued URLs in the
        text count. When several vendors show, the most restrictive category wins
        (a consent manager's config naming a tracker must not make the tracker
        necessary), and among equals the one that appears first.
        """
        if len(text) <= CACHED_SCRIPT_LENGTH:
            return self._script_cache(text)
        return self._classify_script(text)

    def _classify_script(self, text: str) -> Vendor | None:
        if _is_json(text):
            return None
        found = self._signatures.vendors_in(text)
        if not found:
            found = self._vendors_in_urls(text)
        if any(vendor.tag_ids for vendor in found):
            # gtag('config', 'AW-...') beside 'G-...': each id names its vendor; the strictest wins.
            found = [*found, *self._tag_ids.in_text(text)]
        return most_restrictive(found)

    def vendor_for_library(self, body: str) -> Vendor | None:
        """The vendor whose JavaScript library `body` (its first kilobytes) is, by content.

        Recognises a self-hosted tracker library whatever its file is called, when its
        body passes through the proxy; None for anything else.
        """
        return self._libraries.lookup(body)

    def _vendors_in_urls(self, text: str) -> list[Vendor]:
        if "/" not in text and not _ESCAPED_SLASH.search(text):
            return []
        found: dict[str, Vendor] = {}
        for match in _EMBEDDED_URL.finditer(text):
            if "." not in match.group("host"):
                continue
            path = _ESCAPED_SLASH.sub("/", match.group("path"))
            vendor = self.vendor_for_url(f"//{match.group('host')}{path}")
            if vendor is not None:
                found.setdefault(vendor.id, vendor)
        return list(found.values())

    def vendor_for_cookie(self, name: str) -> Vendor | None:
        """The vendor that sets a cookie called `name` (``_ga``, ``_ga_ABC123``, ``_fbp`` ...)."""
        return self._cookies.lookup(name)

    def vendors_for_category(self, category: str) -> list[Vendor]:
        """Vendors of one category, in data-file order."""
        if category not in CATEGORIES:
            log.debug("vendors_for_category: %r is not a catalogue category", category)
        return [vendor for vendor in self.vendors.values() if vendor.category == category]

    def first_party(self, url: str, page_host: str) -> bool:
        """True when `url` belongs to the page's own site (same host or registrable domain, by the PSL)."""
        return is_first_party(url, page_host)

    def __repr__(self) -> str:
        return f"<Catalogue {self.source} vendors={len(self.vendors)} digest={self.digest[:12]}>"


def _check_top_level(table: Mapping[str, Any], source: str) -> None:
    unknown = sorted(set(table) - {"vendor", "version"})
    if unknown:
        raise CatalogueError(f"{source}: unknown top-level key {unknown[0]!r}; expected [[vendor]] tables")
    if not isinstance(table.get("vendor"), list):
        raise CatalogueError(f"{source}: expected [[vendor]] tables")


def _is_json(text: str) -> bool:
    """True for JSON data (JSON-LD, framework state): it names URLs but never runs.

    A JSON object is a syntax error as a script and a JSON array an expression
    without effects, so classifying such a block can only cause false alarms.
    """
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


def default_data_files() -> list[tuple[str, bytes]]:
    """The shipped data files as (name, bytes): vendors.toml first, then vendors-*.toml by name."""
    package = resources.files("proxy.catalogue")
    names = sorted(entry.name for entry in package.iterdir() if fnmatch.fnmatch(entry.name, DATA_FILE_GLOB))
    return [(name, package.joinpath(name).read_bytes()) for name in [DATA_FILE, *names]]


@functools.cache
def _default_catalogue() -> Catalogue:
    # The validated vendors of these exact data files may be in the user's cache
    # directory from an earlier process (data_cache): ~10x cheaper than parsing the TOML.
    from proxy.catalogue import data_cache

    parts = default_data_files()
    digest, source = parts_digest(parts)
    cached = data_cache.load(digest)
    if cached is not None:
        try:
            return Catalogue(cached, digest, source)
        except CatalogueError:
            log.debug("cached catalogue rejected; building from the data files")
    catalogue = Catalogue.from_parts(parts)
    data_cache.store(digest, catalogue.vendors.values())
    return catalogue


def parts_digest(parts: Iterable[tuple[str, bytes]]) -> tuple[str, str]:
    """(digest, source name) of several data files, as `Catalogue.from_parts` computes them."""
    digest = hashlib.sha256()
    names = []
    for name, data in parts:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        names.append(name)
    return digest.hexdigest(), "+".join(names)


@functools.lru_cache(maxsize=32)
def _with_overlays(paths: tuple[str, ...]) -> Catalogue:
    catalogue = Catalogue.default()
    for path in paths:
        catalogue = catalogue.with_overlay(Catalogue.load(path))
    return catalogue


class OverlaySite(Protocol):
    """What `catalogue_for` reads of a site (the policy's ``SitePolicy`` has it)."""

    @property
    def catalogues(self) -> Sequence[str]: ...


def catalogue_for(site: OverlaySite) -> Catalogue:
    """The catalogue a site judges with: the shipped one plus the site's ``catalogues`` overlays.

    Overlay paths are absolute once the policy loader has resolved them; each combination
    is built once per process. Raises `CatalogueError` for an unreadable overlay (the
    policy loader reports that earlier, naming the key).
    """
    paths = tuple(site.catalogues)
    return _with_overlays(paths) if paths else Catalogue.default()
