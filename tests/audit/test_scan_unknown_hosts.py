"""`consentry scan` lists every third-party host the catalogue does not know, with counts
and the rule to add for each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PAGE = b"""<!doctype html><html><head>
<script src="https://cdn.unknown-lib.example/a.js"></script>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://www.googletagmanager.com/gtag/js?id=AW-1234567"></script>
</head><body>
<img src="https://img.hotlink.example/1.png"><img src="https://img.hotlink.example/2.png">
<img src="/own.png">
</body></html>"""


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "proxy", "scan", *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


def test_table_lists_unknown_hosts_with_counts_and_rules(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(PAGE)
    done = scan(str(page))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    section = out[out.index("Third-party hosts the catalogue does not know (2)"):]
    lines = [line.split() for line in section.splitlines()[3:5]]
    assert lines == [["img.hotlink.example", "2", "1"], ["cdn.unknown-lib.example", "1", "1"]]
    assert '{ host = "img.hotlink.example", category = "necessary" },' in section
    # Catalogued hosts (a necessary CDN, Google Ads by its tag id) are not "unknown".
    assert "code.jquery.com" not in section and "googletagmanager" not in section
    assert "google-ads" in out


def test_json_summary_counts_unknown_hosts(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(PAGE)
    done = scan(str(page), "--format", "json")
    summary = json.loads(done.stdout)["summary"]
    assert summary["unknown_third_party_hosts"] == {"img.hotlink.example": 2, "cdn.unknown-lib.example": 1}
