"""Resolve each site: inherit in layers, check what only the merged site can show, claim hosts.

A site inherits, each layer merged key by key over the one before (tables merge,
arrays and values replace): the built-in categories, the global ``[consent]``
cookie settings and ``[proxy]`` timeouts / trusted proxies, ``[defaults]``, then
the site's own table. Checks that need the merged view (a rule's category must
exist, every banner language needs texts, a host belongs to one site) run on the
raw TOML tables, so they still run when some other key failed validation, and
report each problem where it is written: the site's table, else ``[defaults]``.
Must not depend on aiohttp, mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from proxy.policy.builtin import BANNER_TEXTS, BUILTIN_CATEGORIES, BUILTIN_LANGUAGES
from proxy.policy.fields import check_category_name
from proxy.policy.hosts import parse_host_pattern
from proxy.policy.messages import Findings
from proxy.policy.model import ConsentSettings, ProxySettings, SiteDefaults, SitePolicy, SiteSettings
from proxy.policy.problems import did_you_mean
from proxy.policy.tomlpaths import KeyPath, format_path

__all__ = ["DEFAULT_SITE", "check_duplicate_hosts", "deep_merge", "resolve_site"]

from proxy.policy.config import DEFAULT_SITE

log = logging.getLogger(__name__)

type Where = Callable[..., KeyPath]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; every other value (arrays included) replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _has_path(table: object, path: KeyPath) -> bool:
    node = table
    for part in path:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return True


def _table(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def resolve_site(
    site_id: str,
    raw_site: object,
    raw_defaults: object,
    settings: SiteSettings | None,
    defaults: SiteDefaults | None,
    consent: ConsentSettings | None,
    proxy: ProxySettings | None,
    dropped: set[str],
    findings: Findings,
) -> SitePolicy | None:
    """The merged site, or None when it or anything it inherits is invalid (problems in ``findings``)."""
    raw_site, raw_defaults = _table(raw_site), _table(raw_defaults)

    def where(*path: str | int) -> KeyPath:
        if not _has_path(raw_site, path) and _has_path(raw_defaults, path):
            return ("defaults", *path)
        return ("sites", site_id, *path)

    raw_merged = deep_merge(deep_merge({"categories": BUILTIN_CATEGORIES}, raw_defaults), raw_site)
    texts = _banner_texts(_table(raw_merged.get("banner")), where, findings)
    _check_variants(_table(raw_merged.get("banner")), texts, where, findings)
    _check_categories(raw_merged, where, findings)
    if settings is None or defaults is None or consent is None or proxy is None:
        return None
    hosts = _site_hosts(site_id, settings)
    if "upstream" in dropped:
        return None  # its problem is reported; "no upstream" would only add noise
    inherited = {
        "categories": BUILTIN_CATEGORIES,
        "cookie_name": consent.cookie_name,
        "lifetime_days": consent.lifetime_days,
        "honor_gpc": consent.honor_gpc,
        "timeouts": proxy.timeouts.model_dump(),
        "trusted_proxies": list(proxy.trusted_proxies),
    }
    merged = deep_merge(inherited, defaults.model_dump(exclude_unset=True))
    merged = deep_merge(merged, settings.model_dump(exclude_unset=True))
    if merged.get("upstream") is None:
        findings.add(("sites", site_id), 'no upstream; add upstream = "http://host:port" here or in [defaults]')
        return None
    merged["banner"] = {**merged.get("banner", {}), "texts": texts}
    try:
        return SitePolicy.model_validate({**merged, "site_id": site_id, "hosts": hosts})
    except ValidationError as error:  # every layer was valid alone: a problem of the combination
        findings.add_validation(error, SitePolicy, ("sites", site_id))
        return None


def _site_hosts(site_id: str, settings: SiteSettings) -> tuple[str, ...]:
    hosts: list[str] = [] if site_id == DEFAULT_SITE else [site_id]
    hosts += settings.aliases
    normalised: list[str] = []
    for host in hosts:
        try:
            normalised.append(str(parse_host_pattern(host)))
        except ValueError:
            pass  # reported by check_duplicate_hosts, which sees every claim
    return tuple(normalised)


def _banner_texts(banner: dict[str, Any], where: Where, findings: Findings) -> dict[str, dict[str, str]]:
    """Built-in texts under the configured ones, for every banner language; checks keys and coverage."""
    languages = banner.get("languages")
    if not isinstance(languages, list) or not all(isinstance(code, str) for code in languages):
        languages = list(BUILTIN_LANGUAGES)
    overrides = {lang: _table(texts) for lang, texts in _table(banner.get("texts")).items()}
    known = list(BANNER_TEXTS["en"])
    for language, texts in overrides.items():
        if language not in languages:
            findings.add(
                where("banner", "texts", language),
                f'"{language}" is not in banner.languages; add it there or remove these texts',
            )
        for key in texts:
            if key not in known:
                findings.add(where("banner", "texts", language, key), f'unknown text "{key}"{did_you_mean(key, known)}')
    resolved: dict[str, dict[str, str]] = {}
    for language in languages:
        texts = {**BANNER_TEXTS.get(language, {}), **overrides.get(language, {})}
        missing = [key for key in known if key not in texts]
        if missing:
            findings.add(
                where("banner", "languages"),
                f'no built-in texts for "{language}"; add [banner.texts.{language}] with {", ".join(missing)}',
            )
        resolved[language] = texts
    default_language = banner.get("default_language", "en")
    if isinstance(default_language, str) and default_language not in languages:
        findings.add(
            where("banner", "default_language"),
            f'"{default_language}" is not one of banner.languages ({", ".join(languages)})',
        )
    return resolved


_FIRST_LAYER_DEFAULT = ["accept_all", "reject_all", "customize"]


def _check_variants(
    banner: dict[str, Any], texts: dict[str, dict[str, str]], where: Where, findings: Findings
) -> None:
    """Banner variants: unique ids, known languages and keys, and fair: rejecting is never
    harder than accepting (no empty or missing reject label beside an accept label, no
    reject button moved to the second layer while accept stays on the first)."""
    variants = banner.get("variants")
    if not isinstance(variants, list):
        return
    known = list(BANNER_TEXTS["en"])
    seen: dict[str, int] = {}
    for index, raw in enumerate(variants):
        variant = _table(raw)
        variant_id = variant.get("id")
        if isinstance(variant_id, str):
            if variant_id in seen:
                findings.add(
                    where("banner", "variants", index, "id"),
                    f'id "{variant_id}" is already used by banner.variants[{seen[variant_id]}]; give each variant its own id',
                )
            else:
                seen[variant_id] = index
        first_layer = variant.get("first_layer", _FIRST_LAYER_DEFAULT)
        if isinstance(first_layer, list) and "accept_all" in first_layer and "reject_all" not in first_layer:
            findings.add(
                where("banner", "variants", index, "first_layer"),
                'rejecting would be hidden behind the second layer while accepting is on the first; '
                'add "reject_all" to first_layer (e.g. ["accept_all", "reject_all", "customize"])',
            )
        for language, raw_texts in _table(variant.get("texts")).items():
            variant_texts = _table(raw_texts)
            path = ("banner", "variants", index, "texts", language)
            if language not in texts:
                findings.add(
                    where(*path),
                    f'"{language}" is not in banner.languages; add it there or remove these texts',
                )
            for key, value in variant_texts.items():
                if key not in known:
                    findings.add(where(*path, key), f'unknown text "{key}"{did_you_mean(key, known)}')
                elif isinstance(value, str) and not value.strip():
                    if key == "reject_all":
                        base = texts.get(language, {}).get("reject_all", "Reject all")
                        findings.add(
                            where(*path, key),
                            "empty reject label: rejecting must be as easy as accepting; "
                            f'give it a label as plain as accept_all, or remove the key to keep "{base}"',
                        )
                    else:
                        findings.add(where(*path, key), "empty text; give the text or remove the key")
            accept = variant_texts.get("accept_all")
            if isinstance(accept, str) and accept.strip() and "reject_all" not in variant_texts:
                base = texts.get(language, {}).get("reject_all", "Reject all")
                findings.add(
                    where(*path),
                    "sets an accept_all label but no reject_all: rejecting must be worded as plainly as accepting; "
                    f'add reject_all = "{base}" (or your own plain wording) beside accept_all',
                )


def _check_categories(site: dict[str, Any], where: Where, findings: Findings) -> None:
    categories = _table(site.get("categories"))
    names = list(categories)
    default_language = _table(site.get("banner")).get("default_language", "en")
    for name, category in categories.items():
        try:
            check_category_name(name)
        except ValueError as error:
            findings.add(where("categories", name), str(error))
            continue
        labels = _table(_table(category).get("label"))
        if isinstance(default_language, str) and default_language not in labels:
            findings.add(
                where("categories", name),
                f'no label in "{default_language}" (the banner\'s default_language); add label.{default_language}',
            )

    def unknown(name: str) -> str:
        return f'unknown category "{name}"{did_you_mean(name, names) or "; categories: " + ", ".join(names)}'

    rules = site.get("rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        category = _table(rule).get("category")
        if isinstance(category, str) and category not in categories:
            findings.add(where("rules", index, "category"), unknown(category))
    for vendor_id, override in _table(site.get("vendors")).items():
        category = _table(override).get("category")
        if isinstance(category, str) and category not in categories:
            findings.add(where("vendors", vendor_id, "category"), unknown(category))
    _check_vendor_ids(site, where, findings)
    loads = site.get("tag_manager_loads")
    for index, category in enumerate(loads if isinstance(loads, list) else []):
        if isinstance(category, str) and category not in categories:
            findings.add(where("tag_manager_loads", index), unknown(category))
    unknown_third_party = site.get("unknown_third_party", "allow")
    if isinstance(unknown_third_party, str) and unknown_third_party != "allow" and unknown_third_party not in categories:
        hint = did_you_mean(unknown_third_party, [*names, "allow"])
        if not hint.endswith('"allow"?'):
            hint = (hint or "; categories: " + ", ".join(names)) + ' (or "allow")'
        findings.add(where("unknown_third_party"), f'unknown category "{unknown_third_party}"{hint}')


def _catalogue_vendor_ids() -> frozenset[str] | None:
    """The shipped catalogue's vendor ids, or None if it cannot be read (the check is then skipped)."""
    try:
        from proxy.catalogue import Catalogue  # stdlib-only; imported late so a policy error never hides behind it

        return frozenset(Catalogue.default().vendors)
    except Exception:  # a broken catalogue is reported by its own loader, not as a policy problem
        log.debug("vendor ids not checked: the catalogue could not be loaded", exc_info=True)
        return None


def _check_vendor_ids(site: dict[str, Any], where: Where, findings: Findings) -> None:
    """A vendor override must name a catalogue vendor or one the site's own rules define: else a typo."""
    vendors = _table(site.get("vendors"))
    if not vendors:
        return
    known = _catalogue_vendor_ids()
    if known is None:
        return
    rules = site.get("rules")
    own = {_table(rule).get("vendor") for rule in (rules if isinstance(rules, list) else [])}
    choices = known | {vendor for vendor in own if isinstance(vendor, str)}
    for vendor_id in vendors:
        if vendor_id not in choices:
            hint = did_you_mean(vendor_id, choices) or "; it is neither in the catalogue nor named by a rule's vendor"
            findings.add(where("vendors", vendor_id), f'unknown vendor "{vendor_id}"{hint}')


def check_duplicate_hosts(raw_sites: Mapping[str, Any], findings: Findings) -> None:
    """Every site key and alias must be a valid host, claimed by one site only; later claims are reported."""
    owners: dict[str, KeyPath] = {}
    for site_id, raw in raw_sites.items():
        claims: list[tuple[str, KeyPath]] = []
        if site_id != DEFAULT_SITE:
            claims.append((site_id, ("sites", site_id)))
        aliases = _table(raw).get("aliases", [])
        if isinstance(aliases, list):
            claims += [(a, ("sites", site_id, "aliases", i)) for i, a in enumerate(aliases) if isinstance(a, str)]
        for host, path in claims:
            try:
                canonical = str(parse_host_pattern(host))
            except ValueError as error:
                hint = '; name a site by its host, or "default"' if len(path) == 2 else ""
                findings.add(path, f'"{host}" is not a host name ({error}){hint}')
                continue
            if canonical in owners:
                shown = f'"{host}"' if host == canonical else f'"{host}" ({canonical})'
                findings.add(path, f"host {shown} is already used by {format_path(owners[canonical])}")
            else:
                owners[canonical] = path
