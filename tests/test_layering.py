"""Dependencies point inward: each layer is imported in a fresh interpreter and must not
pull in the heavy adapters (the trick of aiohttp's tests/test_circular_imports.py)."""

import json
import subprocess
import sys

import pytest

HEAVY = ("aiohttp", "mitmproxy", "jwt", "pydantic", "asyncpg", "playwright")

FORBIDDEN = {
    # proxy.html is standard library only: the WHATWG URL parser (ada_url) reaches it as a
    # callable from the engine (proxy.urls), never by import.
    "proxy.html": (*HEAVY, "ada_url"),
    "proxy.catalogue": HEAVY,
    "proxy.engine": ("aiohttp", "mitmproxy", "asyncpg", "playwright"),
    "proxy.consent": ("aiohttp", "mitmproxy", "pydantic", "asyncpg"),
    "proxy.policy": ("aiohttp", "mitmproxy", "jwt", "asyncpg"),
    "proxy.cli": ("aiohttp", "mitmproxy", "asyncpg", "playwright"),
    "proxy.audit": ("aiohttp", "mitmproxy", "asyncpg", "playwright"),
    "proxy.insights": HEAVY,
    # The shared facts and words, the banner and the CSP are standard library only; they
    # name the policy and consent types for mypy, never at run time.
    "proxy.defaults": HEAVY,
    "proxy.texts": HEAVY,
    "proxy.web": HEAVY,
    "proxy.csp": HEAVY,
}


def loaded_modules(module: str) -> set[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_layer_does_not_import_adapters(module: str) -> None:
    loaded = loaded_modules(module)
    leaked = sorted(name for name in FORBIDDEN[module] if name in loaded)
    assert leaked == [], f"importing {module} loaded {leaked}"


def test_only_the_adapters_import_aiohttp() -> None:
    """Read the import statements (not the docstrings that say what must not be imported)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "proxy"
    offenders = []
    for path in root.rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(("server/", "demo/", "audit/")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name.split(".")[0] in ("aiohttp", "mitmproxy") for name in names):
                offenders.append(relative)
    assert offenders == []
