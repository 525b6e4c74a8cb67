"""The value types the configuration models share: the strict, frozen base model and annotated field types.

Each annotated type pairs a Python type with the validator from ``fields.py``
that checks and normalises it, so a model declares ``upstream: Upstream`` and a
bad URL is reported at that key. Must not depend on aiohttp, mitmproxy, jwt or
``proxy.html``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from proxy.defaults import MAX_LIFETIME_DAYS
from proxy.policy import fields as f

__all__ = [
    "MAX_LIFETIME_DAYS",
    "Address",
    "AdminAddress",
    "ConsentPath",
    "CookieName",
    "Language",
    "LifetimeDays",
    "Network",
    "NonEmpty",
    "PageURL",
    "PolicyVersion",
    "RuleHost",
    "ScriptSignature",
    "Seconds",
    "StrictModel",
    "ThemeName",
    "ThemeValue",
    "Upstream",
    "VariantId",
]


class StrictModel(BaseModel):
    """Unknown keys are errors, a string is never taken for a number, and a loaded value never changes."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)




def _max_lifetime(days: int) -> int:
    if days > MAX_LIFETIME_DAYS:
        raise ValueError(f"{days} days is longer than the maximum of {MAX_LIFETIME_DAYS} (13 months)")
    if days < 1:
        raise ValueError(f"{days} is not a number of days; use 1 to {MAX_LIFETIME_DAYS}")
    return days


def _version_text(value: object) -> object:
    # policy_version = 2 is as natural to write as "2"; both mean the same version.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Seconds = Annotated[float, Field(gt=0)]
Upstream = Annotated[str, AfterValidator(f.check_upstream)]
Address = Annotated[str, AfterValidator(f.check_address)]
AdminAddress = Annotated[str, AfterValidator(f.check_admin_address)]
Network = Annotated[str, AfterValidator(f.check_network)]
CookieName = Annotated[str, AfterValidator(f.check_cookie_name)]
Language = Annotated[str, AfterValidator(f.check_language)]
LifetimeDays = Annotated[int, AfterValidator(_max_lifetime)]
PageURL = Annotated[str, AfterValidator(f.check_page_url)]
ConsentPath = Annotated[str, AfterValidator(f.check_consent_path)]
RuleHost = Annotated[str, AfterValidator(f.check_rule_host)]
ScriptSignature = Annotated[str, AfterValidator(f.check_script_signature)]
PolicyVersion = Annotated[str, BeforeValidator(_version_text), Field(min_length=1)]
ThemeName = Annotated[str, AfterValidator(f.check_theme_name)]
ThemeValue = Annotated[str, AfterValidator(f.check_theme_value)]
NonEmpty = Annotated[str, Field(min_length=1)]
VariantId = Annotated[str, AfterValidator(f.check_variant_id)]
