"""A visitor's consent choice, parsed from the banner's form or JSON post.

The server's `/_consent/` handlers stay thin: they hand the posted fields to
`decide_from_form` / `decide_from_json`, get a `Decision` (what was granted and
refused, already restricted to the site's categories), issue a token for it and
answer `status_json`. Bad input raises ValueError with a message fit for a 400
response. Imports the stdlib only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TYPE_CHECKING

from proxy.consent.sites import category_names
from proxy.defaults import NECESSARY
from proxy.consent.state import ConsentState
from proxy.consent.tokens import MAX_VENDOR_ID_LENGTH, MAX_VENDOR_OVERRIDES

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy


__all__ = ["ACTIONS", "Decision", "decide_from_form", "decide_from_json", "receipt_action", "status_json"]

# "withdraw" refuses everything like reject_all, but says so in the receipt.
ACTIONS: Final[tuple[str, ...]] = ("accept_all", "reject_all", "save", "withdraw")


@dataclass(frozen=True, slots=True)
class Decision:
    """What the visitor chose: granted `categories` (incl. necessary) and the `refused` rest."""

    action: str
    categories: frozenset[str]
    refused: frozenset[str]
    vendors: Mapping[str, bool] = field(default_factory=dict)

    def granted_list(self, site: SitePolicy) -> list[str]:
        """Granted categories in the site's order (for receipts and JSON)."""
        return [name for name in category_names(site) if name in self.categories]

    def refused_list(self, site: SitePolicy) -> list[str]:
        return [name for name in category_names(site) if name in self.refused]


def _decide(action: str, chosen: Iterable[str], vendors: Mapping[str, bool], site: SitePolicy) -> Decision:
    known = category_names(site)
    if action == "accept_all":
        granted = set(known)
    elif action in ("reject_all", "withdraw"):
        granted = {NECESSARY}
    else:
        # Unknown names are ignored: a banner cached before a policy change must still work.
        granted = {name for name in chosen if name in known} | {NECESSARY}
    return Decision(
        action=action,
        categories=frozenset(granted),
        refused=frozenset(name for name in known if name not in granted),
        vendors=dict(vendors),
    )


def _check_action(action: object) -> str:
    if action not in ACTIONS:
        raise ValueError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    return str(action)


def decide_from_form(fields: Iterable[tuple[str, str]], *, site: SitePolicy) -> Decision:
    """From form fields: `action` (one), `category` (one per granted category for save)."""
    pairs = list(fields)
    actions = {value for key, value in pairs if key == "action"}
    if not actions:
        raise ValueError("the form has no action field; send action=accept_all, reject_all or save")
    if len(actions) > 1:
        raise ValueError(f"the form has several actions ({', '.join(sorted(actions))}); send exactly one")
    action = _check_action(actions.pop())
    return _decide(action, (value for key, value in pairs if key == "category"), {}, site)


def decide_from_json(obj: Any, *, site: SitePolicy) -> Decision:
    """From a JSON body: {"action": ..., "categories": [...], "vendors": {"id": bool}}."""
    if not isinstance(obj, dict):
        raise ValueError('the body must be a JSON object such as {"action": "reject_all"}')
    action = _check_action(obj.get("action"))
    categories = obj.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(name, str) for name in categories):
        raise ValueError('"categories" must be a list of category names')
    vendors = obj.get("vendors", {})
    if not isinstance(vendors, dict):
        raise ValueError('"vendors" must be an object such as {"youtube-embed": true}')
    if len(vendors) > MAX_VENDOR_OVERRIDES:
        raise ValueError(f'"vendors": at most {MAX_VENDOR_OVERRIDES} overrides')
    for vendor_id, allowed in vendors.items():
        if not 0 < len(vendor_id) <= MAX_VENDOR_ID_LENGTH or not isinstance(allowed, bool):
            raise ValueError(f'"vendors": {vendor_id!r} needs a short id and true or false')
    return _decide(action, categories, vendors, site)


def receipt_action(decision: Decision, previous: ConsentState) -> str:
    """The action to record: "withdraw" when a visitor who had granted more than the
    necessary now refuses everything (GDPR Art. 7(3)), else the decision's own action."""
    had_consent = previous.source == "cookie" and previous.decided and bool(previous.categories - {NECESSARY})
    if had_consent and decision.action in ("reject_all", "withdraw"):
        return "withdraw"
    if decision.action == "withdraw":
        return "reject_all"  # nothing was given, so nothing is withdrawn
    return decision.action


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


def status_json(state: ConsentState, *, site: SitePolicy) -> dict[str, Any]:
    """The `/_consent/status` body (also the answer to a JSON post)."""
    body: dict[str, Any] = {
        "categories": [name for name in category_names(site) if name in state.categories],
        "policy_version": site.policy_version,
        "expires": _iso(state.expires_at),
        "consent_id": state.consent_id,
        "decided": state.decided,
        "gpc": state.gpc,
    }
    if state.vendors:
        body["vendors"] = dict(state.vendors)
    return body
