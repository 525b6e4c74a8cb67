"""Cookie header plumbing for consent: read our cookie, set it, expire trackers' cookies.

`cookie_values` finds every value of one cookie name in raw `Cookie` headers
(browsers may send several headers, and several cookies of one name).
`consent_cookie_header` builds the `Set-Cookie` value DESIGN.md specifies.
`expire_cookie_headers` is withdrawal hygiene: for each tracking cookie the
visitor sent whose category is now refused, it expires the host-only cookie and
the domain cookie of the host and of every parent domain, because a script may
have set `_ga` on `.example.com` while the page is `www.shop.example.com`.
Imports the stdlib and `proxy.catalogue` (stdlib only), which says which vendor,
and so which category, a cookie belongs to.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable
from typing import Final, TYPE_CHECKING

from proxy.catalogue import Catalogue
from proxy.consent.sites import lifetime_seconds
from proxy.defaults import NECESSARY

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy


__all__ = [
    "consent_cookie_header",
    "cookie_category",
    "cookie_values",
    "domain_variants",
    "expire_cookie_headers",
]

logger = logging.getLogger(__name__)

_EXPIRED: Final = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
# RFC 6265 cookie-name = token: anything else could smuggle attributes into a header.
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Second-level labels under a two-letter country code that act as public suffixes
# (co.uk, com.au, ...): a Domain attribute there is refused by browsers, so skip it.
_SECOND_LEVEL_SUFFIXES: Final = frozenset({"co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go"})


def cookie_values(cookie_headers: Iterable[str], name: str) -> list[str]:
    """Every value of cookie `name` in the raw `Cookie` headers, in order."""
    if isinstance(cookie_headers, str):  # one header passed bare: not a list of characters
        cookie_headers = [cookie_headers]
    values = []
    for header in cookie_headers:
        for pair in header.split(";"):
            key, sep, value = pair.partition("=")
            if sep and key.strip() == name:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                values.append(value)
    return values


def consent_cookie_header(token: str, *, site: SitePolicy, secure: bool, max_age: int | None = None) -> str:
    """The `Set-Cookie` value for a consent token (HttpOnly, SameSite=Lax, Path=/)."""
    age = lifetime_seconds(site) if max_age is None else max(0, int(max_age))
    header = f"{site.cookie_name}={token}; Max-Age={age}; Path=/; HttpOnly; SameSite=Lax"
    return header + "; Secure" if secure else header


def domain_variants(host: str) -> list[str | None]:
    """None (host-only) then the host and each parent domain a cookie could be set on."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8080
        return [None]
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    host = host.rstrip(".")
    try:
        ipaddress.ip_address(host)
        return [None]  # cookies on an IP address are host-only
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) < 2 or not all(labels):
        return [None]  # localhost, or junk: no Domain attribute can apply
    variants: list[str | None] = [None]
    for start in range(len(labels) - 1):
        suffix = labels[start:]
        if len(suffix) == 2 and len(suffix[1]) == 2 and suffix[0] in _SECOND_LEVEL_SUFFIXES:
            break  # e.g. co.uk: public suffix
        variants.append(".".join(suffix))
    return variants


def cookie_category(name: str) -> str | None:
    """The catalogue's category of a first-party cookie, by name (None: not a known tracker)."""
    vendor = Catalogue.default().vendor_for_cookie(name)
    return vendor.category if vendor is not None else None


def expire_cookie_headers(
    cookie_names_present: Iterable[str],
    *,
    host: str,
    secure: bool = False,
    refused_categories: Iterable[str] = (),
    is_refused: Callable[[str], bool] | None = None,
    keep: Iterable[str] = (),
) -> list[str]:
    """`Set-Cookie` values that delete the visitor's cookies of refused categories.

    Pass `is_refused(name)` (e.g. the engine's `refused_cookie` with the new state) to
    honour the site's own vendor overrides; otherwise a cookie is refused when its
    catalogue category is in `refused_categories`. Names in `keep` (the consent cookie
    itself) and necessary cookies are never touched.
    """
    refused = frozenset(refused_categories) - {NECESSARY}
    kept = frozenset(keep)
    variants = domain_variants(host)
    headers: list[str] = []
    seen: set[str] = set()
    for name in cookie_names_present:
        if name in seen or name in kept or not _COOKIE_NAME.match(name):
            continue
        seen.add(name)
        if is_refused is not None:
            if not is_refused(name):
                continue
        elif cookie_category(name) not in refused:
            continue
        headers.extend(_expiry_headers(name, variants, secure=secure))
    return headers


def _expiry_headers(name: str, variants: list[str | None], *, secure: bool) -> list[str]:
    if name.startswith("__Host-"):
        # Browsers only accept __Host- cookies host-only and Secure.
        return [f"{name}=; {_EXPIRED}; Secure"]
    tail = "; Secure" if secure or name.startswith("__Secure-") else ""
    return [f"{name}=; {_EXPIRED}" + (f"; Domain={domain}" if domain else "") + tail for domain in variants]
