"""Per-site policies from one TOML file: a typed, validated model, host matching and live reload.

The rest of Consentry reads a ``Config`` (global ``proxy`` / ``consent`` /
``receipts`` settings and fully resolved ``SitePolicy`` objects) built by
``load_config`` or ``default_config``, and picks a site with
``Config.site_for_host``. ``ConfigHolder`` re-reads the file on demand (SIGHUP)
and swaps the whole configuration atomically. Uses pydantic and the standard
library (tomllib); must not depend on aiohttp, mitmproxy, jwt or ``proxy.html``.
"""

from proxy.policy.config import DEFAULT_SITE, Config
from proxy.policy.loader import SECRET_ENV, check_config, default_config, load_config
from proxy.policy.model import (
    Banner,
    Category,
    ConsentSettings,
    KeySpec,
    Limits,
    ProxySettings,
    ReceiptsSettings,
    Rule,
    SitePolicy,
    Timeouts,
    VendorOverride,
)
from proxy.policy.problems import ConfigError, Problem
from proxy.policy.reload import ConfigHolder
from proxy.policy.site_model import BannerVariant

__all__ = [
    "DEFAULT_SITE",
    "SECRET_ENV",
    "Banner",
    "BannerVariant",
    "Category",
    "Config",
    "ConfigError",
    "ConfigHolder",
    "ConsentSettings",
    "KeySpec",
    "Limits",
    "Problem",
    "ProxySettings",
    "ReceiptsSettings",
    "Rule",
    "SitePolicy",
    "Timeouts",
    "VendorOverride",
    "check_config",
    "default_config",
    "load_config",
]
