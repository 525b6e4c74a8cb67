"""One catalogued vendor, and the checks that turn a raw TOML table into one.

`Vendor` is the immutable record the rest of Consentry reads (the engine, the
banner, the CSP builder, receipts). `vendor_from_table` validates one
``[[vendor]]`` table of the data file and says exactly which key is wrong and
how to fix it. Standard library only: this module must not import aiohttp,
mitmproxy, jwt or pydantic.
"""

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from proxy.defaults import CATEGORIES as CATEGORIES  # the catalogue's vocabulary, re-exported

from proxy.catalogue.literals import required_literal

"""The catalogue's categories, least to most restrictive (see DESIGN.md)."""

CSP_DIRECTIVES: frozenset[str] = frozenset(
    {
        "script-src",
        "connect-src",
        "img-src",
        "frame-src",
        "style-src",
        "font-src",
        "media-src",
        "child-src",
        "worker-src",
        "form-action",
    }
)

MIN_LITERAL = 3
"""Shortest literal a signature must contain (see `proxy.catalogue.literals`)."""

_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A host entry: lowercase labels, optionally followed by a path prefix whose
# segments may be `*` (one segment, e.g. a locale in connect.facebook.net/*/fbevents.js).
_HOST_ENTRY = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/[^\s?#]*)?")
_COOKIE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FILE_NAME = re.compile(r"[A-Za-z0-9_.*-]+")

_REQUIRED = ("id", "name", "category", "hosts")
_KNOWN = frozenset(
    {
        "id",
        "name",
        "category",
        "hosts",
        "cookies",
        "cookie_lifetimes",
        "signatures",
        "file_names",
        "privacy_url",
        "embed",
        "csp",
        "description",
        "tag_ids",
        "tag_manager",
        "library_signatures",
    }
)
# A Google-style tag id prefix: letters and a dash (G-, UA-, AW-, DC-, GTM-).
_TAG_ID_PREFIX = re.compile(r"[A-Z]{1,4}-")


class CatalogueError(ValueError):
    """The data file is malformed; the message names the file, the vendor and the key."""


@dataclass(frozen=True, slots=True)
class Vendor:
    """A tracker, ad server, embed or service the catalogue recognises."""

    id: str
    name: str
    category: str
    hosts: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()
    cookie_lifetimes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    signatures: tuple[str, ...] = ()
    file_names: tuple[str, ...] = ()
    privacy_url: str = ""
    embed: bool = False
    csp: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""
    # Prefixes of the tag id (the ``id`` query parameter of a shared loader URL such as
    # googletagmanager.com/gtag/js, or an id in an inline gtag() call) that mean this vendor.
    tag_ids: tuple[str, ...] = ()
    # A tag manager loads whatever the site puts in its container: its category on a site
    # is the strictest of the site's ``tag_manager_loads`` (see the engine).
    tag_manager: bool = False
    # Regexes matched against the start of a JavaScript body served through the proxy,
    # which recognise a self-hosted copy of the vendor's library under any name.
    library_signatures: tuple[str, ...] = ()

    # Mappings are not hashable; a vendor is identified by its id anyway.
    def __hash__(self) -> int:
        return hash(self.id)


def vendor_from_table(table: Mapping[str, Any], where: str) -> Vendor:
    """Validate one ``[[vendor]]`` table; `where` prefixes every error (e.g. ``vendors.toml: vendor #3``)."""
    if not isinstance(table, Mapping):
        raise CatalogueError(f"{where}: expected a table, got {type(table).__name__}")
    vendor_id = table.get("id")
    if isinstance(vendor_id, str):
        where = f"{where} ({vendor_id})"
    for key in _REQUIRED:
        if key not in table:
            raise CatalogueError(f"{where}: missing required key {key!r}")
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise CatalogueError(f"{where}: unknown key {unknown[0]!r}{_did_you_mean(unknown[0], _KNOWN)}")

    vendor_id = _text(table, "id", where)
    if not _ID.fullmatch(vendor_id):
        raise CatalogueError(f"{where}: id: {vendor_id!r} must be kebab-case, e.g. 'google-analytics'")
    category = _text(table, "category", where)
    if category not in CATEGORIES:
        raise CatalogueError(
            f"{where}: category: {category!r} is not one of {', '.join(CATEGORIES)}{_did_you_mean(category, CATEGORIES)}"
        )

    hosts = tuple(_host_entry(h, where) for h in _strings(table, "hosts", where))
    cookies = _strings(table, "cookies", where)
    for cookie in cookies:
        if not _COOKIE.fullmatch(cookie):
            raise CatalogueError(f"{where}: cookies: {cookie!r} is not a cookie name pattern")
    lifetimes = table.get("cookie_lifetimes", {})
    if not isinstance(lifetimes, Mapping) or not all(isinstance(v, str) for v in lifetimes.values()):
        raise CatalogueError(f"{where}: cookie_lifetimes: expected a table of pattern = \"text\"")
    for pattern in lifetimes:
        if pattern not in cookies:
            raise CatalogueError(f"{where}: cookie_lifetimes: {pattern!r} is not listed in cookies")
    signatures = _strings(table, "signatures", where)
    for signature in signatures:
        _check_signature(signature, f"{where}: signatures")
    file_names = _strings(table, "file_names", where)
    for name in file_names:
        if not _FILE_NAME.fullmatch(name) or not name.rsplit(".", 1)[0].strip("*"):
            raise CatalogueError(f"{where}: file_names: {name!r} must be a file name, '*' as wildcard")
    embed = table.get("embed", False)
    if not isinstance(embed, bool):
        raise CatalogueError(f"{where}: embed: expected true or false")
    tag_manager = table.get("tag_manager", False)
    if not isinstance(tag_manager, bool):
        raise CatalogueError(f"{where}: tag_manager: expected true or false")
    tag_ids = _strings(table, "tag_ids", where)
    for prefix in tag_ids:
        if not _TAG_ID_PREFIX.fullmatch(prefix):
            raise CatalogueError(f"{where}: tag_ids: {prefix!r} must be an id prefix such as 'G-' or 'AW-'")
    library_signatures = _strings(table, "library_signatures", where)
    for signature in library_signatures:
        _check_signature(signature, f"{where}: library_signatures")

    return Vendor(
        id=vendor_id,
        name=_text(table, "name", where),
        category=category,
        hosts=hosts,
        cookies=cookies,
        cookie_lifetimes=MappingProxyType(dict(lifetimes)),
        signatures=signatures,
        file_names=file_names,
        privacy_url=_text(table, "privacy_url", where, default=""),
        embed=embed,
        csp=_csp(table, hosts, category, where),
        description=_text(table, "description", where, default=""),
        tag_ids=tag_ids,
        tag_manager=tag_manager,
        library_signatures=library_signatures,
    )


def _check_signature(signature: str, where: str) -> None:
    try:
        compiled = re.compile(signature)
    except re.error as error:
        raise CatalogueError(f"{where}: {signature!r} does not compile: {error}") from None
    # A signature only answers "is it there?"; a capturing group hints at a regex
    # copied from elsewhere and makes every match slower for nothing.
    if compiled.groups:
        raise CatalogueError(f"{where}: {signature!r} has a capturing group; use (?:...)")
    if compiled.search(""):
        raise CatalogueError(f"{where}: {signature!r} matches the empty string")
    if len(required_literal(signature)) < MIN_LITERAL:
        raise CatalogueError(
            f"{where}: {signature!r} needs a literal of at least {MIN_LITERAL} characters "
            "outside groups and alternatives, so that scripts can be prefiltered quickly"
        )


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(sorted(choices))}"


def _text(table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise CatalogueError(f"{where}: {key}: expected a non-empty string")
    return value


def _strings(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise CatalogueError(f"{where}: {key}: expected a list of non-empty strings")
    if len(set(value)) != len(value):
        raise CatalogueError(f"{where}: {key}: lists an entry twice")
    return tuple(value)


def _host_entry(entry: str, where: str) -> str:
    if "://" in entry or entry.startswith("//"):
        raise CatalogueError(f"{where}: hosts: {entry!r} must not have a scheme; write it as {entry.split('//', 1)[1]!r}")
    if not _HOST_ENTRY.fullmatch(entry):
        raise CatalogueError(f"{where}: hosts: {entry!r} is not a lowercase host with an optional /path prefix")
    return entry


def _csp(table: Mapping[str, Any], hosts: tuple[str, ...], category: str, where: str) -> Mapping[str, tuple[str, ...]]:
    raw = table.get("csp")
    if raw is None:
        return MappingProxyType(_derived_csp(hosts, category))
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where}: csp: expected a table of directive = [sources]")
    csp: dict[str, tuple[str, ...]] = {}
    for directive, sources in raw.items():
        if directive not in CSP_DIRECTIVES:
            raise CatalogueError(f"{where}: csp: {directive!r} is not a fetch directive we emit ({', '.join(sorted(CSP_DIRECTIVES))})")
        if not isinstance(sources, list) or not all(isinstance(s, str) and s.startswith(("https://", "wss://")) for s in sources):
            raise CatalogueError(f"{where}: csp.{directive}: expected a list of https:// (or wss://) sources")
        csp[directive] = tuple(sources)
    return MappingProxyType(csp)


def _derived_csp(hosts: tuple[str, ...], category: str) -> dict[str, tuple[str, ...]]:
    """Without an explicit ``csp`` table, allow the vendor's hosts for every way a tracker loads.

    A host entry matches its subdomains, so each becomes ``https://host`` and
    ``https://*.host``; path prefixes are kept (CSP matches paths by prefix too).
    Necessary vendors are mostly CDNs, which serve style sheets and fonts as well.
    """
    sources: list[str] = []
    for entry in hosts:
        host, slash, path = entry.partition("/")
        if "*" in path:
            path = path.split("*", 1)[0]
        suffix = f"/{path}" if slash and path else ""
        sources += [f"https://{host}{suffix}", f"https://*.{host}{suffix}"]
    unique = tuple(dict.fromkeys(sources))
    if not unique:
        return {}
    directives = ["script-src", "connect-src", "img-src", "frame-src"]
    if category == "necessary":
        directives += ["style-src", "font-src"]
    return dict.fromkeys(directives, unique)


def strictest_category(categories: Iterable[str]) -> str | None:
    """The most restrictive of `categories` (a site's own categories rank above marketing)."""
    rank = {name: index for index, name in enumerate(CATEGORIES)}
    best: str | None = None
    for name in categories:
        if best is None or rank.get(name, len(CATEGORIES)) > rank.get(best, len(CATEGORIES)):
            best = name
    return best


class TagManagerSite(Protocol):
    """What `tag_manager_category` reads of a site (the policy's ``SitePolicy`` has it)."""

    @property
    def tag_manager_loads(self) -> Sequence[str]: ...


def tag_manager_category(site: TagManagerSite) -> str:
    """A tag manager's category on `site`: the strictest of what its containers load.

    ``tag_manager_loads`` in the site policy lists the categories of the tags the site's
    containers load (marketing unless the site says less).
    """
    loads = site.tag_manager_loads or ("marketing",)
    return strictest_category(loads) or "marketing"
