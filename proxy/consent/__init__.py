"""Consent: the key ring, the signed consent cookie, and the visitor's consent state.

Everything the server, the engine, the CLI and the mitmproxy addon need about
consent, as plain functions over plain values (the site policy is read as a
`SitePolicy`, named for mypy only). Must never depend on aiohttp, mitmproxy, pydantic
or the policy package at run time: only PyJWT (with `cryptography`), the stdlib,
`proxy.defaults` and `proxy.catalogue` (which cookie belongs to which vendor).
"""

from proxy.consent.cookies import consent_cookie_header, cookie_values, domain_variants, expire_cookie_headers
from proxy.consent.decisions import (
    ACTIONS,
    Decision,
    decide_from_form,
    decide_from_json,
    receipt_action,
    status_json,
)
from proxy.consent.failures import ConsentFailure, failure_counts
from proxy.consent.keys import GeneratedKey, KeyRing, KeySpec, generate_key, generate_key_material
from proxy.consent.state import ConsentState, read_consent
from proxy.consent.tokens import TokenRejected, decode_token, issue_token, verify_token_verbose

__all__ = [
    "ACTIONS",
    "ConsentFailure",
    "ConsentState",
    "Decision",
    "GeneratedKey",
    "KeyRing",
    "KeySpec",
    "TokenRejected",
    "consent_cookie_header",
    "cookie_values",
    "decide_from_form",
    "decide_from_json",
    "decode_token",
    "domain_variants",
    "expire_cookie_headers",
    "failure_counts",
    "generate_key",
    "generate_key_material",
    "issue_token",
    "read_consent",
    "receipt_action",
    "status_json",
    "verify_token_verbose",
]
