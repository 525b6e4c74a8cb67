"""The seam with proxy.consent: a loaded config's keys and sites drive real cookies end to end.

The policy package never imports the consent package (layering); this test joins them
the way the server does, so a change on either side that breaks the other fails here.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from proxy.consent import KeyRing, generate_key_material, issue_token, read_consent
from proxy.policy import load_config


def test_config_keys_sign_and_verify_cookies_per_site(write_config: Callable[..., str]) -> None:
    old_key = ed25519.Ed25519PrivateKey.generate()
    write_config(
        old_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii"),
        "old.pem",
    )
    path = write_config(
        """
        [[consent.keys]]
        kid = "new"
        secret_env = "CONSENTRY_SECRET"
        [[consent.keys]]
        kid = "old"
        alg = "EdDSA"
        private_key_file = "old.pem"

        [defaults]
        upstream = "http://127.0.0.1:8000"

        [sites."shop.example"]
        cookie_name = "shop_consent"
        policy_version = "2"
        categories.social.label.en = "Social"

        [sites."news.example"]
        """
    )
    config = load_config(path)
    ring = KeyRing.from_specs(config.consent.keys)
    assert ring.kids == ("new", "old")
    assert ring.signer.kid == "new"

    shop, news = config.sites["shop.example"], config.sites["news.example"]
    token, claims = issue_token(ring, site=shop, categories=["analytics", "social"])
    assert claims["aud"] == "shop.example" and claims["pv"] == "2"

    state = read_consent([f"shop_consent={token}"], site=shop, keyring=ring)
    assert state.allows("social") and state.allows("analytics") and not state.allows("marketing")
    # the same cookie is addressed to the shop: the news site must not honour it
    assert not read_consent([f"consentry={token}"], site=news, keyring=ring).allows("analytics")
    # an older cookie signed with the second key still verifies (rotation without logging anyone out)
    old_ring = KeyRing.from_specs(config.consent.keys[1:])
    old_token, _ = issue_token(old_ring, site=shop, categories=["analytics"])
    assert read_consent([f"shop_consent={old_token}"], site=shop, keyring=ring).allows("analytics")


def test_what_keys_generate_prints_loads_as_is(write_config: Callable[..., str]) -> None:
    """`consentry keys generate` output pasted into a config file is a valid key ring."""
    hmac = generate_key_material("HS256", kid="h")
    eddsa = generate_key_material("EdDSA", kid="e")
    assert eddsa.private_pem is not None
    write_config(eddsa.private_pem, "e.pem")
    path = write_config(f'{hmac.toml}\n{eddsa.toml}\n[sites.default]\nupstream = "http://127.0.0.1:8000"\n')
    keys = load_config(path).consent.keys
    assert [(key.kid, key.alg, key.can_sign) for key in keys] == [("h", "HS256", True), ("e", "EdDSA", True)]
    assert KeyRing.from_specs(keys).kids == ("h", "e")
