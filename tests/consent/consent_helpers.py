"""Helpers for the consent tests: a site, and tokens built by hand (forged, unsigned,
confused) without going through PyJWT. A uniquely named module, so that test files
in other directories (which also have a conftest) never import the wrong one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import factories
from proxy.policy import SitePolicy


NOW = 1_800_000_000.0  # a fixed "now" so time checks are exact, never wall-clock
HS_SECRET = "s3cret-for-tests-" + "x" * 32


def make_site(**overrides: Any) -> SitePolicy:
    """The consent tests' site: a real ``SitePolicy`` (tests/factories.py) with its own id,
    policy version and lifetime, so tokens of the defaults never match by accident."""
    values: dict[str, Any] = {
        "site_id": "shop",
        "hosts": ("shop.example",),
        "cookie_name": "consentry",
        "policy_version": "3",
        "honor_gpc": True,
        "lifetime_days": 180,
    }
    values.update(overrides)
    return factories.make_site(**values)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def raw_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A JWS compact token assembled by hand with whatever header and signature we like."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{b64url(signature)}"


def hs256_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """A correctly HMAC-signed token, for claims PyJWT's encoder would not produce."""
    unsigned = raw_token(header, claims).rsplit(".", 1)[0]
    signature = hmac.new(secret, unsigned.encode("ascii"), hashlib.sha256).digest()
    return f"{unsigned}.{b64url(signature)}"


def valid_claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "consent-1",
        "iat": int(NOW),
        "exp": int(NOW) + 86400,
        "aud": "shop",
        "pv": "3",
        "cats": ["analytics"],
    }
    claims.update(overrides)
    return claims


def ec_private_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def ed_private_pem() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem_of(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
