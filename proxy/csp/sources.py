"""Fewer host-sources that say the same: response headers have size limits along the way.

Standard library only: must not import aiohttp, mitmproxy, jwt, pydantic or ``proxy.html``.
"""

from __future__ import annotations

def compact(sources: list[str], refused: list[str], *, keep: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Host-sources in order, without duplicates, and as few as say the same.

    ``https://`` is dropped (a scheme-less source matches the page's own scheme, and
    https from an http page). Three or more sources under one registrable domain
    become ``domain *.domain``, but only when no refused host lives under that domain
    (google.com serves reCAPTCHA and ads alike). Hosts a wildcard covers go.
    """
    unique = list(dict.fromkeys(s.removeprefix("https://") for s in sources))
    refused_domains = {registrable(host) for host in refused}
    by_domain: dict[str, set[str]] = {}
    for source in unique:
        by_domain.setdefault(registrable(_bare_host(source)), set()).add(source)
    widened = {domain for domain, members in by_domain.items() if len(members) > 2 and domain not in refused_domains}
    out: list[str] = []
    for source in unique:
        domain = registrable(_bare_host(source))
        out.extend([domain, f"*.{domain}"] if domain in widened else [source])
    # The catalogue lists every host with its subdomains (``x`` and ``*.x``); below a
    # registrable domain (cdn.shopify.com, ajax.googleapis.com) sub-subdomains are not
    # how vendors serve, and the twin doubles the header for nothing.
    present = set(out)
    out = [
        s for s in dict.fromkeys(out)
        if s in keep or not (s.startswith("*.") and s[2:] in present and s[2:] != registrable(s[2:]))
    ]
    wildcards = {s[1:] for s in out if s.startswith("*.") and "/" not in s}  # ".example.com"
    return [s for s in out if not any(_host_part(s).endswith(w) and s != "*" + w for w in wildcards)]


def _host_part(source: str) -> str:
    return source.split("/", 1)[0]


def _bare_host(source: str) -> str:
    return _host_part(source).removeprefix("*.").split(":", 1)[0]


def registrable(host: str) -> str:
    """The host's registrable domain by the Public Suffix List (the engine's notion of one site)."""
    from proxy.catalogue.urls import site_of

    return site_of(host)
