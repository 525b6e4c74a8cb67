"""The key ring: loading each algorithm, refusing unsafe keys, rotation, key generation."""

from __future__ import annotations

import tomllib

import pytest
from consent.consent_helpers import NOW, ec_private_pem, ed_private_pem, make_site, public_pem_of
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from proxy.consent import (
    KeyRing,
    KeySpec,
    generate_key,
    generate_key_material,
    issue_token,
    read_consent,
    verify_token_verbose,
)
from proxy.policy import KeySpec as PolicyKeySpec
from proxy.policy import SitePolicy

SECRET_A = "a" * 40
SECRET_B = "b" * 40


def cookie(token: str) -> list[str]:
    return [f"consentry={token}"]


def test_first_key_signs_and_every_key_verifies(site: SitePolicy) -> None:
    old_ring = KeyRing.from_specs([KeySpec(kid="old", alg="HS256", secret=SECRET_A)])
    old_token, _ = issue_token(old_ring, site=site, categories=["analytics"], now=NOW)

    # Rotation: the new key goes first, the old one stays to verify cookies already issued.
    new_key = KeySpec(kid="new", alg="EdDSA", private_key=ed_private_pem())
    rotated = KeyRing.from_specs([new_key, KeySpec(kid="old", alg="HS256", secret=SECRET_A)])
    assert rotated.signer.kid == "new"
    new_token, _ = issue_token(rotated, site=site, categories=["marketing"], now=NOW)
    assert read_consent(cookie(old_token), site=site, keyring=rotated, now=NOW).allows("analytics")
    assert read_consent(cookie(new_token), site=site, keyring=rotated, now=NOW).allows("marketing")

    # After removal the old key's cookies unlock nothing.
    retired = KeyRing.from_specs([new_key])
    state = read_consent(cookie(old_token), site=site, keyring=retired, now=NOW)
    assert state.failure == "unknown_kid" and not state.allows("analytics")
    assert read_consent(cookie(new_token), site=site, keyring=retired, now=NOW).allows("marketing")


def test_public_key_is_derived_from_the_private_key(site: SitePolicy) -> None:
    pem = ec_private_pem()
    signer = KeyRing.from_specs([KeySpec(kid="ec", alg="ES256", private_key=pem)])
    verifier = KeyRing.from_specs([KeySpec(kid="ec", alg="ES256", public_key=public_pem_of(pem))])
    token, _ = issue_token(signer, site=site, categories=["analytics"], now=NOW)
    assert read_consent(cookie(token), site=site, keyring=verifier, now=NOW).allows("analytics")
    assert not verifier.signer.can_sign
    with pytest.raises(ValueError, match="cannot sign"):
        issue_token(verifier, site=site, categories=[], now=NOW)


def test_mismatched_key_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="does not belong"):
        KeyRing.from_specs([KeySpec(kid="ec", alg="ES256", private_key=ec_private_pem(), public_key=public_pem_of(ec_private_pem()))])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (KeySpec(kid="k", alg="HS256", secret="short"), "at least 32"),
        (KeySpec(kid="k", alg="HS256"), "needs a secret"),
        (KeySpec(kid="k", alg="HS256", secret="-----BEGIN PUBLIC KEY-----" + "x" * 40), "looks like a PEM"),
        (KeySpec(kid="k", alg="RS256", secret=SECRET_A), "not supported"),
        (KeySpec(kid="k", alg="none", secret=SECRET_A), "not supported"),
        (KeySpec(kid="", alg="HS256", secret=SECRET_A), "non-empty kid"),
        (KeySpec(kid="k", alg="ES256"), "needs private_key"),
        (KeySpec(kid="k", alg="ES256", private_key="not a pem"), "not an unencrypted PEM"),
        (KeySpec(kid="k", alg="EdDSA", private_key=ec_private_pem()), "Ed25519"),
        (KeySpec(kid="k", alg="ES256", private_key=ed_private_pem()), "P-256"),
    ],
)
def test_bad_key_specs_say_what_to_fix(spec: KeySpec, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KeyRing.from_specs([spec])


def test_wrong_curve_is_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="P-256"):
        KeyRing.from_specs([KeySpec(kid="k", alg="ES256", private_key=p384.decode())])


def test_duplicate_kids_and_empty_rings_are_refused() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        KeyRing.from_specs([KeySpec(kid="k", alg="HS256", secret=SECRET_A), KeySpec(kid="k", alg="HS256", secret=SECRET_B)])
    with pytest.raises(ValueError, match="empty"):
        KeyRing.from_specs([])


def test_the_policy_loaders_key_specs_build_the_same_ring(site: SitePolicy) -> None:
    # The ring reads any `KeyMaterial`: the policy file's pydantic KeySpec as well as ours.
    ring = KeyRing.from_specs([PolicyKeySpec(kid="k", alg="HS256", secret=SECRET_A)])
    token, _ = issue_token(ring, site=site, categories=["analytics"], now=NOW)
    assert read_consent(cookie(token), site=site, keyring=KeyRing.single_hs256(SECRET_A, kid="k"), now=NOW).allows("analytics")
    assert SECRET_A not in repr(ring)


@pytest.mark.parametrize("alg", ["HS256", "ES256", "EdDSA"])
def test_generated_keys_load_and_sign(alg: str, tmp_path, site: SitePolicy) -> None:
    generated = generate_key_material(alg, kid="2026-test")
    snippet = tomllib.loads(generated.toml)
    (entry,) = snippet["consent"]["keys"]
    assert entry["kid"] == "2026-test" and entry["alg"] == alg
    if alg == "HS256":
        spec = KeySpec(kid=entry["kid"], alg=alg, secret=entry["secret"])
        assert generated.private_pem is None
    else:
        assert entry["private_key_file"] == "2026-test.pem"
        assert generated.private_pem is not None and generated.private_pem in generated.text()
        spec = KeySpec(kid=entry["kid"], alg=alg, private_key=generated.private_pem)
    ring = KeyRing.from_specs([spec])
    token, _ = issue_token(ring, site=site, categories=["analytics"], now=NOW)
    assert read_consent(cookie(token), site=site, keyring=ring, now=NOW).allows("analytics")


def test_generated_keys_differ_and_text_explains_where_to_put_them() -> None:
    first, second = generate_key("HS256"), generate_key("HS256")
    assert first != second
    assert "[[consent.keys]]" in first
    assert "Save the private key" in generate_key("EdDSA")
    with pytest.raises(ValueError, match="not supported"):
        generate_key("HS1")


def test_verify_token_verbose_explains_why(hs_ring: KeyRing, site: SitePolicy) -> None:
    token, claims = issue_token(hs_ring, site=site, categories=["analytics"], now=NOW)
    assert verify_token_verbose(hs_ring, token, site=site, now=NOW) == (True, claims)
    ok, reason = verify_token_verbose(hs_ring, token, site=make_site(policy_version="9"), now=NOW)
    assert not ok and isinstance(reason, str) and reason.startswith("outdated_policy")
    ok, reason = verify_token_verbose(hs_ring, token + "x", site=site, now=NOW)
    assert not ok and isinstance(reason, str)
    # Without a site, audience and policy version are not checked, time still is.
    assert verify_token_verbose(hs_ring, token, now=NOW)[0]
    ok, reason = verify_token_verbose(hs_ring, token, now=claims["exp"] + 1)
    assert not ok and isinstance(reason, str) and reason.startswith("expired")
