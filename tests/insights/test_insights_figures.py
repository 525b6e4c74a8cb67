"""The figures on fixed counts: Wilson intervals against published values, the verdict
only when the difference is significant, and every rate's denominator."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pytest

from proxy.insights import SiteSpec, compare_variants, render_csv, render_page, render_table, site_insights, wilson_interval

DAY = dt.date(2026, 12, 1)


@dataclass
class Imp:
    day: dt.date
    variant: str | None
    count: int


@dataclass
class Dec:
    day: dt.date
    variant: str | None
    action: str
    granted: tuple[str, ...]
    count: int


class FakeCounts:
    """Counts as a store returns them (the store queries are tested on both real stores)."""

    def __init__(self, impressions: list[Imp], decisions: list[Dec]) -> None:
        self.impressions, self.decisions = impressions, decisions

    async def impression_counts(self, site_id, since=None, until=None):
        return [r for r in self.impressions if (since is None or r.day >= since) and (until is None or r.day <= until)]

    async def decision_counts(self, site_id, since=None, until=None):
        return [r for r in self.decisions if (since is None or r.day >= since) and (until is None or r.day <= until)]


def test_wilson_matches_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, Table I: 81/263 -> 0.2553 .. 0.3662.
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    # 0 of 10: the interval still has width (the naive one would be [0, 0]).
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and math.isclose(high, 0.2775, abs_tol=1e-4)
    assert wilson_interval(0, 0) is None


def variants(a: tuple[int, int], b: tuple[int, int]) -> list[dict]:
    return [
        {"id": vid, "decisions": n, "accept_all_rate": x / n, "actions": {"accept_all": x}}
        for vid, (x, n) in (("a", a), ("b", b))
    ]


def test_verdict_only_when_significant() -> None:
    close = compare_variants(variants((52, 100), (48, 100)))
    assert close is not None and close["significant"] is False and close["verdict"] is None
    far = compare_variants(variants((70, 100), (45, 100)))
    assert far["significant"] is True and far["higher"] == "a" and far["lower"] == "b"
    assert far["verdict"].startswith('Variant "a" had a higher accept-all rate than "b": 70.0% of 100 decisions against 45.0% of 100.')
    # pooled p = 0.575: z = 0.25 / sqrt(0.575 * 0.425 * (1/100 + 1/100)) = 3.576
    assert math.isclose(far["z"], 3.576, abs_tol=1e-3)
    assert compare_variants(variants((1, 1), (1, 2))[:1]) is None   # one variant: nothing to compare


@pytest.mark.parametrize("until", [None, DAY])
async def test_site_insights_counts_and_rates(until: dt.date | None) -> None:
    later = DAY + dt.timedelta(days=1)
    counts = FakeCounts(
        [Imp(DAY, "a", 10), Imp(DAY, "b", 10), Imp(later, "a", 5), Imp(later, None, 3)],
        [
            Dec(DAY, "a", "accept_all", ("necessary", "analytics", "marketing"), 4),
            Dec(DAY, "a", "reject_all", ("necessary",), 1),
            Dec(DAY, "b", "save", ("necessary", "analytics"), 2),
            Dec(later, None, "withdraw", ("necessary",), 1),
            Dec(later, "old-variant", "accept_all", ("necessary", "analytics", "marketing", "extra"), 1),
        ],
    )
    report = await site_insights(counts, SiteSpec("shop", ("analytics", "marketing"), ("a", "b")), until=until)
    if until is not None:
        assert (report["impressions"], report["decisions"], len(report["days"])) == (20, 7, 1)
        assert [v["id"] for v in report["variants"]] == ["a", "b"]
        return
    assert (report["impressions"], report["decisions"]) == (28, 9)
    assert report["decision_rate"] == 9 / 28
    assert report["actions"] == {"accept_all": 5, "reject_all": 1, "save": 2, "withdraw": 1}
    assert report["categories"] == {
        "analytics": {"granted": 7, "rate": 7 / 9},
        "marketing": {"granted": 5, "rate": 5 / 9},
        "extra": {"granted": 1, "rate": 1 / 9},
    }
    assert [v["id"] for v in report["variants"]] == ["a", "b", "old-variant", None]
    a = report["variants"][0]
    assert (a["impressions"], a["decisions"], a["accept_all_rate"]) == (15, 5, 4 / 5)
    assert a["ci95"] == list(wilson_interval(4, 5))
    b = report["variants"][1]
    assert (b["accept_all_rate"], b["ci95"]) == (0.0, list(wilson_interval(0, 2)))
    assert report["variants"][3]["impressions"] == 3 and report["variants"][3]["decisions"] == 1
    assert [d["day"] for d in report["days"]] == ["2026-12-01", "2026-12-02"]
    assert report["days"][1]["categories"]["analytics"] == {"granted": 1, "rate": 0.5}
    # The renderings show the same figures.
    assert "a" in render_table([report]) and "80.0%" in render_table([report])
    assert "shop,variant,,a,15,5," in render_csv([report])
    page = render_page([report], sites=["shop"])
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert 'class="verdict"' not in page   # 5 and 2 decisions: nothing significant


async def test_empty_store_gives_nulls_not_errors() -> None:
    report = await site_insights(FakeCounts([], []), SiteSpec("shop", ("analytics",), ("a",)))
    assert report["decision_rate"] is None and report["categories"]["analytics"] == {"granted": 0, "rate": None}
    assert report["variants"] == [{"id": "a", "impressions": 0, "decisions": 0, "decision_rate": None,
                                   "actions": {"accept_all": 0, "reject_all": 0, "save": 0, "withdraw": 0},
                                   "accept_all_rate": None, "ci95": None}]
    assert report["verdict"] is None and "No impressions" in render_page([report])
