"""Fixtures for the consent tests: a site and key rings of every algorithm."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from consent.consent_helpers import HS_SECRET, ec_private_pem, ed_private_pem, make_site

from proxy.consent import KeyRing, KeySpec
from proxy.policy import SitePolicy


@pytest.fixture
def site() -> SitePolicy:
    return make_site()


@pytest.fixture
def hs_ring() -> KeyRing:
    return KeyRing.single_hs256(HS_SECRET, kid="k1")


@pytest.fixture(params=["HS256", "ES256", "EdDSA"])
def any_ring(request: pytest.FixtureRequest) -> KeyRing:
    alg = request.param
    if alg == "HS256":
        return KeyRing.single_hs256(HS_SECRET, kid="k1")
    pem = ec_private_pem() if alg == "ES256" else ed_private_pem()
    return KeyRing.from_specs([KeySpec(kid="k1", alg=alg, private_key=pem)])


@pytest.fixture
def cookie() -> Callable[[str], list[str]]:
    """Raw Cookie header values carrying a consent token among other cookies."""
    return lambda token: [f"_ga=GA1.1.123; consentry={token}; session=abc"]
