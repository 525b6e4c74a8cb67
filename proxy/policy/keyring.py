"""Resolve the key ring, the receipts URL and salt: read every secret and key the config names.

Each ``[[consent.keys]]`` entry is validated on its own, so one bad key does not
hide the problems of the others; its material is read from the named env var or
file (relative to the config file) and checked (HS256 length, PEM type). An
empty key ring means the zero-config key: ``CONSENTRY_SECRET``, or a random
secret with a logged warning. ``check_shared_state`` refuses a configuration
whose replicas would not agree (a shared receipts store with a per-process random
key or salt). Must not depend on jwt, aiohttp, mitmproxy or ``proxy.html``.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path

from pydantic import ValidationError

from proxy.policy import keymaterial
from proxy.policy.fields import check_receipts_url, redact_url
from proxy.policy.messages import Findings
from proxy.policy.model import KeySpec, ReceiptsSettings
from proxy.policy.tomlpaths import KeyPath

__all__ = [
    "RANDOM_SECRET_WARNING",
    "SECRET_ENV",
    "check_shared_state",
    "quiet_random_secret",
    "resolve_keys",
    "resolve_receipts",
    "resolve_salt",
    "zero_config_key",
]

log = logging.getLogger(__name__)

SECRET_ENV = "CONSENTRY_SECRET"
RANDOM_SECRET_WARNING = (
    f"{SECRET_ENV} is not set: using a random secret, so consent cookies will not survive a restart "
    f"(set {SECRET_ENV} to 32+ random bytes, e.g. from `consentry keys generate --alg HS256`)"
)
# check-config reports the random secret as a note in its output instead of a log warning.
quiet_random_secret: ContextVar[bool] = ContextVar("quiet_random_secret", default=False)


def zero_config_key() -> KeySpec:
    """One HS256 key, kid "default", from CONSENTRY_SECRET or else random for this process.

    Raises ``MaterialError`` when CONSENTRY_SECRET is set but too short to be safe.
    """
    secret = os.environ.get(SECRET_ENV)
    if secret:
        keymaterial.check_hmac_secret(secret)
    else:
        key = KeySpec(kid="default", alg="HS256", secret=secrets.token_urlsafe(48))
        key._ephemeral = True
        if not quiet_random_secret.get():
            log.warning("%s", RANDOM_SECRET_WARNING)
        return key
    return KeySpec(kid="default", alg="HS256", secret=secret)


def resolve_keys(raw_keys: object, base_dir: Path | None, findings: Findings) -> list[KeySpec] | None:
    """Validate and load every key; None when any key is unusable (its problems are in ``findings``)."""
    here: KeyPath = ("consent", "keys")
    if raw_keys is None or raw_keys == []:
        try:
            return [zero_config_key()]
        except ValueError as error:
            findings.add(here, f"no keys are configured, so {SECRET_ENV} is used, but {error}")
            return None
    if not isinstance(raw_keys, list):
        return None  # reported by the [consent] model
    keys: list[KeySpec] = []
    usable = True
    first_kid: dict[str, int] = {}
    for index, raw in enumerate(raw_keys):
        try:
            spec = KeySpec.model_validate(raw)
        except ValidationError as error:
            findings.add_validation(error, KeySpec, here + (index,))
            usable = False
            continue
        if spec.kid in first_kid:
            findings.add(
                here + (index, "kid"),
                f'kid "{spec.kid}" is already used by consent.keys[{first_kid[spec.kid]}]; every key needs its own kid',
            )
            usable = False
        first_kid.setdefault(spec.kid, index)
        if index == 0 and not spec.can_sign:
            findings.add(
                here + (index,),
                "the first key signs new cookies, so it needs a private key; put verify-only keys after it",
            )
            usable = False
        loaded = _load_material(spec, base_dir, findings, here + (index,))
        if loaded is None:
            usable = False
        else:
            keys.append(loaded)
    return keys if usable else None


def _load_material(spec: KeySpec, base_dir: Path | None, findings: Findings, here: KeyPath) -> KeySpec | None:
    def pem_check(private: bool) -> Callable[[str], str]:
        return lambda pem: keymaterial.check_pem(pem, spec.alg, private=private)

    update: dict[str, str] = {}
    ok = True
    sources: list[tuple[str, str | None, str | None, Callable[[str], str]]] = [
        ("secret", spec.secret_env, spec.secret_file, keymaterial.check_hmac_secret),
        ("private_key", None, spec.private_key_file, pem_check(True)),
        ("public_key", None, spec.public_key_file, pem_check(False)),
    ]
    for field, env, file, check in sources:
        if env:
            key, subject = "secret_env", f"{env}"
        elif file:
            key, subject = f"{field}_file", f'"{file}"'
        else:
            key, subject = field, field
        try:
            if env:
                value: str | None = keymaterial.read_env(env)
            elif file:
                value = keymaterial.read_file(file, base_dir, strip=field == "secret")
            else:
                value = getattr(spec, field)  # getattr: one loop over the three material fields
            if value is not None:
                update[field] = check(value)
        except keymaterial.MaterialError as error:
            message = str(error)
            findings.add(here + (key,), message if error.complete else f"{subject} {message}")
            ok = False
    if ok and "private_key" in update and "public_key" in update:
        try:
            keymaterial.check_key_pair(update["private_key"], update["public_key"])
        except keymaterial.MaterialError as error:
            findings.add(here + ("public_key_file" if spec.public_key_file else "public_key",), str(error))
            ok = False
    return spec.model_copy(update=update) if ok else None


def resolve_salt(receipts: ReceiptsSettings, base_dir: Path | None, findings: Findings) -> None:
    """Read the IP-hashing salt into ``receipts.ip_salt`` (left None when none is configured)."""
    try:
        if receipts.ip_salt_env:
            salt = keymaterial.read_env(receipts.ip_salt_env)
        elif receipts.ip_salt_file:
            salt = keymaterial.read_file(receipts.ip_salt_file, base_dir, strip=True)
        else:
            return
    except keymaterial.MaterialError as error:
        findings.add(("receipts", "ip_salt_env" if receipts.ip_salt_env else "ip_salt_file"), str(error))
        return
    receipts._ip_salt = salt.encode("utf-8")


def resolve_receipts(receipts: ReceiptsSettings, base_dir: Path | None, findings: Findings) -> ReceiptsSettings:
    """The ``[receipts]`` table with ``url`` read from ``url_env`` / ``url_file`` and the salt loaded.

    A URL read from a secret is checked like an inline one, but the messages show it
    without its password.
    """
    source = "url_env" if receipts.url_env else "url_file" if receipts.url_file else None
    if source is not None:
        url = ""
        try:
            if receipts.url_env:
                url = keymaterial.read_env(receipts.url_env)
                subject = f"environment variable {receipts.url_env}"
            else:
                url = keymaterial.read_file(receipts.url_file or "", base_dir, strip=True)
                subject = f'file "{receipts.url_file}"'
            url = url.strip()
            check_receipts_url(url)
        except keymaterial.MaterialError as error:
            findings.add(("receipts", source), str(error))
        except ValueError as error:
            shown = str(error).replace(url, redact_url(url)) if url else str(error)
            findings.add(("receipts", source), f"{subject} holds no usable receipts URL: {shown}")
        else:
            salt = receipts.ip_salt
            receipts = receipts.model_copy(update={"url": url})
            receipts._ip_salt = salt
    resolve_salt(receipts, base_dir, findings)
    return receipts


def check_shared_state(keys: list[KeySpec], receipts: ReceiptsSettings, findings: Findings) -> None:
    """Replicas are declared by a shared (PostgreSQL) receipts store: they must then share
    the signing keys and the IP-hash salt, or a cookie issued by one replica is refused by
    the next and one visitor's IP hashes differently on each."""
    if not receipts.shared:
        return
    where = "url_env" if receipts.url_env else "url_file" if receipts.url_file else "url"
    if any(key.ephemeral for key in keys):
        findings.add(
            ("consent", "keys"),
            f"the receipts store is PostgreSQL (receipts.{where}), which replicas share, but no signing key is "
            f"configured and {SECRET_ENV} is not set: each process would sign with its own random secret and "
            f"refuse the others' cookies; set {SECRET_ENV} or add [[consent.keys]] with secret_env/secret_file",
        )
    if receipts.ip_salt is None and not (receipts.ip_salt_env or receipts.ip_salt_file):
        findings.add(
            ("receipts", where),
            "a PostgreSQL store is shared by replicas, so the IP-hash salt must be shared too; set "
            "receipts.ip_salt_env or receipts.ip_salt_file (e.g. 32 random bytes: `openssl rand -hex 32`), "
            "otherwise each process hashes visitor IPs with its own random salt",
        )
