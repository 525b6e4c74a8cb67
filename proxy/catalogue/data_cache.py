"""The shipped catalogue's validated vendors, kept in the user's cache directory between processes.

Parsing ~900 vendors from TOML and checking every signature costs ~200 ms, paid by every
process (each worker, each reload, each CLI command). The result depends only on the
data files and on the code that validates them, so it is written once as JSON to
``$XDG_CACHE_HOME/consentry`` (``~/.cache/consentry``) under a name keyed by both
digests, and read back by the next process in a few milliseconds. Nothing generated is
shipped in the repository, and nothing in the file can run: it is plain JSON, read only
when it is ours (owned by this user, not writable by others) and names the same digest.

Any problem (no home directory, a read-only file system, a corrupt or foreign file)
means the catalogue is built from the TOML files as before; the cache never decides
anything. ``CONSENTRY_CACHE_DIR`` moves the directory; ``CONSENTRY_CACHE_DIR=off`` turns
it off. Standard library only.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from proxy.catalogue.vendor import CATEGORIES, Vendor

log = logging.getLogger(__name__)

FORMAT = 1
"""Bumped when the file's shape changes (the code digest also changes with vendor.py)."""

_PREFIX = "catalogue-"


def cache_dir() -> Path | None:
    """Where the file lives, or None when caching is off or there is no home to put it in."""
    configured = os.environ.get("CONSENTRY_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "false", "no") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME")
    if base and os.path.isabs(base):
        return Path(base) / "consentry"
    try:
        home = Path.home()
    except (RuntimeError, KeyError):
        return None
    return home / ".cache" / "consentry"


@functools.cache
def _code_digest() -> str:
    """What the cached vendors also depend on: the code that validates and shapes them."""
    digest = hashlib.sha256(str(FORMAT).encode())
    for name in ("vendor.py", "literals.py"):
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()


def _file_for(data_digest: str, directory: Path) -> Path:
    key = hashlib.sha256(f"{data_digest}:{_code_digest()}".encode()).hexdigest()[:32]
    return directory / f"{_PREFIX}{key}.json"


def load(data_digest: str) -> list[Vendor] | None:
    """The vendors cached for data files with this digest, or None."""
    directory = cache_dir()
    if directory is None:
        return None
    path = _file_for(data_digest, directory)
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                log.warning("ignoring %s: not owned by this user or writable by others", path)
                return None
            data = json.loads(handle.read())
        if data.get("digest") != data_digest or data.get("code") != _code_digest():
            return None
        return [_vendor(raw) for raw in data["vendors"]]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        log.debug("catalogue cache %s unreadable (%s); building from the data files", path, error)
        return None


def store(data_digest: str, vendors: Iterable[Vendor]) -> None:
    """Write the validated vendors for the next process; silently skipped when it cannot be."""
    directory = cache_dir()
    if directory is None:
        return
    path = _file_for(data_digest, directory)
    payload = json.dumps(
        {"digest": data_digest, "code": _code_digest(), "vendors": [_plain(vendor) for vendor in vendors]},
        ensure_ascii=False, separators=(",", ":"),
    ).encode("utf-8")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".tmp-", delete=False) as handle:
            handle.write(payload)
        os.replace(handle.name, path)   # atomic: a concurrent reader sees the old file or the new
        for stale in directory.glob(f"{_PREFIX}*.json"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as error:
        log.debug("catalogue cache not written to %s: %s", directory, error)


def _plain(vendor: Vendor) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(vendor):
        value = getattr(vendor, field.name)
        if isinstance(value, Mapping):
            value = {key: list(item) if isinstance(item, tuple) else item for key, item in value.items()}
        elif isinstance(value, tuple):
            value = list(value)
        out[field.name] = value
    return out


_TUPLES = frozenset(field.name for field in dataclasses.fields(Vendor) if str(field.type).startswith("tuple"))


_KINDS = {field.name: str(field.type) for field in dataclasses.fields(Vendor)}


def _vendor(raw: Mapping[str, Any]) -> Vendor:
    """A Vendor from its cached form; ValueError when any value is not of its field's kind."""
    values: dict[str, Any] = {}
    for name, value in raw.items():
        kind = _KINDS.get(name)
        if kind is None:
            raise ValueError(f"unknown vendor field {name!r}")
        if name in _TUPLES:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ValueError(f"{name}: not a list of strings")
            value = tuple(value)
        elif kind.startswith(("Mapping", "collections.abc.Mapping")):
            if not isinstance(value, dict) or not all(
                isinstance(item, str) or (isinstance(item, list) and all(isinstance(x, str) for x in item))
                for item in value.values()
            ):
                raise ValueError(f"{name}: not a table of strings")
            value = MappingProxyType({key: tuple(item) if isinstance(item, list) else item for key, item in value.items()})
        elif not isinstance(value, bool if kind in ("bool", "<class 'bool'>") else str):
            raise ValueError(f"{name}: not a {kind}")
        values[name] = value
    vendor = Vendor(**values)
    if vendor.category not in CATEGORIES:
        raise ValueError(f"category {vendor.category!r}")
    return vendor
