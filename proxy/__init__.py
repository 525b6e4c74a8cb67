"""Consentry: an edge proxy that enforces privacy consent on HTML as it streams through.

The package is layered so that dependencies point inward: ``proxy.html`` knows only
bytes, ``proxy.catalogue`` / ``proxy.consent`` / ``proxy.policy`` know no HTTP,
``proxy.engine`` joins them, and ``proxy.server`` (aiohttp) and
``addons/consentry.py`` (mitmproxy) are thin adapters.
"""

__version__ = "0.1.0"
