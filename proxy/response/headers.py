"""Response header rules, as pure functions over header values (shared by server and addon).

The consent variant's ``ETag`` and its translation back for ``If-None-Match``, ``Vary``
merging, the URL a ``Refresh`` header navigates to, ``Set-Cookie`` names, which codings
to ask an upstream for, and the nonces an upstream CSP already uses. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "consent_etag", "csp_has_nonce", "csp_nonce", "filter_accept_encoding", "merge_vary", "refresh_url",
    "set_cookie_name", "upstream_if_none_match",
]


def set_cookie_name(value: str) -> str:
    return value.split("=", 1)[0].strip()


def refresh_url(value: str) -> str | None:
    """The URL a ``Refresh`` header (or ``<meta http-equiv=refresh>`` content) navigates to.

    HTML "shared declarative refresh steps": optional whitespace, digits and dots, then
    ``;`` or ``,`` and optional whitespace, optional ``URL=`` (any case, spaces around ``=``),
    the URL up to the end, unquoted when it starts with a quote. None: a plain reload.
    """
    text = value.lstrip("\t\n\x0c\r ")
    index = 0
    while index < len(text) and text[index] in "0123456789":
        index += 1
    if index == 0 and not text.startswith("."):
        return None
    while index < len(text) and text[index] in "0123456789.":
        index += 1
    rest = text[index:].lstrip("\t\n\x0c\r ")
    if not rest:
        return None
    if rest[0] not in ";,":
        return None
    rest = rest[1:].lstrip("\t\n\x0c\r ")
    match = re.match(r"(?i)url\s*=\s*", rest)
    if match:
        rest = rest[match.end():]
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        end = rest.find(quote, 1)
        rest = rest[1:] if end < 0 else rest[1:end]
    url = rest.strip("\t\n\x0c\r ")
    return url or None


# -- caching ---------------------------------------------------------------------------

_ETAG = re.compile(r'\s*(W/)?"([^"]*)"\s*')
_MARK = re.compile(r"^(.*)\.c([sw])-([0-9a-z]+)$")


def consent_etag(etag: str, suffix: str) -> str:
    """A weak ETag that names the consent variant; the original strength is kept in the mark.

    Weak because the body is a transformation of the upstream's: byte-equal for one
    consent state, but not the upstream's representation (RFC 9110 8.8.3).
    """
    match = _ETAG.fullmatch(etag)
    if match is None:
        return etag
    strength = "w" if match.group(1) else "s"
    return f'W/"{match.group(2)}.c{strength}-{suffix}"'


def upstream_if_none_match(value: str, suffix: str) -> tuple[str | None, bool]:
    """Translate our ETags back to the upstream's; drop those made for another consent state.

    Returns the value to send (None to send no header) and whether any of our ETags
    was translated (then the upstream's 304 ETag must be rewritten back again).
    """
    if value.strip() == "*":
        return value, False
    out: list[str] = []
    translated = False
    for tag in split_etags(value):
        match = _ETAG.fullmatch(tag)
        if match is None:
            continue
        mark = _MARK.match(match.group(2))
        if mark is None:
            out.append(tag.strip())    # not ours: the upstream may know it
            continue
        if mark.group(3) != suffix:
            continue                   # another consent state's copy: must not revalidate
        translated = True
        out.append(f'W/"{mark.group(1)}"' if mark.group(2) == "w" else f'"{mark.group(1)}"')
    return (", ".join(out) or None), translated


def split_etags(value: str) -> list[str]:
    """The entity tags of an ``If-None-Match`` / ``If-Match`` value, weak prefix kept."""
    return re.findall(r'(?:W/)?"[^"]*"', value)


def merge_vary(existing: list[str], names: Iterable[str]) -> str:
    seen: list[str] = []
    for value in [*existing, *names]:
        for token in value.split(","):
            token = token.strip()
            if token and token.lower() not in {s.lower() for s in seen}:
                seen.append(token)
    return ", ".join(seen)


# -- requests and policies ------------------------------------------------------------------


def filter_accept_encoding(value: str | None, supported: Iterable[str]) -> str | None:
    """Only codings the proxy can decode, so an HTML body never arrives unreadable."""
    if not value:
        return None
    allowed = set(supported) | {"identity"}
    kept = [item.strip() for item in value.split(",") if item.split(";")[0].strip().lower() in allowed]
    return ", ".join(kept) or None


_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=_-]+)'")


def csp_nonce(policy: str | None) -> str | None:
    """The nonce a CSP already asks for in script-src (else default-src), if any."""
    if not policy:
        return None
    directives: dict[str, str] = {}
    for directive in policy.split(";"):
        parts = directive.strip().split(None, 1)
        if parts:
            directives.setdefault(parts[0].lower(), parts[1] if len(parts) > 1 else "")
    for name in ("script-src-elem", "script-src", "default-src"):
        if name in directives:
            match = _NONCE.search(directives[name])
            return match.group(1) if match else None
    return None


def csp_has_nonce(policies: Iterable[str]) -> bool:
    """Whether any of the policies admits anything by nonce (scripts or styles)."""
    return any(_NONCE.search(policy) for policy in policies)
