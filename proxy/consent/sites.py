"""What the consent code reads from a site policy, with the defaults of zero-config.

The site is typed as the policy package's `SitePolicy` (for mypy only: it is never
imported at run time, so this package loads no pydantic); an object with fewer
attributes (a test's `SimpleNamespace`) gets the defaults of `proxy.defaults`.
Imports the stdlib only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy.defaults import CATEGORIES, COOKIE_NAME, LIFETIME_DAYS, NECESSARY

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy


__all__ = [
    "DEFAULT_CATEGORIES",
    "DEFAULT_COOKIE_NAME",
    "DEFAULT_LIFETIME_DAYS",
    "NECESSARY",
    "category_names",
    "cookie_name",
    "lifetime_seconds",
    "policy_version",
    "site_id",
]

# The zero-config values live in proxy.defaults; these names are kept for callers.
DEFAULT_CATEGORIES = CATEGORIES
DEFAULT_COOKIE_NAME = COOKIE_NAME
DEFAULT_LIFETIME_DAYS = LIFETIME_DAYS


def category_names(site: SitePolicy) -> tuple[str, ...]:
    """The site's categories in policy order, `necessary` always first and present."""
    declared = getattr(site, "categories", None)
    names = list(declared) if declared else list(DEFAULT_CATEGORIES)  # dict -> its keys
    return (NECESSARY, *(str(name) for name in names if name != NECESSARY))


def cookie_name(site: SitePolicy) -> str:
    return str(getattr(site, "cookie_name", None) or DEFAULT_COOKIE_NAME)


def lifetime_seconds(site: SitePolicy) -> int:
    days = getattr(site, "lifetime_days", None) or DEFAULT_LIFETIME_DAYS
    return int(days * 86400)


def policy_version(site: SitePolicy) -> str | int:
    version = getattr(site, "policy_version", 1)
    return version if isinstance(version, str | int) else str(version)


def site_id(site: SitePolicy) -> str:
    return str(getattr(site, "site_id", None) or "default")
