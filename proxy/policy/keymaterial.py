"""Read key material and salts named by the config: environment variables and files.

Each function returns the value, or raises ``MaterialError`` with a message that
says what is missing and how to provide it; the loader attaches the key path.
PEM keys are parsed with ``cryptography`` (PyJWT's backend) so that a wrong or
mismatched key is a start-up error, not a failure at the first visitor. Must not
import jwt, pydantic, aiohttp, mitmproxy or ``proxy.html``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from proxy.keytypes import wrong_key_type

__all__ = [
    "MIN_HMAC_SECRET_BYTES",
    "MaterialError",
    "check_hmac_secret",
    "check_key_pair",
    "check_pem",
    "read_env",
    "read_file",
]

# RFC 7518 section 3.2: an HS256 key must be at least as long as the hash (256 bits).
MIN_HMAC_SECRET_BYTES = 32


class MaterialError(ValueError):
    """A secret, key or salt that cannot be read or used.

    ``complete`` is False when the message is a predicate ("is not a PEM key") that the
    caller prefixes with what was read (a file name or an env var).
    """

    def __init__(self, message: str, *, complete: bool = True) -> None:
        super().__init__(message)
        self.complete = complete


def read_env(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise MaterialError(f"environment variable {name} is not set")
    if not value:
        raise MaterialError(f"environment variable {name} is empty")
    return value


def read_file(name: str, base_dir: Path | None, *, strip: bool) -> str:
    """Read a file named in the config; relative names are relative to the config file's directory.

    ``strip`` removes surrounding whitespace: a secret saved with ``echo`` ends in a newline
    that is not part of the secret.
    """
    path = Path(name).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    shown = f'"{name}"' if str(path) == name else f'"{name}" ({path})'
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MaterialError(f"cannot read {shown}: no such file") from None
    except OSError as error:
        raise MaterialError(f"cannot read {shown}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise MaterialError(f"{shown} is not UTF-8 text; secrets and PEM keys are text") from None
    text = text.strip() if strip else text
    if not text.strip():
        raise MaterialError(f"{shown} is empty")
    return text


def check_hmac_secret(secret: str) -> str:
    if "-----BEGIN" in secret:
        # A PEM as an HMAC secret is how algorithm-confusion attacks start.
        raise MaterialError('the HS256 secret is a PEM key; use alg = "ES256" or "EdDSA" for key pairs')
    size = len(secret.encode("utf-8"))
    if size < MIN_HMAC_SECRET_BYTES:
        raise MaterialError(
            f"the HS256 secret is {size} bytes; use at least {MIN_HMAC_SECRET_BYTES} "
            "(`consentry keys generate --alg HS256` makes one)"
        )
    return secret


def check_pem(pem: str, alg: str, *, private: bool) -> str:
    """Parse a PEM key and check that it suits ``alg``; returns the PEM unchanged."""
    data = pem.encode("ascii", errors="replace")
    kind = "private" if private else "public"
    if b"-----BEGIN" not in data:
        raise MaterialError(f"is not a PEM {kind} key (no -----BEGIN line)", complete=False)
    try:
        key = (
            serialization.load_pem_private_key(data, password=None)
            if private
            else serialization.load_pem_public_key(data)
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        detail = str(error).split(". See https://")[0]  # drop cryptography's FAQ link
        raise MaterialError(f"is not an unencrypted PEM {kind} key ({detail})", complete=False) from None
    wanted = wrong_key_type(key, alg)
    if wanted is not None:
        raise MaterialError(f"holds a {_key_kind(key)} key; {alg} needs {wanted}", complete=False)
    return pem


def check_key_pair(private_pem: str, public_pem: str) -> None:
    """Both halves given: they must belong together, or cookies signed now would never verify."""
    private_key = serialization.load_pem_private_key(private_pem.encode("ascii", errors="replace"), password=None)
    public_key = serialization.load_pem_public_key(public_pem.encode("ascii", errors="replace"))
    spki = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    if private_key.public_key().public_bytes(*spki) != public_key.public_bytes(*spki):
        raise MaterialError("the public key does not belong to the private key; give one of them or fix the pair")


def _key_kind(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(key).__name__.lstrip("_").removesuffix("PrivateKey").removesuffix("PublicKey")
