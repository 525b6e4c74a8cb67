"""Real policy objects for tests: what the proxy reads, never a stand-in with fewer keys.

``make_site(**overrides)`` starts from the site the policy loader builds for zero-config
(built-in categories and banner texts, every default) and changes the keys given, through
the model's own validation: a misspelt key or a wrong value fails the test that wrote it,
and code under test reads exactly the attributes (and types) production code reads.
Nested tables may be given as dicts (``vendors={"ga": {"allow": "never"}}``,
``rules=[{"category": "analytics", "host": "stats.example"}]``) or as model objects.
``make_state(*categories)`` is a decided visitor's ``ConsentState`` granting them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from proxy.consent import ConsentState
from proxy.policy import KeySpec, SitePolicy
from proxy.policy.loader import build_config

__all__ = ["make_site", "make_state"]

UPSTREAM = "http://127.0.0.1:8000"


@functools.cache
def _zero_config_site() -> dict[str, Any]:
    key = KeySpec(kid="tests", alg="HS256", secret="tests-" + "s" * 40)
    config = build_config({"sites": {"default": {"upstream": UPSTREAM}}}, name="<tests>", keys=[key])
    return config.sites["default"].model_dump()


def make_site(**overrides: Any) -> SitePolicy:
    """A validated ``SitePolicy``: the zero-config site with ``overrides`` applied."""
    # strict=False: the policy file's own (strict) rules are for TOML; here a list may
    # stand for a tuple and a dict for a nested table, as in the loader's merged data.
    return SitePolicy.model_validate({**_zero_config_site(), **overrides}, strict=False)


def make_state(categories: Iterable[str] = (), *, vendors: Mapping[str, bool] | None = None, gpc: bool = False) -> ConsentState:
    """What a visitor who granted ``categories`` (and chose ``vendors``) sends: a decided cookie."""
    return ConsentState(categories=frozenset({"necessary", *categories}), vendors=dict(vendors or {}),
                        source="cookie", gpc=gpc, decided=True)
