"""What a URL, script or vendor is on one site, and whether a visitor's consent lets it run.

One home for the rule every layer applies (the engine per element, the CSP header and the
guard script per response): a vendor's category is the catalogue's, or the strictest of
what a tag manager loads, unless the site's ``[vendors]`` override moves it; an
``allow = "always" | "never"`` override wins over consent; ``necessary`` always runs;
everything else follows the visitor's choice. Standard library only, so the CSP builder
and the engine share it without either loading the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from proxy.defaults import NECESSARY

if TYPE_CHECKING:
    from proxy.catalogue.vendor import Vendor

__all__ = ["Classification", "ConsentView", "VendorChoice", "classify_vendor"]


class ConsentView(Protocol):
    """What the layers below ``proxy.consent`` read of a visitor's ``ConsentState``.

    (They cannot import it: ``proxy.consent`` loads PyJWT.) ``ConsentState`` has this
    shape, and so has the CSP's "nothing granted" state the shared guard file is built for.
    """

    @property
    def categories(self) -> frozenset[str]: ...
    @property
    def vendors(self) -> Mapping[str, bool]: ...
    @property
    def gpc(self) -> bool: ...

    def allows(self, category: str, vendor_id: str | None = None) -> bool: ...


class VendorChoice(Protocol):
    """A site's ``[vendors."<id>"]`` override (the policy's ``VendorOverride``)."""

    @property
    def category(self) -> str | None: ...
    @property
    def allow(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Classification:
    """Who a URL or script belongs to and which category it falls in on this site."""

    vendor: str | None
    category: str
    # "always" / "never" from the site's vendor overrides; None follows consent.
    override: str | None = None
    unknown_third_party: bool = False
    source: str = "catalogue"  # "catalogue", "rule" (the site's rules), "author" (marked markup) or "unknown"

    def allowed_by(self, state: ConsentView) -> bool:
        if self.override == "always":
            return True
        if self.override == "never":
            return False
        if self.category == NECESSARY:
            return True
        return state.allows(self.category, self.vendor)


def classify_vendor(vendor: Vendor, overrides: Mapping[str, VendorChoice], tag_manager_category: str) -> Classification:
    """``vendor`` on a site with these ``[vendors]`` overrides, whose tag managers count as
    ``tag_manager_category`` (`proxy.catalogue.tag_manager_category` of the site)."""
    category = tag_manager_category if vendor.tag_manager else vendor.category
    override = overrides.get(vendor.id)
    if override is None:
        return Classification(vendor.id, category)
    return Classification(vendor.id, override.category or category, override.allow)
