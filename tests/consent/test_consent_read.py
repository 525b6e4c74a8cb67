"""read_consent fails closed: every way a cookie can be wrong yields "necessary only",
a named failure reason, a counter increment and a debug log line, never an exception."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import pytest
from consent.consent_helpers import (
    HS_SECRET,
    NOW,
    b64url,
    ec_private_pem,
    hs256_token,
    make_site,
    public_pem_of,
    raw_token,
    valid_claims,
)

from proxy.consent import ConsentFailure, KeyRing, KeySpec, failure_counts, issue_token, read_consent
from proxy.consent.tokens import IAT_LEEWAY_SECONDS
from proxy.policy import SitePolicy

NECESSARY_ONLY = frozenset({"necessary"})


def read(token: str, site: SitePolicy, ring: KeyRing, **kwargs: object):
    return read_consent([f"_ga=GA1.1.1; consentry={token}"], site=site, keyring=ring, now=NOW, **kwargs)


def assert_refused(state, reason: ConsentFailure) -> None:
    assert state.failure == reason.value
    assert state.categories == NECESSARY_ONLY
    assert state.decided is False
    assert state.source == "none"
    assert state.consent_id is None
    assert not state.allows("analytics") and not state.allows("marketing")
    assert state.allows("necessary")


def test_valid_cookie_grants_its_categories(any_ring: KeyRing, site: SitePolicy) -> None:
    token, claims = issue_token(any_ring, site=site, categories=["analytics", "preferences"], now=NOW)
    state = read(token, site, any_ring)
    assert state.failure is None
    assert state.categories == {"necessary", "analytics", "preferences"}
    assert state.decided and state.source == "cookie"
    assert state.consent_id == claims["sub"]
    assert state.issued_at == NOW and state.expires_at == NOW + 180 * 86400
    assert state.policy_version == "3"
    assert state.allows("analytics") and not state.allows("marketing")


def test_missing_cookie(hs_ring: KeyRing, site: SitePolicy) -> None:
    state = read_consent(["_ga=1; other=2"], site=site, keyring=hs_ring, now=NOW)
    assert_refused(state, ConsentFailure.MISSING)
    assert_refused(read_consent([], site=site, keyring=hs_ring), ConsentFailure.MISSING)


@pytest.mark.parametrize(
    "value",
    ["", "garbage", "a.b", "a.b.c", "....", "e30.e30.", b64url(b"not json") + ".e30.", "eyJhbGciOiJIUzI1NiJ9.%%%.x"],
)
def test_malformed_cookie(hs_ring: KeyRing, site: SitePolicy, value: str) -> None:
    assert_refused(read(value, site, hs_ring), ConsentFailure.MALFORMED)


def test_payload_that_is_not_an_object_is_malformed(hs_ring: KeyRing, site: SitePolicy) -> None:
    unsigned = f"{b64url(json.dumps({'alg': 'HS256', 'kid': 'k1'}).encode())}.{b64url(b'[1,2]')}"
    signature = hmac.new(HS_SECRET.encode(), unsigned.encode(), hashlib.sha256).digest()
    assert_refused(read(f"{unsigned}.{b64url(signature)}", site, hs_ring), ConsentFailure.MALFORMED)


def test_forged_signature(hs_ring: KeyRing, site: SitePolicy) -> None:
    forged = hs256_token({"alg": "HS256", "kid": "k1"}, valid_claims(), b"another-secret-" + b"y" * 32)
    assert_refused(read(forged, site, hs_ring), ConsentFailure.BAD_SIGNATURE)


def test_tampered_payload_keeps_nothing(any_ring: KeyRing, site: SitePolicy) -> None:
    token, claims = issue_token(any_ring, site=site, categories=[], now=NOW)
    head, _, signature = token.split(".")
    widened = b64url(json.dumps({**claims, "cats": ["analytics", "marketing"]}).encode())
    assert_refused(read(f"{head}.{widened}.{signature}", site, any_ring), ConsentFailure.BAD_SIGNATURE)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(hs_ring: KeyRing, site: SitePolicy, alg: str) -> None:
    unsigned = raw_token({"alg": alg, "kid": "k1", "typ": "JWT"}, valid_claims())
    assert_refused(read(unsigned, site, hs_ring), ConsentFailure.ALG_NONE)


def test_algorithm_confusion_hs256_with_ec_public_key_as_secret(site: SitePolicy) -> None:
    # The classic attack: the verifier holds an EC public key (public knowledge), the
    # attacker signs with HMAC using that PEM as the secret and says alg HS256.
    private_pem = ec_private_pem()
    ring = KeyRing.from_specs([KeySpec(kid="ec1", alg="ES256", private_key=private_pem)])
    public_pem = public_pem_of(private_pem).encode()
    confused = hs256_token({"alg": "HS256", "kid": "ec1"}, valid_claims(cats=["marketing"]), public_pem)
    assert_refused(read(confused, site, ring), ConsentFailure.ALG_MISMATCH)


def test_header_alg_never_overrides_the_key(hs_ring: KeyRing, site: SitePolicy) -> None:
    # Even a genuine HMAC signature is refused when the header names another algorithm.
    for alg in ("HS384", "HS512", "ES256", "EdDSA", "RS256"):
        token = hs256_token({"alg": alg, "kid": "k1"}, valid_claims(), HS_SECRET.encode())
        assert_refused(read(token, site, hs_ring), ConsentFailure.ALG_MISMATCH)


@pytest.mark.parametrize("header", [{"alg": "HS256", "kid": "nope"}, {"alg": "HS256"}, {"alg": "HS256", "kid": 7}])
def test_unknown_or_missing_kid(hs_ring: KeyRing, site: SitePolicy, header: dict[str, object]) -> None:
    token = hs256_token(header, valid_claims(), HS_SECRET.encode())
    state = read(token, site, hs_ring)
    # PyJWT rejects a non-string kid as a malformed header before we look it up.
    expected = ConsentFailure.MALFORMED if header.get("kid") == 7 else ConsentFailure.UNKNOWN_KID
    assert_refused(state, expected)


def test_expired(any_ring: KeyRing, site: SitePolicy) -> None:
    token, claims = issue_token(any_ring, site=site, categories=["analytics"], now=NOW)
    assert read_consent([f"consentry={token}"], site=site, keyring=any_ring, now=claims["exp"] - 1).failure is None
    state = read_consent([f"consentry={token}"], site=site, keyring=any_ring, now=claims["exp"])
    assert_refused(state, ConsentFailure.EXPIRED)


def test_lifetime_shortened_in_policy_expires_older_cookies(hs_ring: KeyRing, site: SitePolicy) -> None:
    token, _ = issue_token(hs_ring, site=site, categories=["analytics"], now=NOW)
    shorter = make_site(lifetime_days=30)
    later = NOW + 31 * 86400
    assert read_consent([f"consentry={token}"], site=site, keyring=hs_ring, now=later).failure is None
    assert_refused(read_consent([f"consentry={token}"], site=shorter, keyring=hs_ring, now=later), ConsentFailure.EXPIRED)


def test_issued_in_the_future(hs_ring: KeyRing, site: SitePolicy) -> None:
    within, _ = issue_token(hs_ring, site=site, categories=["analytics"], now=NOW + IAT_LEEWAY_SECONDS)
    assert read(within, site, hs_ring).failure is None  # small clock skew is tolerated
    beyond, _ = issue_token(hs_ring, site=site, categories=["analytics"], now=NOW + IAT_LEEWAY_SECONDS + 1)
    assert_refused(read(beyond, site, hs_ring), ConsentFailure.ISSUED_IN_FUTURE)
    nbf = hs256_token({"alg": "HS256", "kid": "k1"}, valid_claims(nbf=int(NOW) + 3600), HS_SECRET.encode())
    assert_refused(read(nbf, site, hs_ring), ConsentFailure.ISSUED_IN_FUTURE)


def test_wrong_audience(hs_ring: KeyRing, site: SitePolicy) -> None:
    other_site = make_site(site_id="blog")
    token, _ = issue_token(hs_ring, site=other_site, categories=["analytics"], now=NOW)
    assert_refused(read(token, site, hs_ring), ConsentFailure.WRONG_AUDIENCE)
    no_aud = valid_claims()
    del no_aud["aud"]
    assert_refused(read(hs256_token({"alg": "HS256", "kid": "k1"}, no_aud, HS_SECRET.encode()), site, hs_ring), ConsentFailure.WRONG_AUDIENCE)


def test_policy_version_bump_asks_again(hs_ring: KeyRing, site: SitePolicy) -> None:
    token, _ = issue_token(hs_ring, site=site, categories=["analytics"], now=NOW)
    assert read(token, site, hs_ring).failure is None
    bumped = make_site(policy_version="4")
    assert_refused(read(token, bumped, hs_ring), ConsentFailure.OUTDATED_POLICY)


def test_integer_policy_version_matches_its_string_form(hs_ring: KeyRing) -> None:
    # `policy_version = 7` in the file loads as "7"; a token that carries pv as the
    # integer 7 (signed by another issuer) still matches it.
    site = make_site(policy_version=7)
    assert site.policy_version == "7"
    token, claims = issue_token(hs_ring, site=site, categories=["analytics"], now=NOW)
    assert claims["pv"] == "7"
    assert read(token, make_site(policy_version="7"), hs_ring).failure is None
    integer = hs256_token({"alg": "HS256", "typ": "JWT", "kid": "k1"}, valid_claims(pv=7), HS_SECRET.encode())
    assert read(integer, make_site(policy_version="7"), hs_ring).failure is None


def test_oversized_cookie(hs_ring: KeyRing, site: SitePolicy) -> None:
    token, _ = issue_token(hs_ring, site=site, categories=["analytics"], now=NOW)
    padded = token + "A" * (4097 - len(token))
    assert_refused(read(padded, site, hs_ring), ConsentFailure.OVERSIZED)


def test_duplicate_cookies_with_different_values(hs_ring: KeyRing, site: SitePolicy) -> None:
    all_in, _ = issue_token(hs_ring, site=site, categories=["analytics", "marketing"], now=NOW)
    none, _ = issue_token(hs_ring, site=site, categories=[], now=NOW)
    for headers in ([f"consentry={all_in}; consentry={none}"], [f"consentry={all_in}", f"consentry={none}"]):
        assert_refused(read_consent(headers, site=site, keyring=hs_ring, now=NOW), ConsentFailure.DUPLICATE)


def test_the_same_cookie_sent_twice_is_not_ambiguous(hs_ring: KeyRing, site: SitePolicy) -> None:
    token, _ = issue_token(hs_ring, site=site, categories=["analytics"], now=NOW)
    state = read_consent([f"consentry={token}; consentry={token}"], site=site, keyring=hs_ring, now=NOW)
    assert state.failure is None and state.allows("analytics")


@pytest.mark.parametrize(
    "bad",
    [
        {"sub": None},
        {"sub": ""},
        {"iat": "yesterday"},
        {"exp": True},
        {"cats": "analytics"},
        {"cats": [1, 2]},
        {"vendors": ["meta-pixel"]},
        {"vendors": {"meta-pixel": "yes"}},
        {"pv": [3]},
        {"nbf": "soon"},
    ],
)
def test_signed_but_ill_typed_claims(hs_ring: KeyRing, site: SitePolicy, bad: dict[str, object]) -> None:
    claims = valid_claims(**bad)
    token = hs256_token({"alg": "HS256", "kid": "k1"}, claims, HS_SECRET.encode())
    assert_refused(read(token, site, hs_ring), ConsentFailure.BAD_CLAIMS)


def test_unknown_categories_in_the_cookie_are_ignored(hs_ring: KeyRing, site: SitePolicy) -> None:
    claims = valid_claims(cats=["analytics", "telepathy", "necessary"])
    token = hs256_token({"alg": "HS256", "kid": "k1"}, claims, HS_SECRET.encode())
    state = read(token, site, hs_ring)
    assert state.failure is None
    assert state.categories == {"necessary", "analytics"}


def test_failures_are_counted_and_logged_at_debug_only(
    hs_ring: KeyRing, site: SitePolicy, caplog: pytest.LogCaptureFixture
) -> None:
    before = dict(failure_counts)
    caplog.set_level(logging.DEBUG, logger="proxy.consent")
    read("garbage", site, hs_ring)
    read("garbage", site, hs_ring)
    read_consent([], site=site, keyring=hs_ring)
    assert failure_counts["malformed"] - before.get("malformed", 0) == 2
    assert failure_counts["missing"] - before.get("missing", 0) == 1
    messages = [record for record in caplog.records if record.name.startswith("proxy.consent")]
    assert any("malformed" in record.getMessage() for record in messages)
    assert all(record.levelno == logging.DEBUG for record in messages)


def test_every_failure_reason_is_reachable_from_a_test() -> None:
    # Guards this file: adding a reason to the enum without a test here fails.
    tested = {
        "missing", "malformed", "bad_signature", "alg_none", "alg_mismatch", "unknown_kid", "expired",
        "issued_in_future", "wrong_audience", "outdated_policy", "oversized", "duplicate", "bad_claims",
    }  # fmt: skip
    assert {reason.value for reason in ConsentFailure} == tested


def test_gpc_refuses_marketing_whatever_the_cookie_says(hs_ring: KeyRing, site: SitePolicy) -> None:
    token, _ = issue_token(
        hs_ring, site=site, categories=["analytics", "marketing"], vendors={"meta-pixel": True}, now=NOW
    )
    state = read(token, site, hs_ring, gpc=True)
    assert state.gpc is True and state.failure is None
    assert state.categories == {"necessary", "analytics"}
    assert not state.allows("marketing")
    assert not state.allows("marketing", "meta-pixel")  # a vendor override cannot undo GPC
    assert state.allows("analytics")


def test_gpc_is_ignored_when_the_site_turns_it_off(hs_ring: KeyRing) -> None:
    site = make_site(honor_gpc=False)
    token, _ = issue_token(hs_ring, site=site, categories=["marketing"], now=NOW)
    state = read(token, site, hs_ring, gpc=True)
    assert state.gpc is False and state.allows("marketing")


def test_gpc_without_a_cookie_is_still_recorded(hs_ring: KeyRing, site: SitePolicy) -> None:
    state = read_consent([], site=site, keyring=hs_ring, gpc=True)
    assert state.gpc is True and state.failure == "missing" and not state.allows("marketing")


def test_a_bug_inside_still_fails_closed(hs_ring: KeyRing, caplog: pytest.LogCaptureFixture) -> None:
    class Exploding:
        site_id = "shop"
        cookie_name = "consentry"
        policy_version = "3"
        honor_gpc = True
        lifetime_days = 180

        @property
        def categories(self) -> list[str]:
            raise RuntimeError("policy object broke")

    token, _ = issue_token(hs_ring, site=make_site(), categories=["analytics"], now=NOW)
    caplog.set_level(logging.CRITICAL, logger="proxy.consent")
    state = read_consent([f"consentry={token}"], site=Exploding(), keyring=hs_ring, now=NOW)
    assert state.categories == NECESSARY_ONLY and state.failure == "malformed"
