"""Receipt builders for the receipts tests (a uniquely named module, see tests/consent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from proxy.receipts import Receipt

T0 = dt.datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)


def receipt(number: int = 0, **overrides: Any) -> Receipt:
    values: dict[str, Any] = {
        "consent_id": f"consent-{number}",
        "site_id": "shop",
        "policy_version": "3",
        "vendor_list_digest": "sha256:0123456789abcdef",
        "granted": ["necessary", "analytics"],
        "refused": ["preferences", "marketing"],
        "action": "save",
        "created_at": T0 + dt.timedelta(seconds=number),
        "expires_at": T0 + dt.timedelta(days=180, seconds=number),
        "ip_hash": "0f1e2d3c4b5a6978",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) \"quoted\", with comma\u00e9",
        "gpc": number % 2 == 1,
    }
    values.update(overrides)
    return Receipt(**values)
