"""The server package's place in the layers: its public names, and what importing it loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_public_api():
    import proxy.server

    assert proxy.server.__all__ == ["make_app", "run", "start_servers"]
    assert callable(proxy.server.make_app) and callable(proxy.server.run)


def test_importing_the_server_loads_no_mitmproxy_or_test_tooling():
    code = "import sys, json, proxy.server; print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    loaded = set(json.loads(out.stdout))
    assert "aiohttp" in loaded
    assert not loaded & {"mitmproxy", "playwright", "pytest", "hypothesis"}
