"""Which asymmetric key an algorithm needs: one rule for the policy loader and the key ring.

Imports only ``cryptography`` (never jwt or pydantic), so both ``proxy.policy`` and
``proxy.consent`` can use it without pulling in each other's dependencies.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519


def wrong_key_type(key: Any, alg: str) -> str | None:
    """None when ``key`` suits ``alg`` (ES256: EC P-256; EdDSA: Ed25519), else what it needs."""
    if alg == "ES256":
        ok = isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
        return None if ok else "an EC P-256 key"
    ok = isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey)
    return None if ok else "an Ed25519 key"
