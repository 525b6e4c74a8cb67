"""The figures: counts from the receipt store, rates, Wilson intervals and the verdict.

Definitions (docs/insights.md explains them for readers):

- ``impressions``: HTML page views on which the banner was shown to a visitor without
  a decision (counted by the proxy, flushed to the store).
- ``decisions``: receipts stored in the period (every accept_all, reject_all, save and
  withdraw, including a visitor changing their mind); ``decision_rate`` = decisions /
  impressions (null without impressions).
- ``categories``: per category of the site except ``necessary`` (always granted), how
  many decisions granted it and ``rate`` = granted / decisions.
- ``variants``: per banner variant (config order, then ids only found in the store,
  then ``null`` for decisions and impressions without a variant): ``accept_all_rate``
  = accept_all / decisions of that variant, ``ci95`` its Wilson score interval with
  z = 1.96 (null without decisions).
- ``days``: the same per UTC day.
- ``comparison``: the variants with the highest and the lowest accept-all rate
  compared with a two-sided two-proportion z-test (pooled); ``verdict`` is a sentence
  only when |z| > 1.96 (p < 0.05), else null.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TYPE_CHECKING

if TYPE_CHECKING:  # types only
    from proxy.policy import SitePolicy


__all__ = ["ACTIONS", "Z_95", "SiteSpec", "compare_variants", "site_insights", "wilson_interval"]

Z_95: Final = 1.96
ACTIONS: Final[tuple[str, ...]] = ("accept_all", "reject_all", "save", "withdraw")
NECESSARY: Final = "necessary"


class _Impression(Protocol):
    # Read-only members: the stores answer with frozen dataclasses.
    @property
    def day(self) -> dt.date: ...
    @property
    def variant(self) -> str | None: ...
    @property
    def count(self) -> int: ...


class _Decision(Protocol):
    @property
    def day(self) -> dt.date: ...
    @property
    def variant(self) -> str | None: ...
    @property
    def action(self) -> str: ...
    @property
    def granted(self) -> tuple[str, ...]: ...
    @property
    def count(self) -> int: ...


class CountStore(Protocol):
    async def impression_counts(
        self, site_id: str | None, since: dt.date | None = None, until: dt.date | None = None
    ) -> Sequence[_Impression]: ...
    async def decision_counts(
        self, site_id: str, since: dt.date | None = None, until: dt.date | None = None
    ) -> Sequence[_Decision]: ...


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """What the figures need to know of a site's policy: its id, categories and variant ids."""

    site_id: str
    categories: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()

    @classmethod
    def of(cls, site: SitePolicy) -> SiteSpec:
        """From a policy ``SitePolicy``."""
        categories = tuple(name for name in site.categories if name != NECESSARY)
        variants = tuple(variant.id for variant in site.banner.variants)
        return cls(site.site_id, categories, variants)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of successes / trials (None when trials == 0)."""
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(slots=True)
class _Tally:
    impressions: int = 0
    decisions: int = 0
    actions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTIONS, 0))
    granted: dict[str, int] = field(default_factory=dict)

    def add_decisions(self, action: str, granted: Iterable[str], count: int) -> None:
        self.decisions += count
        self.actions[action] = self.actions.get(action, 0) + count
        for name in granted:
            self.granted[name] = self.granted.get(name, 0) + count

    def categories(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {name: {"granted": self.granted.get(name, 0), "rate": _rate(self.granted.get(name, 0), self.decisions)}
                for name in names}


def compare_variants(variants: Sequence[dict[str, Any]], z_threshold: float = Z_95) -> dict[str, Any] | None:
    """Highest vs lowest accept-all rate among variants with decisions: a pooled two-proportion z-test."""
    rated = [v for v in variants if v["id"] is not None and v["decisions"] > 0]
    if len(rated) < 2:
        return None
    best = max(rated, key=lambda v: (v["accept_all_rate"], v["decisions"]))
    worst = min(rated, key=lambda v: (v["accept_all_rate"], -v["decisions"]))
    if best is worst:
        return None
    n1, n2 = best["decisions"], worst["decisions"]
    x1, x2 = best["actions"]["accept_all"], worst["actions"]["accept_all"]
    pooled = (x1 + x2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / spread if spread > 0 else 0.0
    significant = abs(z) > z_threshold
    verdict = None
    if significant:
        verdict = (
            f'Variant "{best["id"]}" had a higher accept-all rate than "{worst["id"]}": '
            f'{best["accept_all_rate"]:.1%} of {n1} decisions against {worst["accept_all_rate"]:.1%} of {n2}. '
            f"A difference this large would arise by chance less than 5% of the time if the two "
            f"banners really performed the same (two-proportion z-test, z = {z:.2f})."
        )
    return {"higher": best["id"], "lower": worst["id"], "z": z, "significant": significant, "verdict": verdict}


async def site_insights(
    store: CountStore, spec: SiteSpec, *, since: dt.date | None = None, until: dt.date | None = None
) -> dict[str, Any]:
    """Every figure for one site over since..until (inclusive UTC days; None: open)."""
    impressions = await store.impression_counts(spec.site_id, since, until)
    decisions = await store.decision_counts(spec.site_id, since, until)
    total = _Tally()
    per_day: dict[dt.date, _Tally] = {}
    per_variant: dict[str | None, _Tally] = {variant: _Tally() for variant in spec.variants}
    for row in impressions:
        total.impressions += row.count
        per_day.setdefault(row.day, _Tally()).impressions += row.count
        per_variant.setdefault(row.variant, _Tally()).impressions += row.count
    for row in decisions:
        total.add_decisions(row.action, row.granted, row.count)
        per_day.setdefault(row.day, _Tally()).add_decisions(row.action, row.granted, row.count)
        per_variant.setdefault(row.variant, _Tally()).add_decisions(row.action, row.granted, row.count)
    categories = list(spec.categories) + sorted(
        name for name in total.granted if name not in spec.categories and name != NECESSARY
    )
    order: list[str | None] = [*spec.variants, *sorted(v for v in per_variant if v is not None and v not in spec.variants)]
    if None in per_variant:
        order.append(None)
    variants = []
    for variant in order:
        tally = per_variant[variant]
        interval = wilson_interval(tally.actions["accept_all"], tally.decisions)
        variants.append({
            "id": variant,
            "impressions": tally.impressions,
            "decisions": tally.decisions,
            "decision_rate": _rate(tally.decisions, tally.impressions),
            "actions": dict(tally.actions),
            "accept_all_rate": _rate(tally.actions["accept_all"], tally.decisions),
            "ci95": list(interval) if interval is not None else None,
        })
    days = []
    for day in sorted(per_day):
        tally = per_day[day]
        days.append({
            "day": day.isoformat(),
            "impressions": tally.impressions,
            "decisions": tally.decisions,
            "decision_rate": _rate(tally.decisions, tally.impressions),
            "actions": dict(tally.actions),
            "accept_all_rate": _rate(tally.actions["accept_all"], tally.decisions),
            "categories": tally.categories(categories),
        })
    comparison = compare_variants(variants)
    return {
        "site": spec.site_id,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "impressions": total.impressions,
        "decisions": total.decisions,
        "decision_rate": _rate(total.decisions, total.impressions),
        "actions": dict(total.actions),
        "categories": total.categories(categories),
        "variants": variants,
        "days": days,
        "comparison": comparison,
        "verdict": comparison["verdict"] if comparison else None,
    }
