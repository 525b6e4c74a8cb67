"""Issue and verify consent tokens (JWS compact, the value of the consent cookie).

`issue_token` signs the DESIGN.md claims (sub, iat, exp, aud, pv, cats, optional
vendors) with the ring's first key. `decode_token` verifies one and raises
`TokenRejected` with a `ConsentFailure` reason; it checks the header against the
ring *before* PyJWT sees the token, so the key, never the header, fixes the
algorithm. Time checks use an explicit `now` so they are testable. Imports PyJWT
and the stdlib only.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final, TYPE_CHECKING

import jwt
from jwt.api_jws import PyJWS

from proxy.consent.failures import ConsentFailure
from proxy.consent.keys import KeyRing
from proxy.consent.sites import category_names, lifetime_seconds
from proxy.defaults import NECESSARY

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy


__all__ = [
    "IAT_LEEWAY_SECONDS",
    "MAX_COOKIE_BYTES",
    "TokenRejected",
    "decode_token",
    "issue_token",
    "verify_token_verbose",
]

# Browsers keep at most 4096 bytes of name=value per cookie; a bigger one is not ours.
MAX_COOKIE_BYTES: Final = 4096
# Clock skew between proxy workers/hosts: an iat this far ahead is still accepted.
IAT_LEEWAY_SECONDS: Final = 60
MAX_VENDOR_OVERRIDES: Final = 32
MAX_VENDOR_ID_LENGTH: Final = 64

_jws = PyJWS()


class TokenRejected(Exception):
    """A token that grants nothing; `reason` is the metric label, `detail` is for logs."""

    def __init__(self, reason: ConsentFailure, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


def issue_token(
    ring: KeyRing,
    *,
    site: SitePolicy,
    categories: Iterable[str],
    vendors: Mapping[str, bool] | None = None,
    consent_id: str | None = None,
    now: float | None = None,
) -> tuple[str, dict[str, Any]]:
    """Sign a consent decision; returns (token, claims). Unknown categories raise ValueError."""
    known = category_names(site)
    granted = set(categories)
    unknown = granted - set(known)
    if unknown:
        raise ValueError(
            f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(sorted(unknown))}; "
            f"site {site.site_id!r} has {', '.join(known)}"
        )
    signer = ring.signer
    if signer.sign_key is None:
        raise ValueError(f"consent.keys: the first key (kid {signer.kid!r}) has no private key, so it cannot sign")
    issued_at = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": consent_id or secrets.token_urlsafe(16),
        "iat": issued_at,
        "exp": issued_at + lifetime_seconds(site),
        "aud": site.site_id,
        "pv": site.policy_version,
        # necessary is implied, never listed; policy order keeps tokens stable.
        "cats": [name for name in known if name in granted and name != NECESSARY],
    }
    if vendors:
        claims["vendors"] = _checked_vendors(vendors)
    token = jwt.encode(claims, signer.sign_key, algorithm=signer.alg, headers={"kid": signer.kid})
    if len(site.cookie_name) + 1 + len(token) > MAX_COOKIE_BYTES:
        raise ValueError(f"the consent token is {len(token)} bytes, too large for a cookie; fewer vendor overrides")
    return token, claims


def _checked_vendors(vendors: Mapping[str, bool]) -> dict[str, bool]:
    if len(vendors) > MAX_VENDOR_OVERRIDES:
        raise ValueError(f"at most {MAX_VENDOR_OVERRIDES} vendor overrides fit in a consent cookie")
    for vendor_id, allowed in vendors.items():
        if not isinstance(vendor_id, str) or not 0 < len(vendor_id) <= MAX_VENDOR_ID_LENGTH:
            raise ValueError(f"vendor id {vendor_id!r} must be a string of 1-{MAX_VENDOR_ID_LENGTH} characters")
        if not isinstance(allowed, bool):
            raise ValueError(f"vendor {vendor_id!r}: the override must be true or false, not {allowed!r}")
    return dict(sorted(vendors.items()))


def decode_token(ring: KeyRing, token: str, *, site: SitePolicy | None = None, now: float | None = None) -> dict[str, Any]:
    """Verified claims of `token`, or TokenRejected. Without `site`, aud/pv/lifetime go unchecked."""
    if len(token) > MAX_COOKIE_BYTES:
        raise TokenRejected(ConsentFailure.OVERSIZED, f"{len(token)} bytes")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise TokenRejected(ConsentFailure.MALFORMED, str(exc)) from None
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise TokenRejected(ConsentFailure.MALFORMED, "no alg in the header")
    if alg.lower() == "none":
        raise TokenRejected(ConsentFailure.ALG_NONE, "unsigned token")
    kid = header.get("kid")
    key = ring.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenRejected(ConsentFailure.UNKNOWN_KID, f"kid {kid!r} is not in the key ring")
    if alg != key.alg:
        raise TokenRejected(ConsentFailure.ALG_MISMATCH, f"header alg {alg!r}, key {key.kid!r} is {key.alg}")
    try:
        decoded = _jws.decode_complete(token, key.verify_key, algorithms=[key.alg])
    except jwt.InvalidSignatureError:
        raise TokenRejected(ConsentFailure.BAD_SIGNATURE, f"kid {key.kid!r}") from None
    except (jwt.InvalidAlgorithmError, jwt.InvalidKeyError) as exc:
        raise TokenRejected(ConsentFailure.ALG_MISMATCH, str(exc)) from None
    except jwt.InvalidTokenError as exc:
        raise TokenRejected(ConsentFailure.MALFORMED, str(exc)) from None
    try:
        claims = json.loads(decoded["payload"])
    except ValueError:
        raise TokenRejected(ConsentFailure.MALFORMED, "payload is not JSON") from None
    if not isinstance(claims, dict):
        raise TokenRejected(ConsentFailure.MALFORMED, "payload is not a JSON object")
    _check_claims(claims, site=site, now=time.time() if now is None else now)
    return claims


# Tokens verified before, by (token, key ring, site): a returning visitor sends the same
# cookie on every request, and checking its signature costs ~90 us of a ~200 us request.
# An entry holds the ring and the site themselves (a reload makes new ones, so a removed
# key or a new policy version never meets an old entry) and the time until which the
# token stays acceptable (its exp and the site's lifetime; nothing else depends on time).
_VERIFIED: dict[tuple[str, int, int], tuple[KeyRing, object, dict[str, Any], float]] = {}
_VERIFIED_MAX = 4096


def decode_token_remembered(ring: KeyRing, token: str, *, site: SitePolicy) -> dict[str, Any]:
    """``decode_token`` now, answered from memory for a token this ring and site accepted
    before and that has not expired since. Claims are shared: do not change them."""
    now = time.time()
    key = (token, id(ring), id(site))
    entry = _VERIFIED.get(key)
    if entry is not None and entry[0] is ring and entry[1] is site and now < entry[3]:
        return entry[2]
    claims = decode_token(ring, token, site=site, now=now)
    good_until = min(float(claims["exp"]), float(claims["iat"]) + lifetime_seconds(site))
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[key] = (ring, site, claims, good_until)
    return claims


def _number(value: object) -> float | None:
    """A JSON number as float; None for anything else (bool is not a number here)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _check_claims(claims: dict[str, Any], *, site: SitePolicy | None, now: float) -> None:
    sub, iat, exp, cats = claims.get("sub"), claims.get("iat"), claims.get("exp"), claims.get("cats")
    if not isinstance(sub, str) or not 0 < len(sub) <= 128:
        raise TokenRejected(ConsentFailure.BAD_CLAIMS, "sub must be a consent id string")
    issued, expires = _number(iat), _number(exp)
    if issued is None or expires is None:
        raise TokenRejected(ConsentFailure.BAD_CLAIMS, "iat and exp must be numbers")
    if not isinstance(cats, list) or not all(isinstance(name, str) for name in cats):
        raise TokenRejected(ConsentFailure.BAD_CLAIMS, "cats must be a list of category names")
    vendors = claims.get("vendors", {})
    if not isinstance(vendors, dict) or not all(isinstance(v, bool) for v in vendors.values()):
        raise TokenRejected(ConsentFailure.BAD_CLAIMS, "vendors must map vendor ids to true/false")
    pv = claims.get("pv")
    if pv is not None and (isinstance(pv, bool) or not isinstance(pv, str | int)):
        raise TokenRejected(ConsentFailure.BAD_CLAIMS, "pv must be a string or an integer")
    if site is not None:
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if site.site_id not in audiences:
            raise TokenRejected(ConsentFailure.WRONG_AUDIENCE, f"aud {aud!r}, site {site.site_id!r}")
    if now >= expires:
        raise TokenRejected(ConsentFailure.EXPIRED, f"exp {exp} <= now {int(now)}")
    not_before = _number(claims.get("nbf", issued))
    if not_before is None:
        raise TokenRejected(ConsentFailure.BAD_CLAIMS, "nbf must be a number")
    if issued > now + IAT_LEEWAY_SECONDS or not_before > now + IAT_LEEWAY_SECONDS:
        raise TokenRejected(ConsentFailure.ISSUED_IN_FUTURE, f"iat {iat} > now {int(now)}")
    if site is not None:
        # A lifetime shortened in the policy applies to cookies already out there too.
        if now >= issued + lifetime_seconds(site):
            raise TokenRejected(ConsentFailure.EXPIRED, "older than the site's consent lifetime")
        if pv is None or str(pv) != str(site.policy_version):
            raise TokenRejected(ConsentFailure.OUTDATED_POLICY, f"pv {pv!r}, policy {site.policy_version!r}")


def verify_token_verbose(
    ring: KeyRing, token: str, *, site: SitePolicy | None = None, now: float | None = None
) -> tuple[bool, dict[str, Any] | str]:
    """For `consentry token verify`: (True, claims) or (False, "reason: detail")."""
    try:
        return True, decode_token(ring, token.strip(), site=site, now=now)
    except TokenRejected as exc:
        return False, str(exc)
