"""The shipped catalogue's validated vendors cached between processes (proxy/catalogue/data_cache.py).

A process that finds the cache file for the same data files and code builds the same
catalogue as one that parses the TOML; anything doubtful (another digest, a file others
can write, broken JSON, caching turned off) means parsing, never a different catalogue.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.catalogue import Catalogue, data_cache
from proxy.catalogue import catalogue as catalogue_module
from proxy.catalogue.catalogue import default_data_files, parts_digest

ROOT = Path(__file__).resolve().parents[2]


def fresh_default() -> Catalogue:
    return catalogue_module._default_catalogue.__wrapped__()  # type: ignore[attr-defined]


def test_a_cached_catalogue_is_the_parsed_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTRY_CACHE_DIR", str(tmp_path))
    parsed = Catalogue.from_parts(default_data_files())
    first = fresh_default()               # parses and writes the file
    files = list(tmp_path.glob("catalogue-*.json"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0
    digest, _ = parts_digest(default_data_files())
    assert data_cache.load(digest) is not None
    second = fresh_default()              # reads it back
    for catalogue in (first, second):
        assert catalogue.digest == parsed.digest and catalogue.source == parsed.source
        assert list(catalogue.vendors) == list(parsed.vendors)
        assert all(catalogue.vendors[k] == v for k, v in parsed.vendors.items())
    for url in ("https://www.googletagmanager.com/gtag/js?id=AW-1", "https://js.stripe.com/v3/", "/x/gtm.js.Download"):
        assert getattr(second.vendor_for_url(url), "id", None) == getattr(parsed.vendor_for_url(url), "id", None)
    script = "!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){}}(window,document,'script');fbq('init','1')"
    assert [v.id for v in second.vendors_for_script(script)] == [v.id for v in parsed.vendors_for_script(script)] != []


def test_a_doubtful_cache_file_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTRY_CACHE_DIR", str(tmp_path))
    fresh_default()
    path = next(tmp_path.glob("catalogue-*.json"))
    digest, _ = parts_digest(default_data_files())
    assert data_cache.load("0" * 64) is None          # other data files
    path.chmod(0o666)
    assert data_cache.load(digest) is None            # others could have written it
    path.chmod(0o600)
    data = json.loads(path.read_bytes())
    data["vendors"][0]["category"] = 7
    data["vendors"][1]["no_such_field"] = 1
    path.write_text(json.dumps(data))
    assert data_cache.load(digest) is None            # not a Vendor any more
    path.write_text("{not json")
    assert data_cache.load(digest) is None
    assert fresh_default().digest == Catalogue.from_parts(default_data_files()).digest   # parsed again


def test_a_file_written_by_other_code_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The file is keyed by the code that validates vendors too: after an upgrade that changes
    # it, the old file is neither read nor trusted.
    monkeypatch.setenv("CONSENTRY_CACHE_DIR", str(tmp_path))
    fresh_default()
    path = next(tmp_path.glob("catalogue-*.json"))
    data = json.loads(path.read_bytes())
    data["code"] = "another version of the code"
    path.write_text(json.dumps(data))
    digest, _ = parts_digest(default_data_files())
    assert data_cache.load(digest) is None            # written by other code: not used


@pytest.mark.parametrize("setting", ["off", ""])
def test_caching_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv("CONSENTRY_CACHE_DIR", setting)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fresh_default()
    assert list(tmp_path.rglob("*.json")) == []


def test_an_unwritable_cache_directory_costs_nothing_but_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CONSENTRY_CACHE_DIR", str(blocker / "consentry"))   # a file where a directory should be
    assert fresh_default().digest == Catalogue.from_parts(default_data_files()).digest


def test_the_default_location_is_the_user_cache_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CONSENTRY_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", "from proxy.catalogue import Catalogue; Catalogue.default()"],
                   env=env, cwd=ROOT, check=True, timeout=120)
    assert len(list((tmp_path / "consentry").glob("catalogue-*.json"))) == 1
