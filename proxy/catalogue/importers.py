"""Turn a tracker list the operator has into a catalogue overlay file.

``consentry catalogue import FILE`` reads one of three formats and writes ``[[vendor]]``
tables in the catalogue's own format, which a site loads with ``catalogues = [...]``:

* the Disconnect tracking-protection ``services.json`` (categories -> companies -> hosts),
* an Adblock-Plus-syntax filter list such as EasyPrivacy (host-anchored ``||host^`` rules;
  element hiding, exceptions, regex and site-specific rules say nothing about a host
  and are counted as skipped),
* a Ghostery TrackerDB JSON export (patterns with their category, organisation and domains).

The list stays the operator's copy under its own licence: nothing of it ships with
Consentry. An overlay only adds what the shipped catalogue does not know (see
`Catalogue.with_overlay`). Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from proxy.catalogue.urls import site_of
from proxy.catalogue.vendor import CATEGORIES, CatalogueError

__all__ = ["FORMATS", "ImportResult", "ImportedVendor", "detect_format", "import_list", "to_toml"]

FORMATS = ("disconnect", "abp", "ghostery")

# Disconnect's categories (services.json) -> ours. "Content" is embedded content and
# CDNs that track (video players, widgets): preferences, the visitor's choice to see it.
DISCONNECT_CATEGORIES = {
    "advertising": "marketing",
    "analytics": "analytics",
    "social": "marketing",
    "content": "preferences",
    "cryptomining": "marketing",
    "fingerprintinginvasive": "marketing",
    "fingerprintinggeneral": "analytics",
    "disconnect": "marketing",
    "email": "marketing",
    "emailaggressive": "marketing",
    "emailstrict": "marketing",
}

# Ghostery TrackerDB categories -> ours. Anything not listed counts as marketing (fail closed).
GHOSTERY_CATEGORIES = {
    "advertising": "marketing",
    "adult_advertising": "marketing",
    "pornvertising": "marketing",
    "social_media": "marketing",
    "site_analytics": "analytics",
    "telemetry": "analytics",
    "session_replay": "analytics",
    "customer_interaction": "preferences",
    "audio_video_player": "preferences",
    "comments": "preferences",
    "consent": "necessary",
    "essential": "necessary",
    "cdn": "necessary",
    "hosting": "necessary",
    "utilities": "necessary",
}

_HOST = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+")
_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()+,;=:@%/-]*")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(slots=True)
class ImportedVendor:
    id: str
    name: str
    category: str
    hosts: list[str] = field(default_factory=list)
    privacy_url: str = ""
    description: str = ""


@dataclass(slots=True)
class ImportResult:
    """What an import produced, and what it could not use (with the reason)."""

    format: str
    vendors: list[ImportedVendor] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    @property
    def hosts(self) -> int:
        return sum(len(vendor.hosts) for vendor in self.vendors)


def detect_format(text: str) -> str:
    """The list's format from its content: JSON with "patterns" is Ghostery, other JSON Disconnect."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as error:
            raise CatalogueError(f"looks like JSON but does not parse: {error}") from None
        if isinstance(data, dict) and "patterns" in data:
            return "ghostery"
        if isinstance(data, dict) and "categories" in data:
            return "disconnect"
        raise CatalogueError('JSON without "categories" (Disconnect) or "patterns" (Ghostery TrackerDB)')
    return "abp"


def import_list(text: str, fmt: str | None = None, *, category: str = "marketing", source: str = "") -> ImportResult:
    """Parse `text` (format `fmt`, detected when None). `category` is for ABP lists, which have none."""
    fmt = fmt or detect_format(text)
    if category not in CATEGORIES:
        raise CatalogueError(f"--category {category!r} is not one of {', '.join(CATEGORIES)}")
    if fmt == "disconnect":
        result = _disconnect(_json(text), source)
    elif fmt == "ghostery":
        result = _ghostery(_json(text), source)
    elif fmt == "abp":
        result = _abp(text, category, source)
    else:
        raise CatalogueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    _dedupe(result)
    return result


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise CatalogueError(f"not valid JSON: {error}") from None


def _host(raw: Any, result: ImportResult) -> str | None:
    if not isinstance(raw, str):
        result.skip("not a host name")
        return None
    host = raw.strip().lower().rstrip(".").removeprefix("*.")
    if host.startswith(("http://", "https://")):
        host = host.split("//", 1)[1].split("/", 1)[0]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            result.skip("not a host name")
            return None
    if not _HOST.fullmatch(host):
        result.skip("not a host name")
        return None
    return host


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "vendor"


def _disconnect(data: Any, source: str) -> ImportResult:
    result = ImportResult("disconnect")
    categories = data.get("categories") if isinstance(data, Mapping) else None
    if not isinstance(categories, Mapping):
        raise CatalogueError('Disconnect services JSON needs a "categories" object')
    by_company: dict[str, ImportedVendor] = {}
    for disconnect_category, entries in categories.items():
        ours = DISCONNECT_CATEGORIES.get(str(disconnect_category).lower().replace(" ", ""))
        if ours is None:
            result.skip(f"category {disconnect_category!r} not mapped")
            continue
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping):
                result.skip("malformed entry")
                continue
            for company, sites in entry.items():
                if not isinstance(sites, Mapping):
                    result.skip("malformed entry")
                    continue
                for homepage, hosts in sites.items():
                    if not isinstance(hosts, list):
                        continue  # flags such as "dnt": "eff" or "session-replay": "true"
                    vendor = by_company.get(company)
                    if vendor is None:
                        vendor = ImportedVendor(
                            id=_slug(company), name=str(company), category=ours,
                            privacy_url=homepage if str(homepage).startswith(("http://", "https://")) else "",
                            description=f"Disconnect {disconnect_category} ({source or 'services.json'})",
                        )
                        by_company[company] = vendor
                    elif CATEGORIES.index(ours) > CATEGORIES.index(vendor.category):
                        vendor.category = ours  # listed in two categories: the stricter
                    for raw in hosts:
                        host = _host(raw, result)
                        if host:
                            vendor.hosts.append(host)
    result.vendors = list(by_company.values())
    return result


def _ghostery(data: Any, source: str) -> ImportResult:
    result = ImportResult("ghostery")
    patterns = data.get("patterns") if isinstance(data, Mapping) else None
    if isinstance(patterns, list):
        patterns = {str(item.get("key") or item.get("id") or n): item for n, item in enumerate(patterns) if isinstance(item, Mapping)}
    if not isinstance(patterns, Mapping):
        raise CatalogueError('Ghostery TrackerDB export needs a "patterns" object')
    organizations = data.get("organizations") or {}
    domain_map = data.get("domains") or {}
    hosts_of: dict[str, list[str]] = {}
    if isinstance(domain_map, Mapping):
        for domain, pattern_id in domain_map.items():
            hosts_of.setdefault(str(pattern_id), []).append(str(domain))
    for key, pattern in patterns.items():
        if not isinstance(pattern, Mapping):
            result.skip("malformed pattern")
            continue
        ghostery_category = str(pattern.get("category") or "")
        ours = GHOSTERY_CATEGORIES.get(ghostery_category, "marketing")
        org = organizations.get(pattern.get("organization")) if isinstance(organizations, Mapping) else None
        privacy = ""
        if isinstance(org, Mapping):
            privacy = str(org.get("privacy_policy_url") or org.get("website_url") or "")
        privacy = privacy or str(pattern.get("website_url") or "")
        vendor = ImportedVendor(
            id=_slug(str(key)), name=str(pattern.get("name") or key), category=ours,
            privacy_url=privacy if privacy.startswith(("http://", "https://")) else "",
            description=f"Ghostery {ghostery_category or 'uncategorised'} ({source or 'trackerdb'})",
        )
        raw_hosts = list(pattern.get("domains") or []) + hosts_of.get(str(key), [])
        for raw in raw_hosts:
            host = _host(raw, result)
            if host:
                vendor.hosts.append(host)
        if not vendor.hosts:
            result.skip("pattern without domains (filters only)")
            continue
        result.vendors.append(vendor)
    return result


def _abp(text: str, category: str, source: str) -> ImportResult:
    """Host-anchored blocking rules (``||host^``, ``||host/path``), one vendor per registrable domain."""
    result = ImportResult("abp")
    by_domain: dict[str, ImportedVendor] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("!", "[")):
            continue
        if "##" in line or "#@#" in line or "#?#" in line or "#$#" in line:
            result.skip("element hiding rule")
            continue
        if line.startswith("@@"):
            result.skip("exception rule")
            continue
        if not line.startswith("||"):
            result.skip("not anchored to a host")
            continue
        rule, _, options = line[2:].partition("$")
        if any(option.strip().startswith(("domain=", "~third-party", "first-party", "1p")) for option in options.split(",") if options):
            result.skip("applies to some sites only")
            continue
        rule = rule.rstrip("|")
        cut = len(rule)
        for char in "^*":
            index = rule.find(char)
            if index != -1:
                cut = min(cut, index)
        head = rule[:cut]
        host_part, slash, path_part = head.partition("/")
        if cut < len(rule) and rule[cut] == "*" and not slash:
            result.skip("wildcard in the host")
            continue
        host = _host(host_part, result)
        if host is None:
            continue
        entry = host
        path = ("/" + path_part).rstrip("/") if slash else ""
        if path and _PATH.fullmatch(path):
            # The catalogue matches whole path segments from the start, as narrow as the rule or narrower.
            entry = host + path
        domain = site_of(host)
        vendor = by_domain.get(domain)
        if vendor is None:
            vendor = ImportedVendor(
                id=_slug(domain), name=domain, category=category,
                privacy_url="", description=f"Adblock Plus list ({source or 'filter list'})",
            )
            by_domain[domain] = vendor
        vendor.hosts.append(entry)
    result.vendors = list(by_domain.values())
    return result


def _dedupe(result: ImportResult) -> None:
    """Each host entry once (the first vendor keeps it); unique vendor ids; no empty vendors."""
    seen: set[str] = set()
    ids: set[str] = set()
    kept = []
    for vendor in result.vendors:
        hosts = []
        for host in vendor.hosts:
            if host in seen:
                result.skip("host listed twice")
                continue
            seen.add(host)
            hosts.append(host)
        if not hosts:
            continue
        vendor.hosts = hosts
        base, n = vendor.id, 2
        while vendor.id in ids:
            vendor.id = f"{base}-{n}"
            n += 1
        ids.add(vendor.id)
        kept.append(vendor)
    result.vendors = kept


def to_toml(result: ImportResult, *, source: str, notes: Iterable[str] = ()) -> str:
    """The overlay file: a header saying where it came from, then one [[vendor]] table each."""
    lines = [
        f"# Consentry catalogue overlay imported from {source} ({result.format} format)",
        f"# by `consentry catalogue import`: {len(result.vendors)} vendors, {result.hosts} host entries.",
        "# The list is the operator's copy under its own licence; load it with",
        '# catalogues = ["<this file>"] in a site policy. It only adds hosts the shipped',
        "# catalogue does not know.",
        *(f"# {note}" for note in notes),
    ]
    for vendor in result.vendors:
        lines += [
            "",
            "[[vendor]]",
            f"id = {json.dumps(vendor.id)}",
            f"name = {json.dumps(vendor.name, ensure_ascii=False)}",
            f"category = {json.dumps(vendor.category)}",
            f"hosts = [{', '.join(json.dumps(host) for host in vendor.hosts)}]",
        ]
        if vendor.privacy_url:
            lines.append(f"privacy_url = {json.dumps(vendor.privacy_url, ensure_ascii=False)}")
        if vendor.description:
            lines.append(f"description = {json.dumps(vendor.description, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"
