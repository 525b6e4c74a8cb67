"""Decisions from the banner's form and JSON posts, and the status JSON."""

from __future__ import annotations

import datetime as dt

import pytest
from consent.consent_helpers import NOW, make_site

from proxy.consent import (
    ConsentState,
    KeyRing,
    decide_from_form,
    decide_from_json,
    issue_token,
    read_consent,
    receipt_action,
    status_json,
)
from proxy.policy import SitePolicy

ALL = {"necessary", "preferences", "analytics", "marketing"}


def test_form_accept_and_reject_are_one_field_each(site: SitePolicy) -> None:
    accept = decide_from_form([("action", "accept_all"), ("return_to", "/")], site=site)
    reject = decide_from_form([("action", "reject_all"), ("return_to", "/")], site=site)
    assert accept.categories == ALL and accept.refused == set()
    assert reject.categories == {"necessary"} and reject.refused == ALL - {"necessary"}


def test_form_save_takes_one_category_field_per_grant(site: SitePolicy) -> None:
    decision = decide_from_form(
        [("action", "save"), ("category", "analytics"), ("category", "telepathy"), ("category", "necessary")], site=site
    )
    assert decision.action == "save"
    assert decision.categories == {"necessary", "analytics"}
    assert decision.refused == {"preferences", "marketing"}
    assert decision.granted_list(site) == ["necessary", "analytics"]
    assert decision.refused_list(site) == ["preferences", "marketing"]


def test_reject_all_ignores_category_fields(site: SitePolicy) -> None:
    decision = decide_from_form([("action", "reject_all"), ("category", "marketing")], site=site)
    assert decision.categories == {"necessary"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([], "no action"),
        ([("action", "accept_everything")], "not one of"),
        ([("action", "accept_all"), ("action", "reject_all")], "several actions"),
    ],
)
def test_bad_forms_raise_a_clear_value_error(site: SitePolicy, fields: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decide_from_form(fields, site=site)


def test_json_decisions(site: SitePolicy) -> None:
    assert decide_from_json({"action": "accept_all"}, site=site).categories == ALL
    assert decide_from_json({"action": "reject_all"}, site=site).categories == {"necessary"}
    saved = decide_from_json(
        {"action": "save", "categories": ["marketing", "nope"], "vendors": {"youtube-embed": True}}, site=site
    )
    assert saved.categories == {"necessary", "marketing"}
    assert saved.vendors == {"youtube-embed": True}
    withdrawn = decide_from_json({"action": "withdraw"}, site=site)
    assert withdrawn.action == "withdraw" and withdrawn.categories == {"necessary"}


@pytest.mark.parametrize(
    "body",
    [
        ["accept_all"],
        {"action": 1},
        {"action": "save", "categories": "analytics"},
        {"action": "save", "categories": [1]},
        {"action": "save", "vendors": ["youtube-embed"]},
        {"action": "save", "vendors": {"youtube-embed": "yes"}},
        {"action": "save", "vendors": {"": True}},
        {"action": "save", "vendors": {f"v{i}": True for i in range(100)}},
    ],
)
def test_bad_json_raises_value_error(site: SitePolicy, body: object) -> None:
    with pytest.raises(ValueError):
        decide_from_json(body, site=site)


def test_site_specific_categories_are_honoured() -> None:
    site = make_site(categories={"necessary": {}, "analytics": {}, "social": {}})
    assert decide_from_json({"action": "accept_all"}, site=site).categories == {"necessary", "analytics", "social"}
    assert decide_from_form([("action", "save"), ("category", "marketing")], site=site).categories == {"necessary"}


def test_decision_to_token_to_status_round_trip(hs_ring: KeyRing, site: SitePolicy) -> None:
    decision = decide_from_json({"action": "save", "categories": ["analytics"], "vendors": {"meta-pixel": False}}, site=site)
    token, claims = issue_token(hs_ring, site=site, categories=decision.categories, vendors=decision.vendors, now=NOW)
    assert claims["cats"] == ["analytics"] and claims["vendors"] == {"meta-pixel": False}
    state = read_consent([f"consentry={token}"], site=site, keyring=hs_ring, now=NOW)
    assert state == ConsentState.from_claims(claims, site=site)
    body = status_json(state, site=site)
    assert body == {
        "categories": ["necessary", "analytics"],
        "policy_version": "3",
        "expires": dt.datetime.fromtimestamp(NOW + 180 * 86400, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "consent_id": claims["sub"],
        "decided": True,
        "gpc": False,
        "vendors": {"meta-pixel": False},
    }


def test_status_of_an_undecided_visitor(site: SitePolicy) -> None:
    body = status_json(ConsentState(gpc=True), site=site)
    assert body == {
        "categories": ["necessary"],
        "policy_version": "3",
        "expires": None,
        "consent_id": None,
        "decided": False,
        "gpc": True,
    }


def test_issue_token_refuses_unknown_categories(hs_ring: KeyRing, site: SitePolicy) -> None:
    with pytest.raises(ValueError, match="unknown category telepathy"):
        issue_token(hs_ring, site=site, categories=["analytics", "telepathy"])


def test_receipt_action_names_a_withdrawal(site: SitePolicy) -> None:
    reject = decide_from_form([("action", "reject_all")], site=site)
    withdraw = decide_from_json({"action": "withdraw"}, site=site)
    accept = decide_from_form([("action", "accept_all")], site=site)
    consented = ConsentState(categories=frozenset({"necessary", "analytics"}), source="cookie", decided=True)
    refused_before = ConsentState(categories=frozenset({"necessary"}), source="cookie", decided=True)
    first_visit = ConsentState()
    assert receipt_action(reject, consented) == "withdraw"
    assert receipt_action(withdraw, consented) == "withdraw"
    assert receipt_action(reject, refused_before) == "reject_all"
    assert receipt_action(withdraw, first_visit) == "reject_all"
    assert receipt_action(accept, consented) == "accept_all"


def test_a_single_bare_header_string_is_accepted(hs_ring: KeyRing, site: SitePolicy) -> None:
    token, _ = issue_token(hs_ring, site=site, categories=["analytics"], now=NOW)
    state = read_consent(f"a=1; consentry={token}", site=site, keyring=hs_ring, now=NOW)  # type: ignore[arg-type]
    assert state.allows("analytics")
