"""Take URLs apart the way the catalogue needs them: host and path, nothing else.

Hosts are normalised as a browser would before it connects (lowercase, IDNA,
no trailing dot, no port, no user info) so that look-alike spellings of a
tracker's host still match it; URLs that do not fetch anything from a host
(``data:``, ``blob:``, ``javascript:``, ``about:``) have no host. Also decides
first party: same registrable domain by the Public Suffix List. Standard library only: no aiohttp, mitmproxy, jwt or
pydantic here.
"""

import functools
import re
from typing import Any
from urllib.parse import unquote

# Schemes whose URLs never reach a network host.
_HOSTLESS_SCHEMES = frozenset({"data", "blob", "javascript", "about", "mailto", "tel", "vbscript", "filesystem"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# Browsers strip leading/trailing C0 controls and spaces and drop tabs/newlines anywhere.
_STRIP = "".join(chr(c) for c in range(0x21))
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_AUTHORITY_END = re.compile(r"[/?#]")
_QUERY_START = re.compile(r"[?#]")
_IPV4 = re.compile(r"[0-9.]+")

def normalise_host(host: str) -> str:
    """Lowercase, drop the port, user info and trailing dot, and IDNA-encode `host`."""
    host = host.rpartition("@")[2]
    if host.startswith("["):  # IPv6 literal: keep as is, without the port
        return host.split("]", 1)[0].lower() + "]"
    if "%" in host:  # browsers percent-decode hosts: www.google%2Danalytics.com is Google Analytics
        host = unquote(host)
    host = host.split(":", 1)[0].strip().rstrip(".").lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return host
    return host


def split_url(url: str) -> tuple[str, str] | None:
    """Return ``(host, path)`` of an absolute or protocol-relative URL, ``("", path)`` of a relative one.

    The path has no query or fragment. URLs that fetch nothing from a host
    (``data:``, ``javascript:`` ...) give None.
    """
    url = url.strip(_STRIP)
    if "\t" in url or "\n" in url or "\r" in url:
        url = _TAB_NEWLINE.sub("", url)
    scheme_match = _SCHEME.match(url)
    if scheme_match:
        scheme = scheme_match.group(1).lower()
        if scheme in _HOSTLESS_SCHEMES:
            return None
        rest = url[scheme_match.end() :]
        # Special schemes treat backslashes as slashes and tolerate any number of them.
        if scheme in ("http", "https", "ws", "wss", "ftp"):
            rest = rest.replace("\\", "/")
            if not rest.startswith("/"):
                # "http:example.com" is relative for browsers only in edge cases; read it as a host.
                rest = "//" + rest
            rest = "//" + rest.lstrip("/")
        elif not rest.startswith("//"):
            return None
    else:
        rest = url.replace("\\", "/")
    if rest.startswith("//"):
        end = _AUTHORITY_END.search(rest, 2)
        authority_end = end.start() if end else len(rest)
        host = normalise_host(rest[2:authority_end])
        path = rest[authority_end:]
    else:
        host, path = "", rest
    query = _QUERY_START.search(path)
    if query:
        path = path[: query.start()]
    return host, path or "/"


def host_suffixes(host: str) -> list[str]:
    """``a.b.example.com`` -> ``[a.b.example.com, b.example.com, example.com, com]``."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def last_segment(path: str) -> str:
    """The file name a path ends with (``/js/piwik.js`` -> ``piwik.js``), lowercased."""
    return path.rsplit("/", 1)[-1].lower()


@functools.lru_cache(maxsize=8192)
def site_of(host: str) -> str:
    """The host's registrable domain (eTLD+1) by the Public Suffix List, else the host itself.

    ``www.example.com`` -> ``example.com``; ``shop.example.co.uk`` -> ``example.co.uk``;
    ``a.github.io`` -> ``a.github.io`` (github.io is a public suffix of the list's private
    section: its subdomains belong to different owners); IP literals and single labels
    stay as they are. The list is the snapshot bundled with the ``publicsuffixlist``
    package: nothing is fetched at run time.
    """
    if not host or host.startswith("[") or _IPV4.fullmatch(host):
        return host
    return _public_suffix_list().privatesuffix(host) or host


MAX_SUFFIXES_BELOW = 16
"""The most public suffixes below a registrable domain `first_party_scope` hands out."""


@functools.lru_cache(maxsize=1024)
def first_party_scope(host: str) -> tuple[str, tuple[str, ...]]:
    """What a browser-side check needs to decide first party exactly as `site_of` does.

    Returns ``(domain, below)``: ``host``'s registrable domain by the Public Suffix List,
    and the public suffixes the list has *below* that domain (``s3.amazonaws.com`` below
    ``amazonaws.com``; almost always none). Another host is first party when it is
    ``domain``, or ends with ``"." + domain`` and is neither one of ``below`` nor under
    one. Only the host itself is first party (``below`` is ``(host,)``) for IP literals,
    single labels, a host that is itself a public suffix, and a domain with more than
    `MAX_SUFFIXES_BELOW` suffixes below it (fails closed, and keeps the page light).
    """
    host = normalise_host(host)
    exact = (host, (host,))
    if not host or host.startswith("[") or _IPV4.fullmatch(host) or "." not in host:
        return exact
    domain = _public_suffix_list().privatesuffix(host)
    if not domain:
        return exact
    below = _suffixes_below().get(domain, ())
    return exact if len(below) > MAX_SUFFIXES_BELOW else (domain, below)


@functools.cache
def _suffixes_below() -> dict[str, tuple[str, ...]]:
    """Every domain the Public Suffix List has suffixes under, with those suffixes (built once)."""
    found: dict[str, set[str]] = {}
    for rule in _public_suffix_list()._publicsuffix:
        if rule.startswith("!"):
            continue  # an exception is registrable under its wildcard, itself below the domain
        suffix = rule.removeprefix("*.")
        labels = suffix.split(".")
        for start in range(1, len(labels) - 1):
            found.setdefault(".".join(labels[start:]), set()).add(suffix)
    return {domain: tuple(sorted(suffixes)) for domain, suffixes in found.items()}


@functools.cache
def _public_suffix_list() -> Any:
    from publicsuffixlist import PublicSuffixList

    # accept_unknown: a TLD the snapshot does not know yet still has a registrable domain.
    return PublicSuffixList(accept_unknown=True)


def is_first_party(url: str, page_host: str) -> bool:
    """True when `url` is served by the page's own site: the same host or registrable domain (PSL).

    URLs without a host (relative, ``data:``, ``javascript:``) are first party.
    """
    parts = split_url(url)
    if parts is None or not parts[0]:
        return True
    host = parts[0]
    page = normalise_host(page_host)
    if not page or host == page:
        return True
    return site_of(host) == site_of(page)
