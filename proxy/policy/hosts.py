"""Host names as sites name them, and Caddy-style matching of a request's Host header to a site.

``parse_host_pattern`` validates and normalises what a config writes
(``shop.example``, ``*.news.example``, ``bücher.example:8443``, ``[::1]:8080``);
``HostTable`` answers which site serves a Host header: the exact host (with the
port first, when a site names one), then the most specific wildcard (``*``
stands for exactly one label, wildcards only on the left), then the ``default``
site. Matching ignores case and a trailing dot, and compares IDNA (punycode)
forms, so ``bücher.example`` and ``xn--bcher-kva.example`` are one host.
Standard library only: must not depend on pydantic, aiohttp, mitmproxy, jwt or
``proxy.html``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["HostPattern", "HostTable", "parse_host_header", "parse_host_pattern"]

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


@dataclass(frozen=True, slots=True)
class HostPattern:
    """A normalised host: ``labels`` (punycode, lower case; leading ``*`` labels are wildcards) and a port or None."""

    labels: tuple[str, ...]
    port: int | None

    @property
    def wildcards(self) -> int:
        return sum(1 for label in self.labels if label == "*")

    @property
    def host(self) -> str:
        return ".".join(self.labels)

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


def _split_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("an IPv6 address needs a closing ]")
        host, rest = text[1:end], text[end + 1 :]
        ipaddress.IPv6Address(host)  # raises ValueError with a clear message
        host = f"[{ipaddress.IPv6Address(host).compressed}]"
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after the IPv6 address")
        return host, _port(rest[1:])
    if text.count(":") > 1:
        raise ValueError("an IPv6 address must be written in brackets, e.g. [::1]:8080")
    if ":" in text:
        host, port = text.split(":")
        return host, _port(port)
    return text, None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{text!r} is not a port (1-65535)")
    return int(text)


def _normalise_name(name: str, allow_wildcards: bool) -> tuple[str, ...]:
    if name.startswith("["):
        return (name,)
    name = name.lower().removesuffix(".")
    if not name:
        raise ValueError("the host is empty")
    labels = name.split(".")
    out: list[str] = []
    for position, label in enumerate(labels):
        if label == "*":
            if not allow_wildcards:
                raise ValueError("a wildcard is not allowed here")
            if any(previous != "*" for previous in out):
                raise ValueError("wildcards (*) may only be the leftmost labels, e.g. *.example.com")
            if position == len(labels) - 1:
                raise ValueError("a host cannot be only wildcards; use the default site to catch every host")
            out.append(label)
            continue
        if not label.isascii():
            try:
                label = label.encode("idna").decode("ascii")
            except UnicodeError as error:
                raise ValueError(f"{label!r} is not a valid international host label ({error})") from None
        if not _LABEL.fullmatch(label):
            raise ValueError(f"{label!r} is not a valid host label (letters, digits and hyphens, at most 63)")
        out.append(label)
    return tuple(out)


def parse_host_pattern(text: str) -> HostPattern:
    """A site key or alias as a pattern; raises ValueError saying what is wrong."""
    host, port = _split_port(text.strip())
    return HostPattern(_normalise_name(host, allow_wildcards=True), port)


def parse_host_header(text: str) -> HostPattern:
    """A request's Host header (or a bare host name); raises ValueError for anything malformed."""
    host, port = _split_port(text.strip())
    return HostPattern(_normalise_name(host, allow_wildcards=False), port)


class HostTable:
    """Which site id serves a Host header, decided the way Caddy decides it."""

    def __init__(self, entries: Iterable[tuple[HostPattern, str]], default_site: str | None) -> None:
        self._exact: dict[tuple[str, int | None], str] = {}
        wildcards: list[tuple[HostPattern, str]] = []
        for pattern, site_id in entries:
            if pattern.wildcards:
                wildcards.append((pattern, site_id))
            else:
                self._exact[(pattern.host, pattern.port)] = site_id
        # Most literal labels first; at equal specificity a pattern naming the port wins.
        wildcards.sort(key=lambda item: (-(len(item[0].labels) - item[0].wildcards), item[0].port is None))
        self._wildcards = wildcards
        self._default = default_site

    def lookup(self, host_header: str) -> str | None:
        """The site id for ``host_header``, the default site's for unknown or malformed hosts, or None."""
        try:
            request = parse_host_header(host_header)
        except ValueError:
            return self._default
        host = request.host
        if request.port is not None and (host, request.port) in self._exact:
            return self._exact[(host, request.port)]
        if (host, None) in self._exact:
            return self._exact[(host, None)]
        for pattern, site_id in self._wildcards:
            if pattern.port is not None and pattern.port != request.port:
                continue
            if len(pattern.labels) != len(request.labels):
                continue
            if all(p == "*" or p == label for p, label in zip(pattern.labels, request.labels, strict=True)):
                return site_id
        return self._default
