"""What the consent code reads from a site policy: its categories in order and the lifetime.

The site is the policy package's `SitePolicy` (named for mypy only: it is never
imported at run time, so this package loads no pydantic); every other key
(`cookie_name`, `site_id`, `policy_version`) is read as the attribute it is.
Imports the stdlib only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy.defaults import NECESSARY

if TYPE_CHECKING:  # types only: the packages stay independent at run time
    from proxy.policy import SitePolicy


__all__ = ["category_names", "lifetime_seconds"]


def category_names(site: SitePolicy) -> tuple[str, ...]:
    """The site's categories in policy order, `necessary` always first and present."""
    return (NECESSARY, *(name for name in site.categories if name != NECESSARY))


def lifetime_seconds(site: SitePolicy) -> int:
    return site.lifetime_days * 86400
