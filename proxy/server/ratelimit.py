"""Per-client token buckets for the endpoints anyone can post to (consent decisions, CSP reports).

``RateLimiter(per_minute)`` gives each client (an IPv4 address or an IPv6 /64, see
``client_key``) a bucket of ``per_minute`` tokens refilled continuously;
``take(address)`` returns 0.0 when the request may go on, else the seconds until a
token is back (the ``Retry-After`` value). The table of buckets is
bounded: past ``max_keys`` the least recently used buckets are forgotten (a forgotten
client starts full again, so the bound costs at most one extra burst per eviction).
Standard library only; the clock is injectable for tests.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable


@functools.lru_cache(maxsize=4096)
def client_key(address: str) -> str:
    """What a per-client limit counts: an IPv4 address, or the /64 an IPv6 address is in.

    One subscriber gets a whole /64 and may use any address in it: counted per address,
    each of its 2^64 addresses would get its own allowance (and could flush the table of
    everyone else's). IPv4-mapped IPv6 counts as the IPv4 address; anything that is not
    an address counts as itself.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


class RateLimiter:
    def __init__(self, per_minute: int, *, max_keys: int = 65536, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(max(1, per_minute))
        self._rate = self.capacity / 60.0
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, address: str) -> float:
        """0.0 if the client at ``address`` may act now (one token taken), else the seconds to wait."""
        key = client_key(address)
        now = self._clock()
        tokens, stamp = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - stamp) * self._rate)
        if tokens >= 1.0:
            self._remember(key, tokens - 1.0, now)
            return 0.0
        self._remember(key, tokens, now)
        return (1.0 - tokens) / self._rate

    def _remember(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
