"""The visitor's consent as the rest of the proxy sees it, read from the cookie.

`read_consent` turns raw `Cookie` headers into a `ConsentState` and never
raises: whatever is wrong with the cookie, the answer is "necessary only" plus
a `failure` reason (counted in `failure_counts`). `ConsentState.allows` is the
one question the engine asks. `ConsentState.simulated` builds a state from a
category list for `consentry rewrite/scan` and the mitmproxy addon. Imports
PyJWT (through `tokens`) and the stdlib only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TYPE_CHECKING

from proxy.consent.cookies import cookie_values
from proxy.defaults import CATEGORIES, GPC_REFUSED_CATEGORY, NECESSARY
from proxy.consent.failures import ConsentFailure, record_failure
from proxy.consent.keys import KeyRing
from proxy.consent.sites import category_names
from proxy.consent.tokens import MAX_COOKIE_BYTES, TokenRejected, decode_token, decode_token_remembered

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy


__all__ = ["ConsentState", "read_consent"]

logger = logging.getLogger(__name__)

Source = Literal["cookie", "none", "simulated"]


@dataclass(frozen=True, slots=True)
class ConsentState:
    """What the visitor allowed. `categories` always includes "necessary"."""

    categories: frozenset[str] = frozenset({NECESSARY})
    vendors: Mapping[str, bool] = field(default_factory=dict)
    consent_id: str | None = None
    issued_at: float | None = None
    expires_at: float | None = None
    policy_version: str | int | None = None
    source: Source = "none"
    gpc: bool = False  # GPC was sent and the site honours it: marketing is refused
    failure: str | None = None  # a ConsentFailure value when the cookie gave nothing
    decided: bool = False  # the visitor made a choice the banner need not ask again

    def allows(self, category: str, vendor_id: str | None = None) -> bool:
        """May an element of this category (and vendor, when known) run?"""
        if category == NECESSARY:
            return True
        if self.gpc and category == GPC_REFUSED_CATEGORY:
            # GPC is a legal opt-out signal; a per-vendor "always allow" cannot undo it.
            return False
        if vendor_id is not None and vendor_id in self.vendors:
            return self.vendors[vendor_id]
        return category in self.categories

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], *, site: SitePolicy, gpc: bool = False) -> ConsentState:
        """The state verified (or just issued) claims grant; `gpc` means GPC applies."""
        known = set(category_names(site))
        # Categories the site no longer has are ignored rather than failing the cookie.
        granted = {cat for cat in claims.get("cats", ()) if cat in known} | {NECESSARY}
        if gpc:
            granted.discard(GPC_REFUSED_CATEGORY)
        return cls(
            categories=frozenset(granted),
            vendors=dict(claims.get("vendors") or {}),
            consent_id=claims.get("sub"),
            issued_at=float(claims["iat"]) if "iat" in claims else None,
            expires_at=float(claims["exp"]) if "exp" in claims else None,
            policy_version=claims.get("pv"),
            source="cookie",
            gpc=gpc,
            failure=None,
            decided=True,
        )

    @classmethod
    def simulated(
        cls, categories: Iterable[str] | str, *, all_categories: Iterable[str] | None = None, gpc: bool = False
    ) -> ConsentState:
        """A state from a choice given on the command line: "all", "none"/"", "a,b" or a list."""
        everything = tuple(all_categories) if all_categories is not None else CATEGORIES
        if isinstance(categories, str):
            text = categories.strip()
            if text == "all":
                names: set[str] = set(everything)
            elif text in ("", "none"):
                names = set()
            else:
                names = {part.strip() for part in text.split(",") if part.strip()}
        else:
            names = set(categories)
            if "all" in names:
                names = set(everything)
            names.discard("none")
        if gpc:
            names.discard(GPC_REFUSED_CATEGORY)
        return cls(categories=frozenset(names | {NECESSARY}), source="simulated", gpc=gpc, decided=True)


def _necessary_only(reason: ConsentFailure, detail: str, *, gpc: bool) -> ConsentState:
    record_failure(reason, detail)
    return ConsentState(gpc=gpc, failure=reason.value)


def read_consent(
    cookie_headers: Iterable[str],
    *,
    site: SitePolicy,
    keyring: KeyRing,
    gpc: bool = False,
    now: float | None = None,
) -> ConsentState:
    """The consent in the request's `Cookie` headers; fails closed, never raises."""
    honour_gpc = gpc and site.honor_gpc
    try:
        return _read(cookie_headers, site=site, keyring=keyring, gpc=honour_gpc, now=now)
    except Exception as exc:  # the contract is "never an error page": a bug here must fail closed too
        logger.exception("reading the consent cookie failed unexpectedly; treating it as malformed")
        return _necessary_only(ConsentFailure.MALFORMED, repr(exc), gpc=honour_gpc)


def _read(cookie_headers: Iterable[str], *, site: SitePolicy, keyring: KeyRing, gpc: bool, now: float | None) -> ConsentState:
    name = site.cookie_name
    values = cookie_values(cookie_headers, name)
    if not values:
        return _necessary_only(ConsentFailure.MISSING, "", gpc=gpc)
    if len(set(values)) > 1:
        # Two different consent cookies (e.g. one set for a parent domain by a sibling
        # site): we cannot know which the visitor meant, so we trust neither.
        return _necessary_only(ConsentFailure.DUPLICATE, f"{len(values)} cookies named {name!r}", gpc=gpc)
    token = values[0]
    if len(name) + 1 + len(token.encode("utf-8", "replace")) > MAX_COOKIE_BYTES:
        return _necessary_only(ConsentFailure.OVERSIZED, f"{len(token)} bytes", gpc=gpc)
    try:
        if now is None:
            claims = decode_token_remembered(keyring, token, site=site)
        else:
            claims = decode_token(keyring, token, site=site, now=now)
    except TokenRejected as exc:
        return _necessary_only(exc.reason, exc.detail, gpc=gpc)
    return ConsentState.from_claims(claims, site=site, gpc=gpc)
