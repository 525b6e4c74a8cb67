"""Why a consent cookie was not trusted: a fixed set of reasons and their counts.

Every way `read_consent` can fall back to "necessary only" has one name here, so
the server can export them as a metric (`failure_counts`) without ever showing a
reason to the visitor. Reasons are logged at debug level only: a forged cookie is
an everyday event on the public internet, not an error. Imports the stdlib only.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from enum import StrEnum

__all__ = ["ConsentFailure", "failure_counts", "record_failure"]

logger = logging.getLogger(__name__)


class ConsentFailure(StrEnum):
    """The reason a consent cookie gave no consent (the value is the metric label)."""

    MISSING = "missing"  # no cookie: a first visit, or cookies disabled
    MALFORMED = "malformed"  # not a JWS compact token, bad base64 or JSON
    BAD_SIGNATURE = "bad_signature"  # forged or corrupted
    ALG_NONE = "alg_none"  # an unsigned token ("alg": "none")
    ALG_MISMATCH = "alg_mismatch"  # header alg differs from the key's own (algorithm confusion)
    UNKNOWN_KID = "unknown_kid"  # no key with that id in the ring (removed after rotation, or invented)
    EXPIRED = "expired"  # past exp, or older than the site's consent lifetime
    ISSUED_IN_FUTURE = "issued_in_future"  # iat later than now beyond the clock-skew leeway
    WRONG_AUDIENCE = "wrong_audience"  # made for another site
    OUTDATED_POLICY = "outdated_policy"  # the policy version changed since: ask again
    OVERSIZED = "oversized"  # larger than browsers keep (4096 bytes): tampered
    DUPLICATE = "duplicate"  # several different cookies with our name: ambiguous
    BAD_CLAIMS = "bad_claims"  # signed, but a required claim is missing or has the wrong type


# Module-level registry: the server's /metrics reads it. A plain Counter keyed by the
# reason's string value so exporters need not know the enum.
failure_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()


def record_failure(reason: ConsentFailure, detail: str = "") -> None:
    """Count a failure and log it at debug level (never higher: visitors cause these)."""
    with _counts_lock:
        failure_counts[reason.value] += 1
    logger.debug("consent cookie not trusted: %s%s", reason.value, f" ({detail})" if detail else "")
