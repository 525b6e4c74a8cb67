"""Tags longer than ``max_buffer``: how much of a tag cut by the cap ``decide`` has seen.

The scanner's long-tag mode shows the first ``max_buffer`` bytes of such a tag to
``decide`` and streams the rest attribute by attribute; this module says whether the
attribute cut by the cap was seen well enough for that decision to stand (one URL of which
at least ``ENOUGH_OF_A_URL`` characters were seen: scheme, host and path decide, not the
tail of a ``data:`` URI). Standard library only; must not import aiohttp, mitmproxy, jwt
or pydantic.
"""

from __future__ import annotations

from proxy.html.tags import Attr

URL_VALUED = frozenset({"src", "href", "data", "poster", "xlink:href", "background", "data-src", "data-lazy-src",
                        "data-bg"})
ENOUGH_OF_A_URL = 1024


def classifiable(attr: Attr, enough: int) -> bool:
    """Was enough of this attribute, cut by the cap, shown to decide?"""
    return attr.has_value and attr.name in URL_VALUED and attr.value_end - attr.value_start >= enough
