"""Banner experiments: draw a variant per page view, and the exact texts each one shows.

A site's ``banner.variants`` (policy) are fair alternative wordings and layouts. For a
visitor without a decision, every HTML page view draws one by weight (``draw_variant``);
nothing is stored in the browser for it, so a visitor may see different variants on
different pages until they decide, and the decision records the variant of the page
on which it was made. ``shown_texts`` is the text table the banner receives (built-in,
site overrides, variant overrides) and ``texts_digest`` its receipt digest over the
canonical serialisation defined in ``proxy.receipts.model.banner_texts_canonical``
(duplicated here as ``canonical_texts``: this package may not import the receipts
package's store code, but the two must agree, which a test checks). Standard library
only: must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import random
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Final, TYPE_CHECKING

from proxy.web.texts import TEXT_ALIASES, texts_for

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import BannerVariant, SitePolicy


__all__ = [
    "DEFAULT_FIRST_LAYER",
    "canonical_texts",
    "draw_variant",
    "shown_texts",
    "site_variants",
    "texts_digest",
    "variant_by_id",
]

DEFAULT_FIRST_LAYER: Final[tuple[str, ...]] = ("accept_all", "reject_all", "customize")
_FIRST_LAYER_ACTIONS: Final = frozenset(DEFAULT_FIRST_LAYER)
MAX_VARIANT_ID_LENGTH: Final = 40


def site_variants(site: SitePolicy) -> list[BannerVariant]:
    """The site's configured variants (policy ``BannerVariant`` objects), in config order."""
    return list(site.banner.variants)


# Cumulative weights per site object; the value keeps the site so a recycled id() never matches.
_CUMULATIVE: dict[int, tuple[SitePolicy, list[BannerVariant], list[int]]] = {}


def _cumulative(site: SitePolicy) -> tuple[list[BannerVariant], list[int]]:
    entry = _CUMULATIVE.get(id(site))
    if entry is not None and entry[0] is site:
        return entry[1], entry[2]
    variants = site_variants(site)
    totals = list(itertools.accumulate(v.weight for v in variants))
    if len(_CUMULATIVE) > 256:   # one entry per site per config generation: stay bounded over reloads
        _CUMULATIVE.clear()
    _CUMULATIVE[id(site)] = (site, variants, totals)
    return variants, totals


def draw_variant(site: SitePolicy, rand: Callable[[], float] = random.random) -> BannerVariant | None:
    """One variant drawn with probability weight / sum of weights, or None without variants."""
    variants, totals = _cumulative(site)
    if not variants:
        return None
    point = rand() * totals[-1]
    return variants[min(bisect.bisect_right(totals, point), len(variants) - 1)]


def variant_by_id(site: SitePolicy, variant_id: object) -> BannerVariant | None:
    """The site's variant with this id; None for anything else (unknown ids are not errors)."""
    if not isinstance(variant_id, str) or not variant_id or len(variant_id) > MAX_VARIANT_ID_LENGTH:
        return None
    for variant in _cumulative(site)[0]:
        if variant.id == variant_id:
            return variant
    return None


def variant_id(variant: BannerVariant | None) -> str | None:
    return None if variant is None else variant.id


def first_layer(variant: BannerVariant | None) -> list[str]:
    """The first layer's buttons in order (the default without a variant)."""
    wanted = list(variant.first_layer if variant is not None else DEFAULT_FIRST_LAYER)
    chosen = [action for action in wanted if action in _FIRST_LAYER_ACTIONS]
    return chosen or list(DEFAULT_FIRST_LAYER)


def shown_texts(site: SitePolicy, lang: str, variant: BannerVariant | None = None) -> dict[str, str]:
    """Every text the banner receives for ``lang``: built-in, site overrides, then the variant's."""
    texts = texts_for(site, lang)
    overrides = variant.texts.get(lang, {}) if variant is not None else {}
    for key, value in overrides.items():
        if value.strip():
            texts[TEXT_ALIASES.get(key, key)] = value
    return texts


def canonical_texts(lang: str, texts: Mapping[str, str]) -> str:
    """Same as ``proxy.receipts.banner_texts_canonical`` (sorted-key compact UTF-8 JSON)."""
    body = {"lang": str(lang), "texts": {str(k): str(v) for k, v in texts.items()}}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_DIGESTS: OrderedDict[tuple[int, str, str | None], tuple[SitePolicy, str, str]] = OrderedDict()
_DIGEST_CACHE_SIZE: Final = 1024


def texts_digest(site: SitePolicy, lang: str, variant: BannerVariant | None = None) -> tuple[str, str]:
    """(``"sha256:<hex>"``, canonical JSON) of the texts ``shown_texts`` gives; cached per site."""
    key = (id(site), lang, variant_id(variant))
    entry = _DIGESTS.get(key)
    if entry is not None and entry[0] is site:
        return entry[1], entry[2]
    canonical = canonical_texts(lang, shown_texts(site, lang, variant))
    digest = "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    _DIGESTS[key] = (site, digest, canonical)
    if len(_DIGESTS) > _DIGEST_CACHE_SIZE:
        _DIGESTS.popitem(last=False)
    return digest, canonical
