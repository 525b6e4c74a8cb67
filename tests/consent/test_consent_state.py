"""ConsentState.allows and simulated states; property: no cookie input raises or
grants more than a genuine token did."""

from __future__ import annotations

import pytest
from consent.consent_helpers import HS_SECRET, NOW, make_site
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.consent import ConsentState, KeyRing, issue_token, read_consent

SITE = make_site()
RING = KeyRing.single_hs256(HS_SECRET, kid="k1")
GENUINE, _ = issue_token(RING, site=SITE, categories=["analytics"], now=NOW)


def test_necessary_is_always_allowed() -> None:
    state = ConsentState()
    assert state.allows("necessary") and state.allows("necessary", "stripe")
    assert ConsentState(vendors={"stripe": False}).allows("necessary", "stripe")  # cannot be refused


def test_vendor_overrides_both_ways() -> None:
    state = ConsentState(categories=frozenset({"necessary", "analytics"}), vendors={"hotjar": False, "youtube-embed": True})
    assert state.allows("analytics", "google-analytics")
    assert not state.allows("analytics", "hotjar")  # denied although the category is granted
    assert state.allows("marketing", "youtube-embed")  # "always allow this vendor"
    assert not state.allows("marketing", "meta-pixel")
    assert not state.allows("marketing")


def test_gpc_beats_a_vendor_grant() -> None:
    state = ConsentState(categories=frozenset({"necessary"}), vendors={"youtube-embed": True}, gpc=True)
    assert not state.allows("marketing", "youtube-embed")
    assert state.allows("preferences", "youtube-embed")


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("all", {"necessary", "preferences", "analytics", "marketing"}),
        ("none", {"necessary"}),
        ("", {"necessary"}),
        ("analytics, marketing", {"necessary", "analytics", "marketing"}),
        (["preferences"], {"necessary", "preferences"}),
        (["all"], {"necessary", "preferences", "analytics", "marketing"}),
    ],
)
def test_simulated_states(choice: str | list[str], expected: set[str]) -> None:
    state = ConsentState.simulated(choice)
    assert state.categories == expected
    assert state.source == "simulated" and state.decided and state.failure is None


def test_simulated_all_uses_the_sites_categories_and_gpc() -> None:
    state = ConsentState.simulated("all", all_categories=["necessary", "social", "marketing"], gpc=True)
    assert state.categories == {"necessary", "social"}
    assert not state.allows("marketing")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=4), st.booleans())
def test_arbitrary_cookie_headers_never_raise_and_grant_nothing(headers: list[str], gpc: bool) -> None:
    state = read_consent(headers, site=SITE, keyring=RING, gpc=gpc, now=NOW)
    assert state.categories == {"necessary"}
    assert state.failure is not None


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(GENUINE) - 1), st.sampled_from("AQgw_-.=xZ09"))
def test_a_mutated_token_never_grants_more_than_the_genuine_one(position: int, replacement: str) -> None:
    mutated = GENUINE[:position] + replacement + GENUINE[position + 1 :]
    state = read_consent([f"consentry={mutated}"], site=SITE, keyring=RING, now=NOW)
    # Some one-character edits are invisible after base64 decoding (unused low bits);
    # any state that survives must be exactly the genuine grant, never more.
    assert state.categories in ({"necessary"}, {"necessary", "analytics"})
    assert (state.failure is None) == (state.categories == {"necessary", "analytics"})
