"""Consent insights: the marketer's questions answered from our own receipts.

``site_insights`` turns a receipt store's per-day counts (impressions of the banner,
decisions by variant, action and granted categories) into the figures `consentry
insights` prints and the admin listener's ``/insights`` page draws: decision rate,
actions, acceptance per category, per-variant accept-all rates with Wilson 95%
intervals, per-day series, and a plain-language verdict only when two variants differ
significantly. ``render`` formats them as a table, JSON or CSV; ``page`` as an HTML
page with inline SVG charts. Standard library only (the store is passed in): must
not import aiohttp, mitmproxy, jwt, pydantic or asyncpg.
"""

from proxy.insights.figures import Z_95, SiteSpec, compare_variants, site_insights, wilson_interval
from proxy.insights.page import render_page
from proxy.insights.render import render_csv, render_json, render_table

__all__ = [
    "Z_95",
    "SiteSpec",
    "compare_variants",
    "render_csv",
    "render_json",
    "render_page",
    "render_table",
    "site_insights",
    "wilson_interval",
]
