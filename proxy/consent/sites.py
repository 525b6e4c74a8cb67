"""What the consent code reads from a site policy, with the defaults of zero-config.

The site is duck-typed (the policy package's pydantic `SitePolicy`, a test's
`SimpleNamespace`, the CLI's ad-hoc object) so this package never imports
pydantic or the policy package. Imports the stdlib only.
"""

from __future__ import annotations

from typing import Any

from proxy.defaults import CATEGORIES, COOKIE_NAME, LIFETIME_DAYS, NECESSARY

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


def category_names(site: Any) -> tuple[str, ...]:
    """The site's categories in policy order, `necessary` always first and present."""
    declared = getattr(site, "categories", None)
    names = list(declared) if declared else list(DEFAULT_CATEGORIES)  # dict -> its keys
    return (NECESSARY, *(str(name) for name in names if name != NECESSARY))


def cookie_name(site: Any) -> str:
    return str(getattr(site, "cookie_name", None) or DEFAULT_COOKIE_NAME)


def lifetime_seconds(site: Any) -> int:
    days = getattr(site, "lifetime_days", None) or DEFAULT_LIFETIME_DAYS
    return int(days * 86400)


def policy_version(site: Any) -> str | int:
    version = getattr(site, "policy_version", 1)
    return version if isinstance(version, str | int) else str(version)


def site_id(site: Any) -> str:
    return str(getattr(site, "site_id", None) or "default")
