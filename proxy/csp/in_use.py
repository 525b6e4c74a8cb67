"""The known-necessary services a site's pages actually use, learned from its rewritten pages.

A strict site's consent CSP is an allowlist ('self', the site's own site, necessary
services, consented vendors). The shipped known-necessary list alone is larger than a
response header may be (`proxy.csp.policy.MAX_ALLOWLIST_BYTES`), so when it does not fit
the policy admits the necessary vendors the site's pages have been seen to use, whole
(every host of such a vendor: Stripe's script on js.stripe.com loads frames from
js.stripe.com and talks to api.stripe.com and m.stripe.network).

A page path is "known" once the rewriter has read it completely; only a known page gets
the learned allowlist (its markup's necessary services are all in it), any other page
gets the scheme sources (the guard alone stops unknown hosts there). Bounded: at most
`MAX_PAGES` paths (least recently seen forgotten) and `MAX_VENDORS` vendors per site;
a vendor id that is not a catalogued necessary service admits nothing (the policy only
admits catalogue vendors), so no input can widen the policy beyond the catalogue.
Standard library only: must not import aiohttp, mitmproxy, jwt, pydantic or ``proxy.html``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable


MAX_PAGES = 4096
MAX_VENDORS = 256


class NecessaryInUse:
    """Per site: the necessary vendors seen in its pages, and which page paths were read."""

    __slots__ = ("_frozen", "_pages", "_vendors")

    def __init__(self) -> None:
        self._pages: OrderedDict[str, None] = OrderedDict()
        self._vendors: set[str] = set()
        self._frozen: frozenset[str] = frozenset()

    def record(self, path: str, vendors: Iterable[str]) -> None:
        """The rewriter read the page at `path` completely and saw these necessary vendors."""
        for vendor in vendors:
            if vendor not in self._vendors and len(self._vendors) < MAX_VENDORS:
                self._vendors.add(vendor)
                self._frozen = frozenset(self._vendors)
        self._pages[path] = None
        self._pages.move_to_end(path)
        if len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)

    def for_page(self, path: str) -> frozenset[str] | None:
        """The vendors to admit on the page at `path`, or None when that page was never read."""
        if path not in self._pages:
            return None
        self._pages.move_to_end(path)
        return self._frozen

    @property
    def vendors(self) -> frozenset[str]:
        return self._frozen
