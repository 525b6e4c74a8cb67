"""Load the TOML file into a ``Config``, reporting every problem in the file at once.

``load_config(path)`` parses the file (syntax errors with line and column),
validates each table against its model, resolves every site (``sites.py``) and
the key ring (``keyring.py``), and raises one ``ConfigError`` listing each
problem as ``FILE:LINE: dotted.key: message``. ``default_config`` builds the
zero-config setup and ``check_config`` is what ``consentry check-config``
prints. Must not depend on aiohttp, mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from proxy.policy.config import Config
from proxy.policy.fields import check_upstream
from proxy.policy.keyring import (
    RANDOM_SECRET_WARNING,
    SECRET_ENV,
    quiet_random_secret,
    check_shared_state,
    resolve_keys,
    resolve_receipts,
    zero_config_key,
)
from proxy.policy.messages import Findings, describe_value
from proxy.policy.model import (
    SitePolicy,
    ConfigFile,
    ConsentSettings,
    KeySpec,
    ProxySettings,
    ReceiptsSettings,
    SiteDefaults,
    SiteSettings,
)
from proxy.policy.problems import ConfigError, Problem, did_you_mean
from proxy.policy.sites import DEFAULT_SITE, check_duplicate_hosts, resolve_site
from proxy.policy.tomlpaths import KeyLines, KeyPath, format_path

__all__ = ["SECRET_ENV", "build_config", "check_config", "default_config", "load_config", "parse_config"]

_TOML_POSITION = re.compile(r"^(?P<message>.*?) \(at line (?P<line>\d+), column (?P<column>\d+)\)$", re.S)
# tomllib names keys as Python tuples, ('sites', 'a'); the messages show them as TOML paths.
_TOML_KEY_TUPLE = re.compile(r"(\((?:'[^']*'|\"[^\"]*\"|, ?)+,?\))")


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file; raises ``ConfigError`` listing every problem."""
    name = str(path)
    source = Path(path)
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem(name, None, "", "cannot read the file: no such file")]) from None
    except OSError as error:
        raise ConfigError([Problem(name, None, "", f"cannot read the file: {error.strerror}")]) from None
    return parse_config(data, name=name, source=source)


def parse_config(data: bytes, *, name: str, source: Path | None = None) -> Config:
    """Validate the bytes of a policy file, as ``load_config`` does once it has read them.

    ``name`` labels the problems; ``source`` is where the file would be (relative key and
    catalogue paths resolve against its directory). The fuzzer drives this seam, so the
    decoding, TOML and validation code it exercises is the file loader's own.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError([Problem(name, line, "", "not UTF-8 text; TOML files must be UTF-8")]) from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([_syntax_problem(name, text, error)]) from None
    return build_config(table, name=name, text=text, source=source)


def _syntax_problem(name: str, text: str, error: tomllib.TOMLDecodeError) -> Problem:
    message = str(error)
    line: int | None = None
    where = ""
    if match := _TOML_POSITION.match(message):
        message, line, where = match["message"], int(match["line"]), f" at column {match['column']}"
    elif message.endswith(" (at end of document)"):
        message = message.removesuffix(" (at end of document)")
        line, where = text.count("\n") + 1, " at the end of the file"
    message = _TOML_KEY_TUPLE.sub(_tuple_as_path, message)
    return Problem(name, line, "", f"TOML syntax error{where}: {message[0].lower()}{message[1:]}")


def _tuple_as_path(match: re.Match[str]) -> str:
    try:
        return format_path(ast.literal_eval(match[1]))
    except (ValueError, SyntaxError, TypeError):
        return match[1]


def build_config(
    data: Mapping[str, Any],
    *,
    name: str,
    text: str = "",
    source: Path | None = None,
    keys: list[KeySpec] | None = None,
) -> Config:
    """Validate parsed TOML ``data``; ``name`` and ``text`` locate the problems (no ``text``: no lines).

    ``keys``, when given, is the key ring to use instead of resolving ``consent.keys``.
    """
    findings = Findings()
    base_dir = source.parent if source is not None else None
    for key in data:
        if key not in ConfigFile.model_fields:
            findings.add((key,), f'unknown key "{key}"{did_you_mean(key, ConfigFile.model_fields)}')

    proxy = _validate(ProxySettings, data.get("proxy", {}), ("proxy",), findings)
    consent = _validate(ConsentSettings, data.get("consent", {}), ("consent",), findings)
    if keys is None:
        raw_consent = data.get("consent", {})
        keys = resolve_keys(raw_consent.get("keys") if isinstance(raw_consent, dict) else None, base_dir, findings)
    if consent is not None and keys is not None:
        consent = consent.model_copy(update={"keys": keys})
    receipts = _validate(ReceiptsSettings, data.get("receipts", {}), ("receipts",), findings)
    if receipts is not None:
        receipts = resolve_receipts(receipts, base_dir, findings)
        if keys is not None:
            check_shared_state(keys, receipts, findings)
    defaults_dropped: set[str] = set()
    defaults = _validate(SiteDefaults, data.get("defaults", {}), ("defaults",), findings, defaults_dropped)

    raw_sites = data.get("sites", {})
    if not isinstance(raw_sites, dict):
        findings.add(("sites",), f"expected a table of sites, got {describe_value(raw_sites)}")
        raw_sites = {}
    elif not raw_sites:
        findings.add(("sites",), 'no sites; add a [sites."<host>"] table, or [sites.default] to serve every host')
    sites = {}
    for site_id, raw in raw_sites.items():
        dropped = set(defaults_dropped)
        settings = _validate(SiteSettings, raw, ("sites", site_id), findings, dropped)
        site = resolve_site(site_id, raw, data.get("defaults"), settings, defaults, consent, proxy, dropped, findings)
        if site is not None:
            sites[site_id] = _resolve_catalogues(site, site_id, base_dir, findings)
    check_duplicate_hosts(raw_sites, findings)

    if findings.found or proxy is None or consent is None or receipts is None:
        lines = KeyLines(text)
        problems = [Problem(name, lines.line_for(path), format_path(path), msg) for path, msg in findings.found]
        problems.sort(key=lambda p: p.line if p.line is not None else 0)
        raise ConfigError(problems)
    return Config(proxy=proxy, consent=consent, receipts=receipts, sites=sites, source=source)


def _resolve_catalogues(site: SitePolicy, site_id: str, base_dir: Path | None, findings: Findings) -> SitePolicy:
    """Make each ``catalogues`` path absolute (relative to the policy file) and check it loads."""
    if not site.catalogues:
        return site
    from proxy.catalogue import Catalogue, CatalogueError

    resolved = []
    for index, entry in enumerate(site.catalogues):
        path = Path(entry).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            Catalogue.load(path)
        except CatalogueError as error:
            key = ("sites", site_id, "catalogues", index)
            findings.add(key, f"{error}; write the overlay with `consentry catalogue import` or fix the file")
            continue
        resolved.append(str(path.resolve()))
    return site.model_copy(update={"catalogues": resolved})


def _validate[M: BaseModel](
    model: type[M], raw: object, prefix: KeyPath, findings: Findings, dropped: set[str] | None = None
) -> M | None:
    """Validate one table; on errors, report them and retry without the offending keys.

    The retry gives the later steps (inheritance, hosts) a partial table to work on, so one
    run reports the problems of every layer. ``dropped`` collects the keys left out.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        findings.add_validation(error, model, prefix)
        details = error.errors()
    if not isinstance(raw, dict) or any(not detail["loc"] for detail in details):
        return None  # the table itself is wrong (not a table, or a model-level rule)
    bad = {str(detail["loc"][0]) for detail in details}
    if dropped is not None:
        dropped.update(bad)
    try:
        return model.model_validate({key: value for key, value in raw.items() if key not in bad})
    except ValidationError:
        return None


DEFAULT_UPSTREAM = "http://127.0.0.1:8000"


def default_config(upstream: str | None = None) -> Config:
    """Zero-config: one site "default" for every host and one HS256 key from CONSENTRY_SECRET (DESIGN.md).

    Without CONSENTRY_SECRET a random secret is used and a warning logged; raises ``ConfigError``
    for an invalid upstream or a CONSENTRY_SECRET too short to be safe. ``upstream`` None means
    ``http://127.0.0.1:8000``.
    """
    upstream = DEFAULT_UPSTREAM if upstream is None else upstream
    try:
        check_upstream(upstream)
    except ValueError as error:
        raise ConfigError([Problem("--upstream", None, "", str(error))]) from None
    try:
        key = zero_config_key()
    except ValueError as error:
        raise ConfigError([Problem("environment", None, SECRET_ENV, str(error))]) from None
    return build_config({"sites": {DEFAULT_SITE: {"upstream": upstream}}}, name="<zero-config>", keys=[key])


def check_config(path: str | Path) -> tuple[int, list[str]]:
    """``consentry check-config FILE``: (0, ["ok", a line per site, notes]) or (2, the problems)."""
    quiet = quiet_random_secret.set(True)
    try:
        config = load_config(path)
    except ConfigError as error:
        return 2, error.lines()
    finally:
        quiet_random_secret.reset(quiet)
    notes = [f"note: {RANDOM_SECRET_WARNING}" for key in config.consent.keys if key.ephemeral]
    return 0, ["ok", *config.summary(), *notes]
