"""The receipt itself: validation, the IP hash and the vendor-list digest."""

from __future__ import annotations

import datetime as dt

import pytest
from receipts.receipt_helpers import receipt

from proxy.receipts import Receipt, hash_ip, vendor_list_digest


def test_datetimes_must_be_timezone_aware_and_become_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        receipt(created_at=dt.datetime(2026, 1, 1))
    paris = dt.timezone(dt.timedelta(hours=1))
    converted = receipt(created_at=dt.datetime(2026, 1, 1, 13, 0, tzinfo=paris))
    assert converted.created_at == dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert converted.created_at.utcoffset() == dt.timedelta(0)


def test_action_and_consent_id_are_validated() -> None:
    with pytest.raises(ValueError, match="not one of"):
        receipt(action="maybe")
    with pytest.raises(ValueError, match="consent_id"):
        receipt(consent_id="")


def test_values_are_normalised() -> None:
    item = receipt(policy_version=7, user_agent="x" * 5000, gpc=1)
    assert item.policy_version == "7" and item.gpc is True
    assert item.user_agent is not None and len(item.user_agent) == 512


def test_dict_round_trip() -> None:
    item = receipt(3)
    assert Receipt.from_dict(item.to_dict()) == item


def test_hash_ip_is_salted_truncated_and_never_the_ip() -> None:
    salt_a, salt_b = b"salt-a", b"salt-b"
    hashed = hash_ip("198.51.100.23", salt_a)
    assert len(hashed) == 16 and int(hashed, 16) >= 0
    assert "198" not in hashed and hashed == hash_ip("198.51.100.23", salt_a)
    assert hashed != hash_ip("198.51.100.23", salt_b)
    assert hashed != hash_ip("198.51.100.24", salt_a)
    # One address, one hash, however it is spelled.
    assert hash_ip("2001:db8:0:0:0:0:0:1", salt_a) == hash_ip("[2001:DB8::1]", salt_a)


def test_vendor_list_digest_is_stable_and_order_independent() -> None:
    listing = {"google-analytics": "analytics", "meta-pixel": "marketing"}
    digest = vendor_list_digest(listing)
    assert digest.startswith("sha256:")
    assert digest == vendor_list_digest(list(reversed(list(listing.items()))))
    assert digest != vendor_list_digest({**listing, "meta-pixel": "analytics"})
