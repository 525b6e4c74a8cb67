"""Header rules a correct reverse proxy applies, as pure functions over header values.

Hop-by-hop removal (RFC 9110 7.6.1, including the fields a ``Connection`` header names),
who the client is and how it connected (``X-Forwarded-*`` and RFC 7239 ``Forwarded``,
believed only from configured trusted proxies), nginx ``proxy_redirect``-style rewriting
of ``Location`` / ``Content-Location`` / ``Refresh`` / ``Set-Cookie; Domain``, the
consent-specific ``ETag`` and its translation back for ``If-None-Match``, and ``Vary``
merging. Knows no aiohttp (only ``multidict``, aiohttp's header container) and no
consent or policy types, so every rule is tested without a socket.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from multidict import CIMultiDict, MultiMapping

# Response rules live in the sans-io response layer (shared with the mitmproxy addon).
from proxy.response.headers import (  # re-exported for the server's modules
    consent_etag as consent_etag,
    csp_has_nonce as csp_has_nonce,
    csp_nonce as csp_nonce,
    filter_accept_encoding as filter_accept_encoding,
    merge_vary as merge_vary,
    set_cookie_name as set_cookie_name,
    upstream_if_none_match as upstream_if_none_match,
)

# RFC 9110 7.6.1 plus the legacy names that still turn up (Keep-Alive, Proxy-Connection);
# Proxy-Authorization/-Authenticate are for this proxy, never for the next hop.
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
        "upgrade", "proxy-authorization", "proxy-authenticate",
    }
)
FORWARDING = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "x-real-ip")
# Fields through which a client claims to be someone else or to have asked for another
# URL (frameworks and CDNs read them: Rails/Django/Spring, IIS URL Rewrite, Cloudflare,
# Akamai, Fastly). From an untrusted peer every one is dropped, whatever its spelling;
# any ``X-Forwarded-*`` / ``X-Original-*`` name counts, not only the ones listed.
_CLAIMS = frozenset({
    "x-real-ip", "true-client-ip", "cf-connecting-ip", "cf-connecting-ipv6", "cf-visitor", "cf-ipcountry",
    "fastly-client-ip", "x-client-ip", "x-cluster-client-ip", "x-proxyuser-ip", "x-originating-ip",
    "x-remote-ip", "x-remote-addr", "client-ip", "x-host", "x-http-host-override", "x-rewrite-url",
    "x-url-scheme", "x-scheme", "front-end-https", "x-https", "x-arr-ssl", "x-arr-log-id", "x-client-cert",
    "x-ssl-client-cert", "ssl-client-cert", "x-http-method-override", "x-http-method", "x-method-override",
    "via", "x-envoy-external-address", "x-envoy-original-path", "forwarded-for", "forwarded-proto",
    # Hosting platforms, CDNs and application servers that name the visitor for the app.
    "x-forwarded", "akamai-client-ip", "wl-proxy-client-ip", "proxy-client-ip", "x-azure-clientip",
    "x-azure-socketip", "x-appengine-user-ip", "fly-client-ip", "do-connecting-ip", "x-nf-client-connection-ip",
    "x-sucuri-clientip", "incap-client-ip", "x-bluecoat-via", "x-coming-from", "x-real-port", "x-client-port",
})
_CLAIM_PREFIXES = ("x-forwarded-", "x-original-", "x-envoy-", "x-vercel-")


def is_forwarding_claim(name: str) -> bool:
    """A request field that asserts client identity, scheme, host, port, prefix or URL."""
    lower = name.lower()
    return lower in _CLAIMS or lower == "forwarded" or lower.startswith(_CLAIM_PREFIXES)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def without_hop_by_hop(headers: MultiMapping[str], also: frozenset[str] = frozenset()) -> CIMultiDict[str]:
    """A copy without hop-by-hop fields (and the lower-case names in ``also``), in one pass."""
    drop = HOP_BY_HOP | also
    if "Connection" in headers:
        drop = drop | {
            token.strip().lower()
            for value in headers.getall("Connection", [])
            for token in value.split(",")
        }
    return CIMultiDict([(name, value) for name, value in headers.items() if name.lower() not in drop])


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def is_trusted(ip: str | None, networks: tuple[Network, ...]) -> bool:
    if not ip or not networks:
        return False
    try:
        address = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return False
    return any(address in net for net in networks)


@dataclass(frozen=True, slots=True)
class ClientView:
    """The visitor as the proxy may believe it: address, scheme and host they used."""

    ip: str
    proto: str           # "http" or "https"
    host: str            # public Host, with port if any
    via_trusted: bool    # the TCP peer is a trusted proxy (its forwarding headers are kept)


def client_view(peer: str | None, headers: MultiMapping[str], scheme: str, host: str,
                trusted: tuple[Network, ...]) -> ClientView:
    """Who the visitor is; forwarding headers count only when the TCP peer is trusted."""
    peer = peer or ""
    get = headers.get
    if not is_trusted(peer, trusted):
        return ClientView(peer, scheme, host, False)
    ip = peer
    chain = [part.strip() for value in headers.getall("X-Forwarded-For", []) for part in value.split(",")]
    # Walk right to left: the first address not in a trusted network is the visitor.
    for candidate in reversed([c for c in chain if c]):
        ip = candidate
        if not is_trusted(candidate, trusted):
            break
    proto = (get("X-Forwarded-Proto") or scheme).split(",")[0].strip().lower()
    if proto not in ("http", "https"):
        proto = scheme
    forwarded_host = (get("X-Forwarded-Host") or "").split(",")[0].strip()
    return ClientView(ip, proto, forwarded_host or host, True)


def _forwarded_node(ip: str) -> str:
    if ":" in ip:   # IPv6 must be quoted and bracketed (RFC 7239 6)
        return f'"[{ip}]"'
    return ip


def set_forwarding(out: CIMultiDict[str], incoming: MultiMapping[str], peer: str | None,
                   view: ClientView) -> None:
    """Replace the forwarding headers of an upstream request (appending when trusted)."""
    peer = peer or "unknown"
    previous_xff = ", ".join(incoming.getall("X-Forwarded-For", [])) if view.via_trusted else ""
    previous_fwd = ", ".join(incoming.getall("Forwarded", [])) if view.via_trusted else ""
    if not view.via_trusted:
        for name in [name for name in out if is_forwarding_claim(name)]:
            out.popall(name, None)
    out.popall("X-Real-IP", None)
    # Item assignment replaces every earlier value of the field.
    out["X-Forwarded-For"] = f"{previous_xff}, {peer}" if previous_xff else peer
    out["X-Forwarded-Proto"] = view.proto
    out["X-Forwarded-Host"] = view.host
    element = f"for={_forwarded_node(peer)};host={quote_forwarded(view.host)};proto={view.proto}"
    out["Forwarded"] = f"{previous_fwd}, {element}" if previous_fwd else element


def quote_forwarded(value: str) -> str:
    """A Forwarded parameter value as a quoted-string (RFC 7239 4), valid for any value.

    A Host such as ``a";for=1.2.3.4`` must stay one value, not become a forged element:
    quotes and backslashes are escaped, control characters dropped.
    """
    escaped = "".join("\\" + c if c in '"\\' else c for c in value if c >= " " and c != "\x7f")
    return f'"{escaped}"'


# -- the upstream path -------------------------------------------------------------------

_SEPARATORS = re.compile(r"[/\\]")


@functools.lru_cache(maxsize=4096)
def upstream_path(prefix: str, raw_path: str) -> str | None:
    """The path to request upstream: ``raw_path`` with dot segments resolved, under ``prefix``.

    Dot segments are resolved as a browser resolves them (``.``, ``..``, ``%2e``, ``%2E%2e``:
    URL standard "single/double-dot segment"), clamped at the root, so ``/../x`` cannot
    leave ``prefix``. A segment that hides a separator next to dots once decoded
    (``..%2f``, ``%2e%2e%5c``, ``..\\``) has no browser meaning but many back ends decode
    it before routing: None (the caller answers 400).
    """
    if not raw_path.startswith("/"):
        raw_path = "/" + raw_path
    out: list[str] = []
    segments = raw_path[1:].split("/")
    for index, segment in enumerate(segments):
        decoded = _decode_dots(segment)
        last = index == len(segments) - 1
        if decoded == ".":
            if last:
                out.append("")
            continue
        if decoded == "..":
            if out:
                out.pop()
            if last:
                out.append("")
            continue
        if ("\\" in segment or "%" in segment or ";" in segment) and _hides_dots(segment):
            return None
        out.append(segment)
    return prefix + "/" + "/".join(out)


def _hides_dots(segment: str) -> bool:
    """Dots a back end could still see: behind a separator, a ``;param`` (Tomcat's
    ``..;/``) or a second round of percent-decoding (``%252e%252e``)."""
    deep = urllib.parse.unquote(urllib.parse.unquote(segment))
    parts = [part.split(";", 1)[0] for part in _SEPARATORS.split(deep)]
    return any(part in (".", "..") for part in parts)


def _decode_dots(segment: str) -> str:
    if "%" not in segment:
        return segment
    return segment.replace("%2e", ".").replace("%2E", ".")


# -- proxy_redirect ------------------------------------------------------------------


def rewrite_url(value: str, upstream_origin: str, public_origin: str) -> str:
    """Rewrite an absolute URL on the upstream's origin to the public origin (case-insensitive)."""
    if value[: len(upstream_origin)].lower() == upstream_origin.lower():
        rest = value[len(upstream_origin):]
        if not rest or rest[0] in "/?#":
            return public_origin + rest
    return value


_REFRESH_URL = re.compile(r"(?i)(;\s*url\s*=\s*['\"]?)([^'\"]*)")


def rewrite_refresh(value: str, upstream_origin: str, public_origin: str) -> str:
    return _REFRESH_URL.sub(lambda m: m.group(1) + rewrite_url(m.group(2), upstream_origin, public_origin), value, count=1)


_DOMAIN_ATTR = re.compile(r"(?i)(;\s*domain\s*=\s*)\.?([^;\s]+)")


def rewrite_cookie_domain(value: str, upstream_host: str, public_host: str) -> str:
    """``Domain=<upstream host>`` becomes the public host (nginx ``proxy_cookie_domain``)."""
    def replace(match: re.Match[str]) -> str:
        if match.group(2).lower() == upstream_host.lower():
            return match.group(1) + public_host
        return match.group(0)
    return _DOMAIN_ATTR.sub(replace, value)


def filter_cookie_header(value: str, refused: Callable[[str], bool]) -> str | None:
    """The ``Cookie`` header without the pairs whose name ``refused`` rejects (None if empty)."""
    kept = [pair for pair in value.split(";") if pair.strip() and not refused(pair.split("=", 1)[0].strip())]
    return ";".join(kept).strip() or None
