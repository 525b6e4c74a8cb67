"""proxy.html is standard library only: importing it loads no third-party package."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("aiohttp", "mitmproxy", "jwt", "pydantic", "html5lib", "bs4", "lolhtml", "multidict", "yarl")


def test_import_loads_only_the_standard_library() -> None:
    program = (
        "import sys, proxy.html\n"
        "from proxy.html import Rewriter, KEEP\n"
        "Rewriter(lambda e: KEEP).feed(b'<script src=//a.test/x.js></script>')\n"
        f"print(','.join(name for name in {FORBIDDEN!r} if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""


def test_public_names() -> None:
    import proxy.html

    assert sorted(proxy.html.__all__) == ["Action", "Decision", "Element", "FetchURL", "KEEP", "Rewriter"]
