"""Per-client token buckets (proxy.server.ratelimit): what counts as one client, refills."""

from __future__ import annotations

import pytest

from proxy.server.ratelimit import RateLimiter, client_key, retry_after


@pytest.mark.parametrize(("address", "key"), [
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::abcd", "2001:db8:1:2::/64"),
    ("fe80::1%eth0", "fe80::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("::1", "::/64"),
    ("unix-socket", "unix-socket"),
])
def test_a_client_is_an_ipv4_address_or_an_ipv6_64(address: str, key: str) -> None:
    assert client_key(address) == key


def test_a_bucket_refills_per_minute_and_says_how_long_to_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.take("2001:db8::1") == 0.0
    assert limiter.take("2001:db8::2") == 0.0          # same /64: the same bucket
    wait = limiter.take("2001:db8::3")
    assert wait == pytest.approx(30.0) and retry_after(wait) == "30"
    assert limiter.take("2001:db8:0:1::1") == 0.0      # another /64
    now[0] = 30.0
    assert limiter.take("2001:db8::4") == 0.0


def test_the_table_of_buckets_is_bounded() -> None:
    limiter = RateLimiter(1, max_keys=3, clock=lambda: 0.0)
    for n in range(10):
        limiter.take(f"192.0.2.{n}")
    assert len(limiter._buckets) == 3
