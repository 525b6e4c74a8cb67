"""The loaded configuration: global settings, every site fully resolved, and host matching.

A ``Config`` is immutable once built, so a request that took a reference keeps a
consistent view even while a reload swaps in a new one. Built by ``loader.py``
(``load_config`` / ``default_config``). Must not depend on aiohttp, mitmproxy, jwt
or ``proxy.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from proxy.policy.hosts import HostTable, parse_host_pattern
from proxy.policy.model import ConsentSettings, ProxySettings, ReceiptsSettings, SitePolicy

__all__ = ["DEFAULT_SITE", "Config"]

DEFAULT_SITE = "default"


@dataclass(frozen=True, eq=False)
class Config:
    """Everything Consentry needs from its configuration file (or from zero-config defaults)."""

    proxy: ProxySettings
    consent: ConsentSettings
    receipts: ReceiptsSettings
    sites: dict[str, SitePolicy]
    source: Path | None = None
    _hosts: HostTable = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The loader has checked the patterns; building the table here keeps it in step with sites.
        entries = [
            (parse_host_pattern(host), site.site_id)
            for site in self.sites.values()
            for host in site.hosts
        ]
        default = DEFAULT_SITE if DEFAULT_SITE in self.sites else None
        object.__setattr__(self, "_hosts", HostTable(entries, default))

    def site_for_host(self, host_header: str) -> SitePolicy | None:
        """The site that serves ``host_header`` (exact, then wildcard, then default), or None (answer 421)."""
        site_id = self._hosts.lookup(host_header)
        return None if site_id is None else self.sites[site_id]

    def summary(self) -> list[str]:
        """One line per site: hosts, upstream, mode, categories and number of rules."""
        lines = []
        for site in self.sites.values():
            hosts = ", ".join(site.hosts) or "(every other host)"
            rules = f"{len(site.rules)} rule" + ("" if len(site.rules) == 1 else "s")
            lines.append(
                f"{site.site_id}: {hosts} -> {site.upstream} "
                f"(mode {site.mode}; categories {', '.join(site.categories)}; {rules})"
            )
        return lines
