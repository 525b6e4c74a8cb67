"""proxy.policy stays a leaf: importing it in a fresh interpreter loads no adapter, no JWT, no HTML scanner."""

from __future__ import annotations

import json
import subprocess
import sys

from pathlib import Path

import proxy.policy

ROOT = Path(__file__).resolve().parents[2]


def test_policy_imports_no_adapters() -> None:
    # Loading the example also runs the vendor-id check, which reads the catalogue.
    code = (
        "import json, sys, proxy.policy; proxy.policy.load_config('config/example.toml'); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, cwd=ROOT
    )
    loaded = set(json.loads(result.stdout))
    assert "pydantic" in loaded and "proxy.catalogue" in loaded  # the check sees real imports
    leaked = sorted(name for name in ("aiohttp", "mitmproxy", "jwt", "proxy.html", "asyncpg") if name in loaded)
    assert leaked == []


def test_public_api() -> None:
    for name in proxy.policy.__all__:
        assert hasattr(proxy.policy, name), name
    for name in ("load_config", "default_config", "check_config", "Config", "SitePolicy", "ConfigError", "ConfigHolder"):
        assert name in proxy.policy.__all__
