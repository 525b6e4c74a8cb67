"""Tokens verified once are remembered (proxy.consent.tokens.decode_token_remembered):
the memory must never accept what a fresh verification would refuse."""

from __future__ import annotations

import time

import pytest
from consent.consent_helpers import HS_SECRET, hs256_token, make_site, valid_claims

from proxy.consent import ConsentFailure, KeyRing, read_consent
from proxy.consent import tokens


def read(token: str, site: object, ring: KeyRing):
    return read_consent([f"consentry={token}"], site=site, keyring=ring)   # now=None: the server's way


def token_at(now: float, **claims: object) -> str:
    return hs256_token({"alg": "HS256", "kid": "k1", "typ": "JWT"},
                       valid_claims(iat=int(now), exp=int(now) + 3600, **claims), HS_SECRET.encode())


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    site, ring = make_site(), KeyRing.single_hs256(HS_SECRET, kid="k1")
    start = time.time()
    token = token_at(start)
    verified = tokens.decode_token
    calls: list[str] = []
    monkeypatch.setattr(tokens, "decode_token", lambda *a, **k: calls.append("verify") or verified(*a, **k))
    assert read(token, site, ring).categories == {"necessary", "analytics"}
    assert read(token, site, ring).categories == {"necessary", "analytics"}
    assert calls == ["verify"]                                 # the second read came from memory
    monkeypatch.setattr(tokens.time, "time", lambda: start + 3601)
    state = read(token, site, ring)                            # past exp: verified again, refused
    assert state.failure == ConsentFailure.EXPIRED.value and state.categories == {"necessary"}
    assert calls == ["verify", "verify"]


def test_a_new_key_ring_or_policy_verifies_again() -> None:
    site, ring = make_site(), KeyRing.single_hs256(HS_SECRET, kid="k1")
    token = token_at(time.time())
    assert read(token, site, ring).categories == {"necessary", "analytics"}
    rotated = KeyRing.single_hs256("another-secret-" + "y" * 32, kid="k2")   # k1 retired by a reload
    assert read(token, site, rotated).failure == ConsentFailure.UNKNOWN_KID.value
    bumped = make_site(policy_version="4")                                  # the policy changed
    assert read(token, bumped, ring).failure == ConsentFailure.OUTDATED_POLICY.value


def test_a_forged_token_is_refused_and_counted_every_time() -> None:
    site, ring = make_site(), KeyRing.single_hs256(HS_SECRET, kid="k1")
    forged = hs256_token({"alg": "HS256", "kid": "k1"}, valid_claims(iat=int(time.time()), exp=int(time.time()) + 60),
                         b"not-the-secret-" + b"z" * 32)
    for _ in range(3):
        assert read(forged, site, ring).failure == ConsentFailure.BAD_SIGNATURE.value
    assert not any(key[0] == forged for key in tokens._VERIFIED)
