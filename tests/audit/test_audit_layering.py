"""The audit is shared by the CLI and the addon: it must load without mitmproxy or aiohttp,
and no module under proxy/ may import mitmproxy (only addons/consentry.py does)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_audit_loads_no_adapter() -> None:
    code = "import json, sys; import proxy.audit; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, cwd=ROOT)
    loaded = set(json.loads(out.stdout))
    assert sorted(name for name in ("mitmproxy", "aiohttp", "asyncpg", "playwright") if name in loaded) == []


def imported_roots(path: Path) -> set[str]:
    """Top-level package names a module imports (parsed, so docstrings do not count)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_addon_imports_mitmproxy() -> None:
    offenders = [
        path.relative_to(ROOT).as_posix() for path in (ROOT / "proxy").rglob("*.py") if "mitmproxy" in imported_roots(path)
    ]
    assert offenders == []
    assert "mitmproxy" in imported_roots(ROOT / "addons" / "consentry.py")
