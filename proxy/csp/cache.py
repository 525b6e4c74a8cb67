"""One build per site and consent state: the policy and the guard never depend on the request.

Standard library only: must not import aiohttp, mitmproxy, jwt, pydantic or ``proxy.html``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from proxy.catalogue import Catalogue, ConsentView

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy


_CACHE: OrderedDict[tuple[Any, ...], tuple[Any, Any, Any]] = OrderedDict()


_CACHE_SIZE = 512


def per_consent_state[T](
    build: Callable[..., T], site: SitePolicy, state: ConsentView, catalogue: Catalogue, *extra: Hashable
) -> T:
    """`build(site, state, catalogue, *extra)`, remembered per site, consent state and `extra`
    (hashable values the result also depends on).

    Both results depend only on the site policy, the catalogue and what the visitor
    chose, never on the request; building them walks the whole catalogue, which costs
    milliseconds, so every response of one consent state shares one result. Sites and
    catalogues are keyed by identity (a reloaded config is a new object) and kept in
    the entry, so a recycled id() can never return another site's result.
    """
    choices = tuple(sorted(state.vendors.items()))
    key = (build.__name__, id(site), id(catalogue), state.categories, choices, state.gpc, *extra)
    entry = _CACHE.get(key)
    if entry is not None and entry[0] is site and entry[1] is catalogue:
        _CACHE.move_to_end(key)
        return entry[2]  # type: ignore[no-any-return]
    result = build(site, state, catalogue, *extra)
    _CACHE[key] = (site, catalogue, result)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result
