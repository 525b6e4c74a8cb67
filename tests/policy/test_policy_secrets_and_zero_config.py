"""Key material and salts read at load time, zero-config mode, and what check-config prints."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from proxy.policy import ConfigError, check_config, default_config, load_config

GOOD_SECRET = "s3cr3t-" + "x" * 40  # what conftest.secret_env sets

UP = 'upstream = "http://127.0.0.1:8000"'


def test_secrets_from_env_and_files_relative_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "etc"
    (config_dir / "keys").mkdir(parents=True)
    (config_dir / "keys" / "hmac.txt").write_text("f" * 40 + "\n")  # the newline is not part of the secret
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (config_dir / "keys" / "es.pem").write_bytes(pem)
    (config_dir / "keys" / "es.pub").write_bytes(public_pem)
    (config_dir / "salt").write_text("pepper\n")
    monkeypatch.setenv("POLICY_TEST_HMAC", "e" * 33)
    (config_dir / "site.toml").write_text(
        f"""
[[consent.keys]]
kid = "es"
alg = "ES256"
private_key_file = "keys/es.pem"
public_key_file = "keys/es.pub"
[[consent.keys]]
kid = "file"
secret_file = "keys/hmac.txt"
[[consent.keys]]
kid = "env"
secret_env = "POLICY_TEST_HMAC"

[receipts]
ip_salt_file = "salt"

[sites.default]
{UP}
"""
    )
    monkeypatch.chdir(tmp_path)  # not the config's directory: paths resolve from the file, not the cwd
    config = load_config("etc/site.toml")
    keys = {key.kid: key for key in config.consent.keys}
    assert list(keys) == ["es", "file", "env"]
    assert keys["es"].private_key == pem.decode("ascii")
    assert keys["es"].public_key == public_pem.decode("ascii")
    assert keys["es"].can_sign
    assert keys["file"].secret == "f" * 40
    assert keys["env"].secret == "e" * 33
    assert config.receipts.ip_salt == b"pepper"
    assert "fff" not in repr(keys["file"])  # key material stays out of logs and reprs


def test_no_keys_means_the_consentry_secret_key(write_config: Callable[..., str]) -> None:
    (key,) = load_config(write_config(f"[sites.default]\n{UP}\n")).consent.keys
    assert (key.kid, key.alg, key.secret) == ("default", "HS256", GOOD_SECRET)


def test_no_keys_and_a_short_secret_is_an_error(
    write_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENTRY_SECRET", "tiny")
    assert check_config(write_config(f"[sites.default]\n{UP}\n")) == (
        2,
        [
            "site.toml: consent.keys: no keys are configured, so CONSENTRY_SECRET is used, but the HS256 secret "
            "is 4 bytes; use at least 32 (`consentry keys generate --alg HS256` makes one)"
        ],
    )


def test_zero_config_uses_consentry_secret(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        config = default_config(upstream="http://127.0.0.1:8000")
    assert caplog.records == []
    assert list(config.sites) == ["default"]
    site = config.sites["default"]
    assert (site.site_id, site.upstream, site.hosts) == ("default", "http://127.0.0.1:8000", ())
    assert config.site_for_host("anything.example:1234") is site
    (key,) = config.consent.keys
    assert (key.kid, key.alg, key.secret, key.ephemeral) == ("default", "HS256", GOOD_SECRET, False)
    assert config.source is None


def test_zero_config_upstream_defaults_to_local_port_8000() -> None:
    """The CLI passes upstream=None when --upstream is absent."""
    assert default_config(None).sites["default"].upstream == "http://127.0.0.1:8000"
    assert default_config("https://backend.internal:8443/").sites["default"].upstream == "https://backend.internal:8443"


def test_zero_config_without_a_secret_warns_and_uses_a_random_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CONSENTRY_SECRET")
    with caplog.at_level(logging.WARNING, logger="proxy.policy"):
        first = default_config(upstream="http://127.0.0.1:8000")
        second = default_config(upstream="http://127.0.0.1:8000")
    assert first.consent.keys[0].ephemeral and second.consent.keys[0].ephemeral
    secrets = [first.consent.keys[0].secret, second.consent.keys[0].secret]
    assert secrets[0] != secrets[1]
    assert all(secret is not None and len(secret) >= 32 for secret in secrets)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "consent cookies will not survive a restart" in warnings[0]


def test_zero_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as raised:
        default_config(upstream="localhost:8000")
    assert raised.value.lines() == ['--upstream: "localhost:8000" is not an http:// or https:// URL']
    monkeypatch.setenv("CONSENTRY_SECRET", "short")
    with pytest.raises(ConfigError) as raised:
        default_config(upstream="http://127.0.0.1:8000")
    assert raised.value.lines() == [
        "environment: CONSENTRY_SECRET: the HS256 secret is 5 bytes; use at least 32 "
        "(`consentry keys generate --alg HS256` makes one)"
    ]


def test_check_config_ok_prints_a_line_per_site(write_config: Callable[..., str]) -> None:
    path = write_config(
        f"""
        [sites."shop.example"]
        upstream = "https://backend.internal"
        aliases = ["www.shop.example"]
        mode = "strip"
        rules = [{{ category = "marketing", host = "ads.example" }}]
        categories.social.label.en = "Social"

        [sites.default]
        {UP}
        """
    )
    assert check_config(path) == (
        0,
        [
            "ok",
            "shop.example: shop.example, www.shop.example -> https://backend.internal (mode strip; categories "
            "necessary, preferences, analytics, marketing, social; 1 rule)",
            "default: (every other host) -> http://127.0.0.1:8000 (mode defer; categories necessary, "
            "preferences, analytics, marketing; 0 rules)",
        ],
    )


def test_check_config_notes_a_random_secret_instead_of_logging_it(
    write_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CONSENTRY_SECRET")
    path = write_config(f"[sites.default]\n{UP}\n")
    with caplog.at_level(logging.WARNING):
        status, lines = check_config(path)
    assert status == 0
    assert lines[-1] == (
        "note: CONSENTRY_SECRET is not set: using a random secret, so consent cookies will not survive a restart "
        "(set CONSENTRY_SECRET to 32+ random bytes, e.g. from `consentry keys generate --alg HS256`)"
    )
    assert caplog.records == []
    with caplog.at_level(logging.WARNING):
        assert load_config(path).consent.keys[0].ephemeral  # outside check-config the warning is logged
    assert [r.name for r in caplog.records] == ["proxy.policy.keyring"]
