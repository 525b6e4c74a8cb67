"""Load the TOML file into a ``Config``: parse, validate every table, inherit, cross-check, read secrets.

``load_config(path)`` reports every problem in the file at once as a
``ConfigError`` (file, line, dotted key path, message); ``default_config`` builds
the zero-config setup; ``check_config`` is what ``consentry check-config``
prints. A site inherits in layers, each merged key by key over the one before
(nested tables merge, arrays and values replace): the built-in categories and
banner texts, the global ``[consent]`` cookie settings and ``[proxy]``
timeouts/trusted proxies, ``[defaults]``, then the site's own table. Must not
import aiohttp, mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from proxy.policy import keymaterial
from proxy.policy.builtin import BANNER_TEXTS, BUILTIN_CATEGORIES, NECESSARY
from proxy.policy.config import DEFAULT_SITE, Config
from proxy.policy.fields import check_category_name, check_upstream
from proxy.policy.hosts import parse_host_pattern
from proxy.policy.messages import describe_value, explain
from proxy.policy.model import (
    ConfigFile,
    ConsentSettings,
    KeySpec,
    ProxySettings,
    ReceiptsSettings,
    SiteDefaults,
    SitePolicy,
    SiteSettings,
)
from proxy.policy.problems import ConfigError, Problem, did_you_mean
from proxy.policy.tomlpaths import KeyLines, KeyPath, format_path

__all__ = ["SECRET_ENV", "build_config", "check_config", "default_config", "load_config"]

log = logging.getLogger(__name__)

SECRET_ENV = "CONSENTRY_SECRET"
_TOML_POSITION = re.compile(r"^(?P<message>.*?) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")


class _Problems:
    """Problems found so far, as (key path, message) pairs; located and formatted at the end."""

    def __init__(self) -> None:
        self.found: list[tuple[KeyPath, str]] = []

    def add(self, path: KeyPath, message: str) -> None:
        if (path, message) not in self.found:  # inherited [defaults] problems would repeat per site
            self.found.append((path, message))

    def add_validation(self, error: ValidationError, root: type[BaseModel], prefix: KeyPath) -> None:
        for detail in error.errors():
            path, message = explain(detail, root)
            self.add(prefix + path, message)


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file; raises ``ConfigError`` listing every problem."""
    name = str(path)
    source = Path(path)
    try:
        text = source.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(name, None, "", "cannot read the file: no such file")]) from None
    except OSError as error:
        raise ConfigError([Problem(name, None, "", f"cannot read the file: {error.strerror}")]) from None
    except UnicodeDecodeError as error:
        line = source.read_bytes()[: error.start].count(b"\n") + 1
        raise ConfigError([Problem(name, line, "", "not UTF-8 text; TOML files must be UTF-8")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([_syntax_problem(name, error)]) from None
    return build_config(data, name=name, text=text, source=source)


def _syntax_problem(name: str, error: tomllib.TOMLDecodeError) -> Problem:
    message = str(error)
    match = _TOML_POSITION.match(message)
    if match is None:
        return Problem(name, None, "", f"TOML syntax error: {message}")
    detail = match["message"][0].lower() + match["message"][1:]
    return Problem(name, int(match["line"]), "", f"TOML syntax error at column {match['column']}: {detail}")


def build_config(data: Mapping[str, Any], *, name: str, text: str = "", source: Path | None = None) -> Config:
    """Validate parsed TOML ``data``; ``name`` and ``text`` locate problems (``text`` empty: no lines)."""
    problems = _Problems()
    base_dir = source.parent if source is not None else None
    for key in data:
        if key not in ConfigFile.model_fields:
            problems.add((key,), f'unknown key "{key}"{did_you_mean(key, ConfigFile.model_fields)}')

    proxy = _validate(ProxySettings, data.get("proxy", {}), ("proxy",), problems)
    consent = _validate(ConsentSettings, data.get("consent", {}), ("consent",), problems)
    receipts = _validate(ReceiptsSettings, data.get("receipts", {}), ("receipts",), problems)
    dropped: set[str] = set()
    defaults = _validate(SiteDefaults, data.get("defaults", {}), ("defaults",), problems, dropped)
    if consent is not None:
        consent = _resolve_keys(consent, base_dir, problems)
    if receipts is not None:
        _resolve_salt(receipts, base_dir, problems)

    raw_sites = data.get("sites", {})
    if not isinstance(raw_sites, dict):
        problems.add(("sites",), f"expected a table of sites, got {describe_value(raw_sites)}")
        raw_sites = {}
    if not raw_sites:
        problems.add(("sites",), 'no sites; add a [sites."<host>"] table, or [sites.default] to serve every host')
    raw_defaults = data.get("defaults", {}) if isinstance(data.get("defaults"), dict) else {}
    sites: dict[str, SitePolicy] = {}
    for site_id, raw in raw_sites.items():
        site_dropped = set(dropped)
        settings = _validate_site(site_id, raw, problems, site_dropped)
        if settings is None or defaults is None or consent is None or proxy is None:
            continue  # merged checks would only repeat what is already reported
        hosts = _site_hosts(site_id, settings, problems)
        site = _resolve_site(
            site_id, hosts, settings, defaults, consent, proxy, raw, raw_defaults, problems, site_dropped
        )
        if site is not None:
            sites[site_id] = site
    _check_duplicate_hosts(raw_sites, problems)

    if problems.found or proxy is None or consent is None or receipts is None:
        lines = KeyLines(text)
        located = [Problem(name, lines.line_for(path), format_path(path), msg) for path, msg in problems.found]
        located.sort(key=lambda p: p.line if p.line is not None else 0)
        raise ConfigError(located)
    return Config(proxy=proxy, consent=consent, receipts=receipts, sites=sites, source=source)


def _validate[M: BaseModel](
    model: type[M], raw: object, prefix: KeyPath, problems: _Problems, dropped: set[str] | None = None
) -> M | None:
    """Validate a table; on errors, report them and retry without the offending keys.

    The retry gives the later checks (inheritance, categories, hosts) a partial table to
    work on, so one run reports every problem in the file, not only the first layer's.
    ``dropped`` collects the keys left out.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems.add_validation(error, model, prefix)
        bad = {str(detail["loc"][0]) for detail in error.errors() if detail["loc"]}
        if not isinstance(raw, dict) or any(not detail["loc"] for detail in error.errors()):
            return None
    if dropped is not None:
        dropped.update(bad)
    try:
        return model.model_validate({key: value for key, value in raw.items() if key not in bad})
    except ValidationError:
        return None


def _validate_site(site_id: str, raw: object, problems: _Problems, dropped: set[str]) -> SiteSettings | None:
    where: KeyPath = ("sites", site_id)
    valid = True
    if site_id != DEFAULT_SITE:
        try:
            parse_host_pattern(site_id)
        except ValueError as error:
            problems.add(where, f'"{site_id}" is not a host name ({error}); name a site by its host, or "default"')
            valid = False
    settings = _validate(SiteSettings, raw, where, problems, dropped)
    return settings if valid else None


def _site_hosts(site_id: str, settings: SiteSettings, problems: _Problems) -> tuple[str, ...]:
    hosts = [] if site_id == DEFAULT_SITE else [str(parse_host_pattern(site_id))]
    for index, alias in enumerate(settings.aliases):
        try:
            hosts.append(str(parse_host_pattern(alias)))
        except ValueError as error:
            problems.add(("sites", site_id, "aliases", index), f'"{alias}" is not a host name ({error})')
    return tuple(hosts)


def _check_duplicate_hosts(raw_sites: Mapping[str, Any], problems: _Problems) -> None:
    """Each host may belong to one site only; report every later claim at the place it is made."""
    owners: dict[str, KeyPath] = {}
    for site_id, raw in raw_sites.items():
        claims: list[tuple[str, KeyPath]] = []
        if site_id != DEFAULT_SITE:
            claims.append((site_id, ("sites", site_id)))
        aliases = raw.get("aliases", []) if isinstance(raw, dict) else []
        if isinstance(aliases, list):
            claims += [(a, ("sites", site_id, "aliases", i)) for i, a in enumerate(aliases) if isinstance(a, str)]
        for host, path in claims:
            try:
                canonical = str(parse_host_pattern(host))
            except ValueError:
                continue  # reported with the site or alias itself
            if canonical in owners:
                shown = f'"{host}"' if host == canonical else f'"{host}" ({canonical})'
                problems.add(path, f"host {shown} is already used by {format_path(owners[canonical])}")
            else:
                owners[canonical] = path


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; every other value (arrays included) replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(dict(merged[key]), value)
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


def _resolve_site(
    site_id: str,
    hosts: tuple[str, ...],
    settings: SiteSettings,
    defaults: SiteDefaults,
    consent: ConsentSettings,
    proxy: ProxySettings,
    raw_site: Any,
    raw_defaults: Mapping[str, Any],
    problems: _Problems,
    dropped: set[str],
) -> SitePolicy | None:
    def where(*path: str | int) -> KeyPath:
        # Report a merged value where it was written: the site's table, else [defaults].
        if not _has_path(raw_site, path) and _has_path(raw_defaults, path):
            return ("defaults", *path)
        return ("sites", site_id, *path)

    inherited = {
        "categories": BUILTIN_CATEGORIES,
        "cookie_name": consent.cookie_name,
        "lifetime_days": consent.lifetime_days,
        "honor_gpc": consent.honor_gpc,
        "timeouts": proxy.timeouts.model_dump(),
        "trusted_proxies": list(proxy.trusted_proxies),
    }
    merged = _deep_merge(inherited, defaults.model_dump(exclude_unset=True))
    merged = _deep_merge(merged, settings.model_dump(exclude_unset=True))
    if "upstream" in dropped:
        return None  # its problem is reported; "no upstream" would only add noise
    if merged.get("upstream") is None:
        problems.add(
            ("sites", site_id), 'no upstream; add upstream = "http://host:port" here or in [defaults]'
        )
        return None
    banner = merged.setdefault("banner", {})
    banner["texts"] = _banner_texts(banner, where, problems)
    try:
        site = SitePolicy.model_validate({**merged, "site_id": site_id, "hosts": hosts})
    except ValidationError as error:  # parts were valid alone; report anything left at the site
        problems.add_validation(error, SitePolicy, ("sites", site_id))
        return None
    _check_categories(site, where, problems)
    return site


def _banner_texts(banner: dict[str, Any], where: Any, problems: _Problems) -> dict[str, dict[str, str]]:
    """Built-in texts with the site's overrides, for every banner language; checks keys and coverage."""
    languages: list[str] = banner.get("languages") or list(BANNER_TEXTS)
    overrides: dict[str, dict[str, str]] = banner.get("texts", {})
    known = list(BANNER_TEXTS["en"])
    resolved: dict[str, dict[str, str]] = {}
    for language, texts in overrides.items():
        if language not in languages:
            problems.add(where("banner", "texts", language), f'"{language}" is not in banner.languages; add it there or remove these texts')
        for key in texts:
            if key not in known:
                problems.add(where("banner", "texts", language, key), f'unknown text "{key}"{did_you_mean(key, known)}')
    for language in languages:
        texts = {**BANNER_TEXTS.get(language, {}), **overrides.get(language, {})}
        missing = [key for key in known if key not in texts]
        if missing:
            problems.add(
                where("banner", "languages"),
                f'no built-in texts for "{language}"; add [banner.texts.{language}] with '
                + ", ".join(missing),
            )
        resolved[language] = texts
    default_language = banner.get("default_language", "en")
    if default_language not in languages:
        problems.add(where("banner", "default_language"), f'"{default_language}" is not one of banner.languages ({", ".join(languages)})')
    return resolved


def _check_categories(site: SitePolicy, where: Any, problems: _Problems) -> None:
    names = list(site.categories)
    for name, category in site.categories.items():
        try:
            check_category_name(name)
        except ValueError as error:
            problems.add(where("categories", name), str(error))
        if site.banner.default_language not in category.label:
            problems.add(
                where("categories", name),
                f'no label in "{site.banner.default_language}" (the banner\'s default_language); add label.{site.banner.default_language}',
            )

    def unknown(name: str) -> str:
        return f'unknown category "{name}"{did_you_mean(name, names) or "; categories: " + ", ".join(names)}'

    for index, rule in enumerate(site.rules):
        if rule.category not in site.categories:
            problems.add(where("rules", index, "category"), unknown(rule.category))
    for vendor_id, override in site.vendors.items():
        if override.category is not None and override.category not in site.categories:
            problems.add(where("vendors", vendor_id, "category"), unknown(override.category))
    if site.unknown_third_party != "allow" and site.unknown_third_party not in site.categories:
        message = unknown(site.unknown_third_party)
        problems.add(where("unknown_third_party"), message + ' (or "allow")')


def _resolve_keys(consent: ConsentSettings, base_dir: Path | None, problems: _Problems) -> ConsentSettings:
    """Read every key's material; an empty key ring becomes the zero-config CONSENTRY_SECRET key."""
    if not consent.keys:
        try:
            return consent.model_copy(update={"keys": [_zero_config_key()]})
        except ValueError as error:
            problems.add(("consent", "keys"), f"no keys configured, so {SECRET_ENV} is used, but {error}")
            return consent
    resolved: list[KeySpec] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(consent.keys):
        here: KeyPath = ("consent", "keys", index)
        if spec.kid in seen:
            problems.add(here + ("kid",), f'kid "{spec.kid}" is already used by consent.keys[{seen[spec.kid]}]; every key needs its own kid')
        seen.setdefault(spec.kid, index)
        if index == 0 and not spec.can_sign:
            problems.add(here, "the first key signs new cookies, so it needs private_key_file; put verify-only keys after it")
        update: dict[str, str] = {}
        for field, env, file, check in (
            ("secret", spec.secret_env, spec.secret_file, keymaterial.check_hmac_secret),
            ("private_key", None, spec.private_key_file, lambda pem: keymaterial.check_pem(pem, spec.alg, private=True)),
            ("public_key", None, spec.public_key_file, lambda pem: keymaterial.check_pem(pem, spec.alg, private=False)),
        ):
            source = "secret_env" if env else f"{field}_file" if file else field
            try:
                if env:
                    value = keymaterial.read_env(env)
                elif file:
                    value = keymaterial.read_file(file, base_dir, strip=field == "secret")
                else:
                    value = getattr(spec, field)
                if value is not None:
                    update[field] = check(value)
            except ValueError as error:
                problems.add(here + (source,), str(error))
        resolved.append(spec.model_copy(update=update))
    return consent.model_copy(update={"keys": resolved})


def _zero_config_key() -> KeySpec:
    """One HS256 key, kid "default", from CONSENTRY_SECRET or, failing that, random for this process."""
    secret = os.environ.get(SECRET_ENV)
    if secret:
        keymaterial.check_hmac_secret(secret)  # raises MaterialError, reported by the caller
    else:
        secret = secrets.token_urlsafe(48)
        log.warning(
            "%s is not set: using a random secret, so consent cookies will not survive a restart "
            "(set %s to 32+ random bytes, e.g. `consentry keys generate --alg HS256`)",
            SECRET_ENV,
            SECRET_ENV,
        )
    return KeySpec.model_construct(kid="default", alg="HS256", secret=secret)


def _resolve_salt(receipts: ReceiptsSettings, base_dir: Path | None, problems: _Problems) -> None:
    try:
        if receipts.ip_salt_env:
            salt = keymaterial.read_env(receipts.ip_salt_env)
        elif receipts.ip_salt_file:
            salt = keymaterial.read_file(receipts.ip_salt_file, base_dir, strip=True)
        else:
            return
    except ValueError as error:
        key = "ip_salt_env" if receipts.ip_salt_env else "ip_salt_file"
        problems.add(("receipts", key), str(error))
        return
    receipts._ip_salt = salt.encode("utf-8")


def default_config(upstream: str = "http://127.0.0.1:8000") -> Config:
    """Zero-config: one site "default" for every host, and the CONSENTRY_SECRET key (see DESIGN.md)."""
    try:
        check_upstream(upstream)
    except ValueError as error:
        raise ConfigError([Problem("--upstream", None, "", str(error))]) from None
    try:
        key = _zero_config_key()
    except ValueError as error:
        raise ConfigError([Problem("environment", None, SECRET_ENV, str(error))]) from None
    data = {
        "consent": {"keys": [{"kid": key.kid, "alg": key.alg, "secret": key.secret}]},
        "sites": {DEFAULT_SITE: {"upstream": upstream}},
    }
    return build_config(data, name="<zero-config>")


def check_config(path: str | Path) -> tuple[int, list[str]]:
    """What ``consentry check-config FILE`` prints and its exit status: ``ok`` and a line per site, or the problems."""
    try:
        config = load_config(path)
    except ConfigError as error:
        return 2, error.lines()
    return 0, ["ok", *config.summary()]
