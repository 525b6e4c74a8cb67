"""One audit run's setup: the policy, the simulated consent and an engine per site.

The mitmproxy addon and ``consentry scan`` both need the same things: a policy file
(or the built-in default policy), a consent choice given as text (``none``, ``all`` or a
comma list) checked against the categories the policy knows, an optional mode that
overrides each site's own, and for any host the site that applies to it (the matching
site, else the ``default`` site, else the first). ``Simulation`` holds those and hands
out cached engines, so neither adapter repeats the logic. Problems are raised as
``SimulationError`` whose ``setting`` says which input is wrong and whose message says
how to fix it; the adapters turn it into an ``OptionsError`` or an exit code.
Must not import mitmproxy or aiohttp.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from proxy.audit.model import TrackerFinding
from proxy.catalogue import Catalogue
from proxy.consent import ConsentState
from proxy.defaults import NECESSARY
from proxy.engine import Engine, Report
from proxy.policy.problems import did_you_mean

if TYPE_CHECKING:  # types only (the policy package is loaded when a run needs it)
    from proxy.policy import Config, SitePolicy


__all__ = ["MODES", "Simulation", "SimulationError", "findings_from_report"]

log = logging.getLogger(__name__)

MODES = ("defer", "strip")


class SimulationError(ValueError):
    """A setting of the run is wrong; ``setting`` is "config", "consent", "mode" or "site"."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


def _hint(word: str, choices: Iterable[str]) -> str:
    """'; did you mean "x"?' when something is close, else the full stop ending the sentence."""
    return did_you_mean(word, choices) or "."


def findings_from_report(report: Report, catalogue: Catalogue | None = None) -> list[TrackerFinding]:
    """The engine's report entries as audit findings, with the vendors' display names."""
    vendors = catalogue.vendors if catalogue is not None else {}
    return [
        TrackerFinding(
            tag=entry.tag,
            vendor=entry.vendor,
            category=entry.category,
            action=entry.action,
            url=entry.url,
            line=entry.line,
            offset=entry.offset,
            context=entry.context,
            vendor_name=vendors[entry.vendor].name if entry.vendor in vendors else None,
            source=entry.source,
        )
        for entry in report.entries
    ]


def _load(config_path: str | Path) -> Config:
    from proxy.policy import ConfigError, load_config

    path = Path(config_path).expanduser()
    if not path.is_file():
        raise SimulationError(
            "config",
            f"{config_path}: no such file; give the path of a policy file (see config/example.toml), "
            "or leave it empty for the built-in default policy",
        )
    try:
        return load_config(path)
    except ConfigError as error:
        lines = [problem.format() for problem in error.problems] or [str(error)]
        raise SimulationError("config", "; ".join(lines) + " (fix the policy file; `consentry check-config` lists every problem)") from None


def _builtin() -> Config:
    from proxy.policy import default_config

    # Zero-config warns when CONSENTRY_SECRET is unset because cookies would not survive a
    # restart; an audit never signs a cookie, so that warning would only mislead here.
    keyring_log = logging.getLogger("proxy.policy.keyring")
    previous = keyring_log.level
    keyring_log.setLevel(logging.ERROR)
    try:
        return default_config()
    finally:
        keyring_log.setLevel(previous)


class Simulation:
    """The policy and simulated consent of one audit run."""

    def __init__(
        self,
        *,
        config: Config | None = None,
        config_path: str | Path | None = None,
        consent: str = "none",
        mode: str | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        if config is None:
            config = _load(config_path) if config_path else _builtin()
        self.config = config
        # A loaded config knows its file (``Config.source``); zero-config has none.
        source = config_path or config.source
        self.config_path = str(source) if source else None
        self.catalogue = catalogue
        self.mode = self._check_mode(mode)
        self.categories = self._known_categories()
        self.consent_text = (consent or "none").strip() or "none"
        self.chosen = self._check_consent(self.consent_text)
        self._engines: dict[str, Engine] = {}
        self._builtin_site: SitePolicy | None = None

    # -- validation ---------------------------------------------------------------------

    @staticmethod
    def _check_mode(mode: str | None) -> str | None:
        if mode is None or mode.strip() == "":
            return None
        text = mode.strip().lower()
        if text not in MODES:
            raise SimulationError(
                "mode", f"{mode!r} is not a mode{_hint(mode, MODES)} Use defer or strip (or leave it empty for the policy's own)."
            )
        return text

    def _known_categories(self) -> list[str]:
        names: list[str] = [NECESSARY]
        for site in self.sites():
            for name in site.categories:
                if name not in names:
                    names.append(name)
        return names

    def _check_consent(self, text: str) -> list[str] | str:
        if text in ("all", "none"):
            return text
        chosen = [part.strip() for part in text.split(",") if part.strip()]
        for name in chosen:
            if name not in self.categories:
                raise SimulationError(
                    "consent",
                    f"{name!r} is not a category{_hint(name, self.categories)} "
                    f"Use none, all, or a comma list of: {', '.join(self.categories)}.",
                )
        return chosen

    # -- lookups ------------------------------------------------------------------------

    def sites(self) -> Iterable[SitePolicy]:
        return list(self.config.sites.values())

    @property
    def granted(self) -> list[str]:
        """The categories the simulated consent grants (across all sites)."""
        if self.chosen == "all":
            return list(self.categories)
        if self.chosen == "none":
            return [NECESSARY]
        return [NECESSARY, *(name for name in self.chosen if name != NECESSARY)]

    @property
    def mode_label(self) -> str:
        if self.mode is not None:
            return self.mode
        modes = sorted({site.mode for site in self.sites()}) or ["defer"]
        return "/".join(modes)

    def fallback_site(self) -> SitePolicy:
        """The site for a document with no host (a file): ``default``, else the policy's first."""
        sites = self.config.sites
        if "default" in sites:
            return sites["default"]
        if sites:
            return next(iter(sites.values()))
        return self.builtin_site()

    def builtin_site(self) -> SitePolicy:
        if self._builtin_site is None:
            self._builtin_site = next(iter(_builtin().sites.values()))
        return self._builtin_site

    def site_for_host(self, host: str | None) -> SitePolicy:
        """The policy's site for ``host`` (its ``default`` site included), else the built-in default.

        A host the policy does not cover gets the built-in policy rather than some other
        site's rules: browsing news.example must not be judged by shop.example's policy.
        """
        if host:
            site = self.config.site_for_host(host)
            if site is not None:
                return site
        sites = self.config.sites
        return sites["default"] if "default" in sites else self.builtin_site()

    def site_by_id(self, site_id: str) -> SitePolicy:
        sites = self.config.sites
        if site_id in sites:
            return sites[site_id]
        site = self.config.site_for_host(site_id)
        if site is None:
            raise SimulationError(
                "site",
                f"{site_id!r} is not a site of the policy{_hint(site_id, sites)} Sites are: {', '.join(sites)}.",
            )
        return site

    def engine_for(self, site: SitePolicy) -> Engine:
        key = f"{site.site_id}@{id(site)}"   # a policy site and the built-in may share "default"
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = Engine(site, catalogue=self.catalogue)
        return engine

    def vendor_name(self, vendor_id: str | None) -> str | None:
        """The catalogue's display name of a vendor id, None when unknown."""
        if vendor_id is None:
            return None
        catalogue = self.catalogue or Catalogue.default()
        vendor = catalogue.vendors.get(vendor_id)
        return vendor.name if vendor is not None else None

    def findings(self, report: Report) -> list[TrackerFinding]:
        return findings_from_report(report, self.catalogue or Catalogue.default())

    def state_for(self, site: SitePolicy) -> ConsentState:
        # The site's own list, so "all" means all of *its* categories.
        categories = [NECESSARY, *(c for c in site.categories if c != NECESSARY)]
        choice = self.chosen if isinstance(self.chosen, str) else list(self.chosen)
        return ConsentState.simulated(choice, all_categories=categories if len(categories) > 1 else None)

    def mode_for(self, site: SitePolicy) -> str:
        return self.mode or site.mode
