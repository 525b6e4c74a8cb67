"""Loads ``addons/consentry.py`` (a script, not a package) the way mitmproxy does: by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ADDON_PATH = Path(__file__).resolve().parents[2] / "addons" / "consentry.py"


@pytest.fixture(scope="session")
def addon_module() -> ModuleType:
    name = "consentry_mitmproxy_addon"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ADDON_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
