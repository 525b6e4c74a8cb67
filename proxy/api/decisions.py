"""A consent decision from request bytes to answer bytes, without I/O (sans-io).

The proxy server (aiohttp) and the mitmproxy addon both answer ``POST <prefix>/``
with these steps and differ only in how they read the body and store the receipt:

1. ``is_cross_site(header, proto, host)``: refuse posts from other sites (403).
2. ``parse_decision(content_type, body, site)``: the visitor's choice, or an ``ApiError``.
3. ``plan_decision(...)``: the signed token, the receipt to store, the new state.
4. the adapter stores ``plan.receipt`` (no cookie without proof: a failure is a 503);
5. ``decision_reply(plan, receipt_id, ...)``: status, headers (the cookie, expired
   tracker cookies) and body: 303 for a form, the new state as JSON otherwise.

Imports the consent and receipts models (PyJWT); must not import aiohttp or mitmproxy.
"""

from __future__ import annotations

import datetime as dt
import json
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from proxy.defaults import GPC_REFUSED_CATEGORY
from proxy.consent import (
    ConsentState,
    Decision,
    KeyRing,
    consent_cookie_header,
    decide_from_form,
    decide_from_json,
    expire_cookie_headers,
    issue_token,
    receipt_action,
    status_json,
)

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.engine import Engine
    from proxy.policy import SitePolicy
    from proxy.receipts import Receipt


__all__ = [
    "RECEIPT_HEADER",
    "ApiError",
    "DecisionPlan",
    "Reply",
    "decision_reply",
    "is_cross_site",
    "parse_decision",
    "plan_decision",
    "receipts_reply",
    "vendor_digest",
]

RECEIPT_HEADER = "Consentry-Receipt-Id"
NO_STORE: tuple[tuple[str, str], ...] = (("Cache-Control", "no-store"), ("Vary", "Cookie"))
_DEFAULT_PORTS = {"http": 80, "https": 443}

HeaderGet = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class ApiError:
    """A refusal: the status and the message the visitor (or API client) sees."""

    status: int
    message: str


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer to send: status, headers in order (Set-Cookie may repeat), body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class ParsedDecision:
    decision: Decision
    return_to: str | None   # a form's return_to (answered 303), None for JSON
    # The banner experiment variant and language the banner posted, as sent (unchecked).
    variant: object = None
    lang: object = None


@dataclass(frozen=True, slots=True)
class DecisionPlan:
    """Everything a decision needs after the receipt is stored."""

    token: str
    claims: dict[str, Any]
    decision: Decision
    action: str
    receipt: Receipt
    state: ConsentState
    return_to: str | None
    # The site's variant the decision was made on (None: none, or an unknown id), and
    # (digest, lang, canonical texts) of the banner texts shown, to keep beside the receipt.
    variant: str | None = None
    texts: tuple[str, str, str] | None = None


def _origin_of(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        if not parts.scheme or not parts.hostname:
            return None
        return parts.scheme.lower(), parts.hostname.lower(), parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    except ValueError:
        return None


def _same_origin(claimed: tuple[str, str, int] | None, ours: tuple[str, str, int] | None, proto: str) -> bool:
    if claimed is None or ours is None:
        return False
    if claimed == ours:
        return True
    # TLS ended before us by a proxy not (yet) listed in trusted_proxies: the browser says
    # https://host, we see http://host. Same host, and only a secure origin is accepted.
    return proto == "http" and claimed[0] == "https" and claimed[1] == ours[1] and claimed[2] == 443


def is_cross_site(header: HeaderGet, proto: str, host: str) -> bool:
    """Origin first, then Sec-Fetch-Site, then Referer; with none of them (curl), allowed."""
    ours = _origin_of(f"{proto}://{host}")
    origin = header("Origin")
    if origin is not None:
        return origin.strip() == "null" or not _same_origin(_origin_of(origin.strip()), ours, proto)
    fetch_site = header("Sec-Fetch-Site")
    if fetch_site is not None:
        # "same-site" is a sibling subdomain: still another party's page.
        return fetch_site.strip().lower() not in ("same-origin", "none")
    referer = header("Referer")
    if referer is not None:
        return not _same_origin(_origin_of(referer), ours, proto)
    return False


def parse_decision(content_type: str, body: bytes, site: SitePolicy) -> ParsedDecision | ApiError:
    """A form or JSON body as a decision; 415 for anything else, 400 with the reason."""
    content_type = content_type.split(";", 1)[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
            return_to = next((value for key, value in fields if key == "return_to"), "/")
            return ParsedDecision(
                decide_from_form(fields, site=site), return_to,
                variant=next((value for key, value in fields if key == "variant"), None),
                lang=next((value for key, value in fields if key == "lang"), None),
            )
        if content_type == "application/json":
            posted = json.loads(body)
            decision = decide_from_json(posted, site=site)   # refuses anything but an object
            return ParsedDecision(decision, None, variant=posted.get("variant"), lang=posted.get("lang"))
    except RecursionError:
        return ApiError(400, "The body is nested too deeply")
    except json.JSONDecodeError:
        return ApiError(400, "The body is not valid")
    except UnicodeDecodeError:
        return ApiError(400, "The body is not valid")
    except ValueError as error:
        return ApiError(400, str(error))
    return ApiError(415, "Send a form or JSON")


_VENDOR_DIGESTS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def vendor_digest(engine: Engine) -> str:
    """Digest of the (vendor, category) list this site's visitors are shown."""
    digest = _VENDOR_DIGESTS.get(engine)
    if digest is None:
        from proxy.receipts import vendor_list_digest

        digest = vendor_list_digest((vid, engine.classify_vendor(v).category) for vid, v in engine.catalogue.vendors.items())
        _VENDOR_DIGESTS[engine] = digest
    return digest


def plan_decision(
    parsed: ParsedDecision,
    previous: ConsentState,
    *,
    site: SitePolicy,
    site_id: str,
    keyring: KeyRing,
    engine: Engine,
    ip_hash: str | None,
    user_agent: str | None,
    accept_language: str | None = None,
) -> DecisionPlan | ApiError:
    """The token, the receipt and the state a decision makes (nothing stored yet).

    The receipt names the banner variant the visitor decided on (an unknown id is no
    variant, never an error) and the digest of the exact texts shown, in the language
    the banner posted (else the best of ``accept_language``).
    """
    from proxy.receipts import Receipt
    from proxy.web import pick_language
    from proxy.web.texts import offered_languages
    from proxy.web.variants import texts_digest, variant_by_id

    decision = parsed.decision
    # Keep the visitor's consent id across changes so an audit sees one history.
    try:
        token, claims = issue_token(
            keyring, site=site, categories=decision.categories, vendors=decision.vendors or None,
            consent_id=previous.consent_id if previous.source == "cookie" else None,
        )
    except ValueError as error:   # e.g. so many vendor choices that the cookie would not fit
        return ApiError(400, str(error))
    # A visitor who had granted more than the necessary and now refuses all withdraws.
    action = receipt_action(decision, previous)
    variant = variant_by_id(site, parsed.variant)
    lang = parsed.lang
    if not isinstance(lang, str) or lang not in offered_languages(site.banner):
        lang = pick_language(site, html_lang=None, accept_language=accept_language)
    digest, canonical = texts_digest(site, lang, variant)
    receipt = Receipt(
        consent_id=claims["sub"],
        site_id=site_id,
        policy_version=str(claims["pv"]),
        vendor_list_digest=vendor_digest(engine),
        granted=decision.granted_list(site),
        refused=decision.refused_list(site),
        action=action,
        created_at=dt.datetime.fromtimestamp(claims["iat"], dt.UTC),
        expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
        ip_hash=ip_hash,
        user_agent=user_agent,
        gpc=previous.gpc,
        banner_variant=variant.id if variant is not None else None,
        banner_texts_digest=digest,
    )
    granted = set(decision.categories)
    if previous.gpc:
        granted.discard(GPC_REFUSED_CATEGORY)
    state = ConsentState(
        categories=frozenset(granted), vendors=dict(decision.vendors), consent_id=claims["sub"],
        issued_at=float(claims["iat"]), expires_at=float(claims["exp"]), policy_version=claims["pv"],
        source="cookie", gpc=previous.gpc, decided=True,
    )
    return DecisionPlan(
        token, claims, decision, action, receipt, state, parsed.return_to,
        variant=variant.id if variant is not None else None, texts=(digest, lang, canonical),
    )


def receipts_reply(receipts: Sequence[Receipt] | None, *, consent_id: str | None, site_id: str) -> Reply:
    """``GET <prefix>/receipts``: the receipts of the consent id in the visitor's valid cookie.

    ``receipts`` is None when the visitor has no valid cookie (missing, forged, expired,
    another site's, an outdated policy version): 401 and an empty list, never anyone
    else's. Only this site's receipts of that id are listed (GDPR Art. 15 access).
    """
    headers = (("Content-Type", "application/json; charset=utf-8"), *NO_STORE)
    if receipts is None or not consent_id:
        body: dict[str, object] = {"error": "no valid consent cookie: there are no receipts to show", "consent_id": None, "receipts": []}
        return Reply(401, headers, json.dumps(body).encode())
    listed = [receipt.to_dict() for receipt in receipts if receipt.site_id == site_id]
    return Reply(200, headers, json.dumps({"consent_id": consent_id, "receipts": listed}, ensure_ascii=False).encode("utf-8"))


def cookie_names(cookie_headers: Sequence[str]) -> list[str]:
    return [pair.split("=", 1)[0].strip() for value in cookie_headers for pair in value.split(";") if pair.strip()]


def decision_reply(
    plan: DecisionPlan,
    receipt_id: int,
    *,
    site: SitePolicy,
    engine: Engine,
    host: str,
    secure: bool,
    cookies: Sequence[str],
) -> Reply:
    """303 to ``return_to`` (form) or the new state as JSON, with the consent cookie and the
    refused categories' cookies expired. Only after the receipt is committed."""
    from proxy.web import safe_return_to

    state = plan.state
    expired = expire_cookie_headers(
        cookie_names(cookies), host=host, secure=secure, refused_categories=plan.decision.refused,
        is_refused=lambda name: engine.refused_cookie(name, state),
        keep=[site.cookie_name],
    )
    headers: list[tuple[str, str]] = list(NO_STORE)
    body = b""
    if plan.return_to is not None:
        status = 303
        headers.insert(0, ("Location", safe_return_to(plan.return_to)))
    else:
        status = 200
        headers.insert(0, ("Content-Type", "application/json; charset=utf-8"))
        body = json.dumps({**status_json(state, site=site), "receipt_id": receipt_id}).encode()
    # The acknowledgement: only now, with the receipt committed, does the visitor get a cookie.
    headers.append((RECEIPT_HEADER, str(receipt_id)))
    headers.append(("Set-Cookie", consent_cookie_header(plan.token, site=site, secure=secure)))
    headers.extend(("Set-Cookie", value) for value in expired)
    return Reply(status, tuple(headers), body)
