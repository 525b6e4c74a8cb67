"""The receipt: one stored proof of one consent decision (GDPR Art. 7(1)).

A `Receipt` says who decided (a random consent id, never a person), on which
site and policy version, against which vendor list (a digest), what was granted
and refused, how (accept_all, reject_all, save, withdraw), when, until when, and
with what context: a salted, truncated hash of the IP (never the IP itself), the
user agent and whether Global Privacy Control was on. Also the error every store
raises. Imports the stdlib only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "RECEIPT_ACTIONS",
    "Receipt",
    "ReceiptStoreError",
    "banner_texts_canonical",
    "banner_texts_digest",
    "hash_ip",
    "vendor_list_digest",
]

RECEIPT_ACTIONS: Final[tuple[str, ...]] = ("accept_all", "reject_all", "save", "withdraw")
# Enough to tell visitors apart in an audit, too short to be a lookup table of the IPv4 space.
IP_HASH_HEX_CHARS: Final = 16
MAX_USER_AGENT_CHARS: Final = 512


class ReceiptStoreError(Exception):
    """The store could not do what was asked; for `record`, no proof means no consent."""


def _utc(value: dt.datetime | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"Receipt.{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(dt.UTC)


@dataclass(slots=True)
class Receipt:
    """Proof of one decision. Datetimes are timezone-aware UTC."""

    consent_id: str
    site_id: str
    policy_version: str
    vendor_list_digest: str
    granted: list[str]
    refused: list[str]
    action: str
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    ip_hash: str | None = None
    user_agent: str | None = None
    gpc: bool = False
    # Which banner experiment variant the visitor saw (a config id), or None.
    banner_variant: str | None = None
    # "sha256:<hex>" of the exact banner texts shown (see banner_texts_digest); None if unknown.
    banner_texts_digest: str | None = None
    # Set by the store on the way out (its row id); not part of the decision itself.
    receipt_id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.consent_id:
            raise ValueError("Receipt.consent_id must not be empty")
        if self.action not in RECEIPT_ACTIONS:
            raise ValueError(f"Receipt.action {self.action!r} is not one of {', '.join(RECEIPT_ACTIONS)}")
        self.policy_version = str(self.policy_version)
        self.granted = [str(name) for name in self.granted]
        self.refused = [str(name) for name in self.refused]
        self.created_at = _utc(self.created_at, "created_at")  # type: ignore[assignment]
        self.expires_at = _utc(self.expires_at, "expires_at")
        if self.user_agent is not None:
            self.user_agent = self.user_agent[:MAX_USER_AGENT_CHARS]
        self.gpc = bool(self.gpc)
        self.banner_variant = self.banner_variant or None
        self.banner_texts_digest = self.banner_texts_digest or None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (ISO 8601 datetimes); the export format."""
        return {
            "consent_id": self.consent_id,
            "site_id": self.site_id,
            "policy_version": self.policy_version,
            "vendor_list_digest": self.vendor_list_digest,
            "granted": list(self.granted),
            "refused": list(self.refused),
            "action": self.action,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "ip_hash": self.ip_hash,
            "user_agent": self.user_agent,
            "gpc": self.gpc,
            "banner_variant": self.banner_variant,
            "banner_texts_digest": self.banner_texts_digest,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Receipt:
        """The inverse of `to_dict` (for imports and round-trip checks)."""
        expires = data.get("expires_at")
        return cls(
            consent_id=data["consent_id"],
            site_id=data["site_id"],
            policy_version=data["policy_version"],
            vendor_list_digest=data["vendor_list_digest"],
            granted=list(data["granted"]),
            refused=list(data["refused"]),
            action=data["action"],
            created_at=dt.datetime.fromisoformat(data["created_at"]),
            expires_at=dt.datetime.fromisoformat(expires) if expires else None,
            ip_hash=data.get("ip_hash"),
            user_agent=data.get("user_agent"),
            gpc=bool(data.get("gpc", False)),
            banner_variant=data.get("banner_variant") or None,
            banner_texts_digest=data.get("banner_texts_digest") or None,
        )


def hash_ip(ip: str, salt: bytes) -> str:
    """A salted, truncated HMAC-SHA256 of the IP: the same visitor maps to the same
    value under one salt, and the raw address is never stored."""
    try:
        text = ipaddress.ip_address(ip.strip().strip("[]")).compressed  # one spelling per address
    except ValueError:
        text = ip.strip()
    return hmac.new(salt, text.encode("utf-8"), hashlib.sha256).hexdigest()[:IP_HASH_HEX_CHARS]


def vendor_list_digest(vendors: Iterable[tuple[str, str]] | Mapping[str, str]) -> str:
    """A stable digest of the (vendor id, category) list the visitor was shown."""
    pairs = sorted(vendors.items() if isinstance(vendors, Mapping) else vendors)
    data = json.dumps(pairs, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return "sha256:" + hashlib.sha256(data).hexdigest()[:32]


def banner_texts_canonical(lang: str, texts: Mapping[str, str]) -> str:
    """The one serialisation of the banner texts a visitor was shown, which the digest hashes.

    A JSON object ``{"lang": <lang>, "texts": {<key>: <text>, ...}}`` with keys sorted
    (code point order), no whitespace between tokens (``","`` and ``":"``), non-ASCII
    characters written as themselves (not ``\\u`` escapes), encoded as UTF-8. ``texts``
    are every text key the banner received, after the site's and the variant's
    overrides. Anyone can recompute a digest from the texts `consentry receipts texts`
    prints: ``sha256(canonical.encode("utf-8"))``.
    """
    body = {"lang": str(lang), "texts": {str(k): str(v) for k, v in texts.items()}}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def banner_texts_digest(canonical: str) -> str:
    """``"sha256:" + hex`` of the canonical texts (full 64 hex digits)."""
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
