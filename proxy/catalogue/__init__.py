"""Tracker catalogue: which vendor a URL, an inline script or a cookie belongs to, and its category.

The vendor data ships as ``vendors.toml`` and ``vendors-<class>.toml`` next to this file (read with the
standard library's `tomllib`); `Catalogue.default()` loads it once. Standard
library only: nothing under ``proxy.catalogue`` may import aiohttp, mitmproxy,
jwt or pydantic.
"""

from proxy.catalogue.catalogue import Catalogue, catalogue_for
from proxy.catalogue.classification import Classification, ConsentView, VendorChoice, classify_vendor
from proxy.catalogue.vendor import CATEGORIES, CatalogueError, Vendor, strictest_category, tag_manager_category

__all__ = [
    "CATEGORIES",
    "Catalogue",
    "catalogue_for",
    "CatalogueError",
    "Classification",
    "ConsentView",
    "Vendor",
    "VendorChoice",
    "classify_vendor",
    "strictest_category",
    "tag_manager_category",
]
