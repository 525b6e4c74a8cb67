"""Precompiled lookup structures behind `Catalogue`: hosts, file names, signatures, cookies.

Each index is built once from the vendor list and answers one question fast,
because the engine asks it for every script, image and frame on every page:
`HostIndex` walks a host's labels from the right through a dict (cached per
host), `SignatureIndex` runs one combined regex over an inline script,
`FileNameIndex` and `CookieIndex` are a dict plus one regex for wildcards.
Standard library only: no aiohttp, mitmproxy, jwt or pydantic here.
"""

import functools
import re
from collections.abc import Iterable, Iterator
from urllib.parse import unquote

from proxy.catalogue.literals import required_literal
from proxy.catalogue.urls import host_suffixes
from proxy.catalogue.vendor import CATEGORIES, CatalogueError, Vendor

MAX_HOST_LENGTH = 253
SCAN_MATCH_BUDGET = 256  # literal matches found one by one before the scan switches to substring tests
_RANK = {category: rank for rank, category in enumerate(CATEGORIES)}

# (path segments of the entry, length of the whole entry, vendor); `*` matches one segment.
type HostEntry = tuple[tuple[str, ...], int, Vendor]


def path_segments(path: str) -> list[str]:
    """Lowercased, percent-decoded segments with ``.``/``..``/empty ones resolved as a server would."""
    if "%" in path:
        path = unquote(path)
    segments: list[str] = []
    for raw in path.lower().split("/"):
        if raw in ("", "."):
            continue
        if raw == "..":
            if segments:
                segments.pop()
            continue
        segments.append(raw)
    return segments


class HostIndex:
    """Host (and subdomains) plus optional path prefix -> vendor; the longest entry wins."""

    def __init__(self, vendors: Iterable[Vendor], cache_size: int = 8192) -> None:
        self._by_host: dict[str, list[HostEntry]] = {}
        owners: dict[str, str] = {}
        for vendor in vendors:
            for entry in vendor.hosts:
                if entry in owners:
                    raise CatalogueError(f"hosts: {entry!r} is listed by both {owners[entry]!r} and {vendor.id!r}")
                owners[entry] = vendor.id
                host, _, path = entry.partition("/")
                segments = tuple(s for s in path.lower().split("/") if s)
                self._by_host.setdefault(host, []).append((segments, len(entry), vendor))
        # Cached per host: pages repeat the same few hosts, while paths vary with every URL.
        self.candidates = functools.lru_cache(maxsize=cache_size)(self._candidates)

    def _candidates(self, host: str) -> tuple[HostEntry, ...]:
        found: list[HostEntry] = []
        for suffix in host_suffixes(host):
            found.extend(self._by_host.get(suffix, ()))
        found.sort(key=lambda entry: -entry[1])
        return tuple(found)

    def lookup(self, host: str, path: str) -> Vendor | None:
        if len(host) > MAX_HOST_LENGTH:  # not a resolvable name; and suffix walks must stay short
            return None
        candidates = self.candidates(host)
        if not candidates:
            return None
        segments: tuple[str, ...] | None = None
        for prefix, _, vendor in candidates:
            if not prefix:
                return vendor
            if segments is None:
                segments = tuple(path_segments(path))
            if len(segments) < len(prefix):
                continue
            if "*" not in prefix:
                if segments[: len(prefix)] == prefix:
                    return vendor
            elif all(p == "*" or p == s for p, s in zip(prefix, segments, strict=False)):
                return vendor
        return None

    def hosts(self) -> Iterator[str]:
        return iter(self._by_host)


class FileNameIndex:
    """Last path segment (``piwik.js``, ``hotjar-123.js``) -> vendor, for self-hosted copies.

    A copy keeps its library's name under the suffixes that saving or serving adds: a
    browser's "save page" (``gtm.js.Download``, ``fbevents.js.download``), a duplicate
    (``gtm(1).js``), a minified build (``analytics.min.js``), a cache-busting hash or
    version (``fbevents.3f9a8c1d.js``, ``piwik-4.15.js`` is not stripped: versions after a
    dash are part of many names) and compressed variants (``.gz``, ``.br``). `stems` lists
    the names one file name may stand for, most literal first.
    """

    def __init__(self, vendors: Iterable[Vendor]) -> None:
        self._exact: dict[str, Vendor] = {}
        patterns: list[str] = []
        self._group_vendor: dict[str, Vendor] = {}
        for vendor in vendors:
            for name in vendor.file_names:
                name = name.lower()
                if "*" not in name:
                    self._exact.setdefault(name, vendor)
                    continue
                group = f"f{len(patterns)}"
                patterns.append(f"(?P<{group}>{'.*'.join(map(re.escape, name.split('*')))})")
                self._group_vendor[group] = vendor
        self._globs = re.compile("|".join(patterns)) if patterns else None

    def lookup(self, file_name: str) -> Vendor | None:
        file_name = unquote(file_name).lower()
        for name in stems(file_name):
            vendor = self._exact.get(name)
            if vendor is not None:
                return vendor
            if self._globs is not None:
                match = self._globs.fullmatch(name)
                if match and match.lastgroup:
                    return self._group_vendor[match.lastgroup]
        return None


# What "save page as", download managers and servers append to a file's own name.
_SAVE_SUFFIX = re.compile(r"\.(?:download|downloaded|crdownload|part|partial|tmp|bak|orig|old|save|txt|gz|br|map)$")
_COPY_NUMBER = re.compile(r"(?:\s*\(\d{1,3}\)|\s+copy|_copy|-copy)(?=\.[a-z0-9]+$|$)")
_MIN = re.compile(r"[.-]min(?=\.js$|\.mjs$)")
_HASH = re.compile(r"\.(?:[0-9a-f]{6,40}|v?\d+(?:\.\d+){0,3})(?=\.m?js$)")


def stems(file_name: str) -> list[str]:
    """The library names a (lowercased) file name may stand for: itself first, then without
    save suffixes, copy numbers, ``.min`` and a hash/version segment before ``.js``."""
    names = [file_name]
    name = file_name
    for _ in range(3):  # "gtm.js.download.txt": a few suffixes at most
        stripped = _SAVE_SUFFIX.sub("", name)
        if stripped == name or not stripped:
            break
        name = stripped
    name = _COPY_NUMBER.sub("", name)
    if name != file_name:
        names.append(name)
    for pattern in (_MIN, _HASH):
        shorter = pattern.sub("", name)
        if shorter != name and shorter.rsplit(".", 1)[0]:
            name = shorter
            names.append(name)
    return names


class TagIdIndex:
    """Tag id prefix (``G-``, ``AW-``, ``GTM-``) -> vendor, for shared loaders and gtag() calls."""

    def __init__(self, vendors: Iterable[Vendor]) -> None:
        self._by_prefix: dict[str, Vendor] = {}
        for vendor in vendors:
            for prefix in vendor.tag_ids:
                self._by_prefix.setdefault(prefix.upper(), vendor)
        prefixes = sorted(self._by_prefix, key=len, reverse=True)
        body = "|".join(re.escape(p) for p in prefixes)
        # An id a gtag() call configures or sends to (not any id-like string: GA4 configs
        # name an Optimize container as optimize_id: 'GTM-...', which loads no tags).
        self._ids = (
            re.compile(
                rf"""(?:\bgtag\(\s*['"](?:config|event)['"]\s*,\s*|\bsend_to['"]?\s*:\s*\[?\s*)['"]"""
                rf"((?:{body})[A-Za-z0-9]{{4,}})"
            )
            if prefixes
            else None
        )
        self._prefixes = tuple(prefixes)

    def for_id(self, tag_id: str) -> Vendor | None:
        tag_id = tag_id.strip().upper()
        for prefix in self._prefixes:
            if tag_id.startswith(prefix):
                return self._by_prefix[prefix]
        return None

    def for_url(self, url: str) -> Vendor | None:
        """The vendor of a loader URL's ``id`` query parameter (``gtag/js?id=AW-123``)."""
        query = url.partition("?")[2].partition("#")[0]
        if not query:
            return None
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            if key == "id" and value:
                return self.for_id(unquote(value))
        return None

    def in_text(self, text: str) -> list[Vendor]:
        """Vendors of every tag id a script names, in order of first appearance."""
        if self._ids is None:
            return []
        found: dict[str, Vendor] = {}
        for match in self._ids.finditer(text):
            vendor = self.for_id(match.group(1))
            if vendor is not None:
                found.setdefault(vendor.id, vendor)
        return list(found.values())


LIBRARY_PREFIX = 64 * 1024
"""How much of a JavaScript body is searched for library signatures (they sit near the top)."""


class LibraryIndex:
    """Vendor libraries recognised by their content (a self-hosted copy under any name)."""

    def __init__(self, vendors: Iterable[Vendor]) -> None:
        self._checks = [(re.compile(signature), vendor) for vendor in vendors for signature in vendor.library_signatures]
        literals = {required_literal(signature) for vendor in vendors for signature in vendor.library_signatures}
        self._literals = tuple(sorted(literals))

    def lookup(self, body: str) -> Vendor | None:
        body = body[:LIBRARY_PREFIX]
        if not any(literal in body for literal in self._literals):
            return None
        found = [vendor for regex, vendor in self._checks if regex.search(body)]
        return most_restrictive(found)


class SignatureIndex:
    """All inline-script signatures; reports the vendors whose snippet a text contains.

    Python's regex engine tries every branch of an alternation at every offset,
    so one regex joining ~200 signatures costs seconds on a megabyte of script.
    Instead each signature carries a literal it cannot match without
    (``_gaq.push(`` for ``_gaq\\.push\\(``); only signatures whose literal occurs
    run as regexes. The literals themselves are found in one pass by a regex
    shaped as a trie (one branch per distinct next character, so a failing
    offset costs a few comparisons); where many offsets match, the scan falls
    back to one substring test per literal so its cost stays bounded.
    """

    def __init__(self, vendors: Iterable[Vendor]) -> None:
        # Each signature is compiled when a script first holds its literal: most never
        # show up in a given deployment, and compiling them all cost start-up time.
        self._checks: list[tuple[str, str, Vendor]] = []
        self._compiled: dict[int, re.Pattern[str]] = {}
        for vendor in vendors:
            for signature in vendor.signatures:
                # vendor_from_table has checked that the literal is long enough to be selective.
                self._checks.append((required_literal(signature), signature, vendor))
        checks_by_literal: dict[str, list[int]] = {}
        for position, (literal, _, _) in enumerate(self._checks):
            checks_by_literal.setdefault(literal, []).append(position)
        self._checks_by_literal = {literal: tuple(found) for literal, found in checks_by_literal.items()}
        # The trie regex reports the longest literal at an offset; every literal that is a
        # prefix of it occurs there too, so each literal maps to the checks of all its prefixes.
        # Found through the literal's own prefixes (a dict lookup each), not by testing every
        # literal against every other: linear in the literals, so a bigger catalogue starts fast.
        by_literal = self._checks_by_literal
        self._implied: dict[str, tuple[int, ...]] = {
            literal: tuple(
                position
                for end in range(len(literal) + 1)
                if literal[:end] in by_literal
                for position in by_literal[literal[:end]]
            )
            for literal in by_literal
        }
        self._always = self._checks_by_literal.get("", ())  # no known literal: always run
        self._scan: re.Pattern[str] | None = None   # compiled on first use (start-up cost)
        self._scan_built = False

    @property
    def _literal_scan(self) -> re.Pattern[str] | None:
        if not self._scan_built:
            literals = [literal for literal in self._checks_by_literal if literal]
            self._scan = re.compile(_trie_pattern(literals)) if literals else None
            self._scan_built = True
        return self._scan

    def _candidates(self, text: str) -> list[int]:
        """Positions in `_checks` of every signature whose required literal occurs in `text`."""
        candidates = set(self._always)
        scan = self._literal_scan
        if scan is None:
            return sorted(candidates)
        seen: set[str] = set()
        match = scan.search(text)
        budget = SCAN_MATCH_BUDGET
        while match is not None:
            literal = match.group()
            if literal not in seen:
                seen.add(literal)
                candidates.update(self._implied[literal])
            budget -= 1
            if budget == 0:
                # Dense matches (a megabyte of `config`): finish with one substring test per literal.
                for literal, positions in self._checks_by_literal.items():
                    if literal and literal not in seen and literal in text:
                        candidates.update(positions)
                break
            match = scan.search(text, match.start() + 1)
        return sorted(candidates)

    def vendors_in(self, text: str) -> list[Vendor]:
        """Vendors whose signature occurs in `text`, in order of first occurrence."""
        first_seen: dict[str, tuple[int, Vendor]] = {}
        for position in self._candidates(text):
            regex = self._compiled.get(position)
            if regex is None:
                regex = self._compiled[position] = compile_signature(self._checks[position][1])
            vendor = self._checks[position][2]
            match = regex.search(text)
            if match is None:
                continue
            seen = first_seen.get(vendor.id)
            if seen is None or match.start() < seen[0]:
                first_seen[vendor.id] = (match.start(), vendor)
        return [vendor for _, vendor in sorted(first_seen.values(), key=lambda item: item[0])]


# `\\b` then a plain word character (not quantified): the boundary can move behind that character.
_LEADING_BOUNDARY = re.compile(r"\\b(?P<char>[A-Za-z0-9_])(?![*+?{])")


def compile_signature(signature: str) -> re.Pattern[str]:
    """Compile a signature; ``\\bga\\(`` becomes the equivalent ``g(?<!\\w\\w)a\\(``.

    A leading ``\\b`` hides the literal start from the regex engine, which then
    tries a match at every offset (10x slower on a long script). Before a word
    character, ``\\b`` means "no word character just before it", which a
    lookbehind after that character says as well (at the start of the text the
    two-character lookbehind cannot match, as ``\\b`` holds there); matches and
    their offsets are unchanged, and the engine can jump to each ``g``.
    """
    boundary = _LEADING_BOUNDARY.match(signature)
    if boundary is not None:
        signature = f"{boundary['char']}(?<!\\w\\w){signature[boundary.end():]}"
    return re.compile(signature)


type _Trie = dict[str, _Trie]


def _trie_pattern(words: Iterable[str]) -> str:
    """A regex matching the longest of `words` that starts at an offset, shaped as a trie."""
    trie: _Trie = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # end of a word

    def emit(node: _Trie) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 and "" not in node else "(?:" + "|".join(branches) + ")"
        # A word ending here: the longer words are tried first (greedy), so the longest match wins.
        return f"(?:{body})?" if "" in node and len(branches) == 1 else body + ("?" if "" in node else "")

    return emit(trie)


class CookieIndex:
    """Cookie name -> vendor; exact names first, then the most specific wildcard pattern."""

    def __init__(self, vendors: Iterable[Vendor]) -> None:
        self._exact: dict[str, Vendor] = {}
        globs: list[tuple[int, int, str, Vendor]] = []
        for vendor in vendors:
            for pattern in vendor.cookies:
                if "*" not in pattern:
                    # The first vendor in the data file that names a cookie keeps it.
                    self._exact.setdefault(pattern, vendor)
                else:
                    globs.append((-len(pattern.replace("*", "")), len(globs), pattern, vendor))
        # Alternatives are tried in order, so the longest literal text (most specific) comes first.
        globs.sort(key=lambda item: (item[0], item[1]))
        self._group_vendor: dict[str, Vendor] = {}
        parts = []
        for index, (_, _, pattern, vendor) in enumerate(globs):
            parts.append(f"(?P<c{index}>{'.*'.join(map(re.escape, pattern.split('*')))})")
            self._group_vendor[f"c{index}"] = vendor
        self._globs = re.compile("|".join(parts)) if parts else None

    def lookup(self, name: str) -> Vendor | None:
        vendor = self._exact.get(name)
        if vendor is not None or self._globs is None:
            return vendor
        match = self._globs.fullmatch(name)
        return self._group_vendor[match.lastgroup] if match and match.lastgroup else None


def most_restrictive(vendors: Iterable[Vendor]) -> Vendor | None:
    """The vendor of the most restrictive category; the earliest one among equals."""
    best: Vendor | None = None
    for vendor in vendors:
        if best is None or _RANK[vendor.category] > _RANK[best.category]:
            best = vendor
    return best
