"""The key ring that signs and verifies consent cookies (HS256, ES256, EdDSA).

Each key carries its own algorithm; a token's header only *selects* a key by
`kid`, it never chooses the algorithm. That rules out the classic confusions: an
`alg: none` token, or an HS256 token "signed" with an EC public key used as an
HMAC secret. The first key of the ring signs, every key verifies, so keys rotate
without logging anyone out: add the new key first, keep the old one until its
cookies have expired, then remove it. Imports PyJWT's `cryptography` backend and
the stdlib only (no aiohttp, no pydantic: a spec is anything shaped as `KeyMaterial`).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from proxy.keytypes import wrong_key_type

__all__ = [
    "ALGORITHMS",
    "GeneratedKey",
    "KeyRing",
    "KeySpec",
    "SigningKey",
    "generate_key",
    "generate_key_material",
]

logger = logging.getLogger(__name__)

Algorithm = Literal["HS256", "ES256", "EdDSA"]
ALGORITHMS: Final[tuple[str, ...]] = ("HS256", "ES256", "EdDSA")

# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits).
MIN_HMAC_SECRET_BYTES: Final = 32


class KeyMaterial(Protocol):
    """What the ring reads from a key spec: the policy loader's pydantic ``KeySpec`` and
    this module's dataclass both have this shape (material already read from env/files)."""

    @property
    def kid(self) -> str: ...
    @property
    def alg(self) -> str: ...
    @property
    def secret(self) -> str | bytes | None: ...
    @property
    def private_key(self) -> str | None: ...
    @property
    def public_key(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class KeySpec:
    """A key as the policy loader resolves it: material already read from files/env."""

    kid: str
    alg: str
    secret: str | bytes | None = None  # HS256
    private_key: str | None = None  # ES256 / EdDSA, PEM (PKCS#8 or SEC1)
    public_key: str | None = None  # ES256 / EdDSA, PEM; derived from private_key when absent


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One usable key: `sign_key` is None for a verify-only key (public key only)."""

    kid: str
    alg: str
    verify_key: Any  # bytes for HS256, a cryptography public key otherwise
    sign_key: Any | None  # bytes for HS256, a cryptography private key, or None

    @property
    def can_sign(self) -> bool:
        return self.sign_key is not None


class KeyRing:
    """Keys by `kid`; the first one signs, all verify."""

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        if not keys:
            raise ValueError("consent.keys: the key ring is empty; add at least one key")
        self._keys: dict[str, SigningKey] = {}
        for key in keys:
            if key.kid in self._keys:
                raise ValueError(f"consent.keys: kid {key.kid!r} appears twice; every key needs its own kid")
            self._keys[key.kid] = key
        self._signer = keys[0]

    @classmethod
    def from_specs(cls, specs: Iterable[KeyMaterial]) -> KeyRing:
        """Build the ring from key specs (objects with kid, alg and the key material)."""
        return cls([_load_spec(spec, index) for index, spec in enumerate(specs)])

    @classmethod
    def single_hs256(cls, secret: str | bytes, kid: str = "default") -> KeyRing:
        """The zero-config ring: one HS256 key (from CONSENTRY_SECRET)."""
        return cls.from_specs([KeySpec(kid=kid, alg="HS256", secret=secret)])

    @property
    def signer(self) -> SigningKey:
        """The key new tokens are signed with (the first key of the ring)."""
        return self._signer

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def get(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:  # never shows key material
        return f"KeyRing(kids={list(self._keys)!r}, signer={self._signer.kid!r})"


def _load_spec(spec: KeyMaterial, index: int) -> SigningKey:
    kid = spec.kid
    where = f"consent.keys[{index}]"
    if not kid:
        raise ValueError(f"{where}.kid: every key needs a non-empty kid (a name such as \"2026-11\")")
    where = f"consent.keys[{index}] (kid {kid!r})"
    alg = spec.alg
    if alg not in ALGORITHMS:
        raise ValueError(f"{where}.alg: {alg!r} is not supported; use one of {', '.join(ALGORITHMS)}")
    if alg == "HS256":
        return _load_hmac(spec, kid, where)
    return _load_asymmetric(spec, kid, alg, where)


def _load_hmac(spec: KeyMaterial, kid: str, where: str) -> SigningKey:
    secret = spec.secret
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes) or not secret:
        raise ValueError(f"{where}: HS256 needs a secret")
    if b"-----BEGIN" in secret:
        # A PEM as an HMAC secret is how algorithm-confusion attacks start; refuse it.
        raise ValueError(f"{where}: the HS256 secret looks like a PEM key; use alg ES256/EdDSA for PEM keys")
    if len(secret) < MIN_HMAC_SECRET_BYTES:
        raise ValueError(
            f"{where}: the HS256 secret is {len(secret)} bytes; use at least {MIN_HMAC_SECRET_BYTES} "
            "(`consentry keys generate --alg HS256` makes one)"
        )
    return SigningKey(kid=kid, alg="HS256", verify_key=secret, sign_key=secret)


def _load_asymmetric(spec: KeyMaterial, kid: str, alg: str, where: str) -> SigningKey:
    private_pem = spec.private_key
    public_pem = spec.public_key
    if not private_pem and not public_pem:
        raise ValueError(f"{where}: {alg} needs private_key (to sign) or public_key (to verify only)")
    private_key = public_key = None
    if private_pem:
        try:
            private_key = serialization.load_pem_private_key(_as_bytes(private_pem), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: private_key is not an unencrypted PEM private key ({exc})") from None
        _check_key_type(private_key, alg, where, "private_key")
        public_key = private_key.public_key()
    if public_pem:
        try:
            given_public = serialization.load_pem_public_key(_as_bytes(public_pem))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: public_key is not a PEM public key ({exc})") from None
        _check_key_type(given_public, alg, where, "public_key")
        if public_key is not None and _public_bytes(public_key) != _public_bytes(given_public):
            raise ValueError(f"{where}: public_key does not belong to private_key; give one or fix the pair")
        public_key = given_public
    return SigningKey(kid=kid, alg=alg, verify_key=public_key, sign_key=private_key)


def _as_bytes(pem: str | bytes) -> bytes:
    return pem.encode("ascii") if isinstance(pem, str) else pem


def _public_bytes(key: Any) -> bytes:
    return bytes(
        key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _check_key_type(key: Any, alg: str, where: str, field: str) -> None:
    wanted = wrong_key_type(key, alg)
    if wanted is not None:
        raise ValueError(f"{where}.{field}: {alg} needs {wanted}, got {type(key).__name__}")


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A fresh key: the config snippet, and for ES256/EdDSA the PEM to save to a file."""

    kid: str
    alg: str
    toml: str
    private_pem: str | None = None
    public_pem: str | None = None

    def text(self) -> str:
        """What `consentry keys generate` prints: instructions, snippet, then the PEM."""
        if self.private_pem is None:
            return f"# Add under [consent] (keep the secret out of version control):\n{self.toml}"
        return (
            f"# 1. Save the private key below to {self.kid}.pem next to your config (chmod 600).\n"
            "# 2. Add this under [consent], first in the list so it signs; keep older keys after it\n"
            "#    until the cookies they signed have expired.\n"
            f"{self.toml}\n{self.private_pem}"
        )


def generate_key_material(alg: str = "EdDSA", kid: str | None = None) -> GeneratedKey:
    """Create a new key for the ring; `kid` defaults to the date plus a random suffix."""
    if alg not in ALGORITHMS:
        raise ValueError(f"--alg {alg!r} is not supported; use one of {', '.join(ALGORITHMS)}")
    if kid is None:
        kid = f"{dt.datetime.now(dt.UTC):%Y-%m-%d}-{secrets.token_hex(3)}"
    if alg == "HS256":
        secret = secrets.token_urlsafe(48)  # 384 bits, well above the 256-bit minimum
        toml = f'[[consent.keys]]\nkid = "{kid}"\nalg = "HS256"\nsecret = "{secret}"\n'
        return GeneratedKey(kid=kid, alg=alg, toml=toml)
    private_key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    if alg == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    else:
        private_key = ed25519.Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    public_pem = _public_bytes(private_key.public_key()).decode("ascii")
    toml = f'[[consent.keys]]\nkid = "{kid}"\nalg = "{alg}"\nprivate_key_file = "{kid}.pem"\n'
    return GeneratedKey(kid=kid, alg=alg, toml=toml, private_pem=private_pem, public_pem=public_pem)


def generate_key(alg: str = "EdDSA", kid: str | None = None) -> str:
    """The text `consentry keys generate [--alg ...]` prints (see `GeneratedKey.text`)."""
    return generate_key_material(alg, kid).text()
