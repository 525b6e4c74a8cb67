"""A short soak (issue 15): mixed traffic with slow, idle and aborting clients leaves no
file descriptors behind and memory bounded. The long run is bench/soak.py (docs/security.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_keeps_fds_and_memory_flat():
    # Its own interpreter: hundreds of deliberately abandoned client sockets stay out of pytest.
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--seconds", "20", "--rate", "20"],
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    report = result.stdout
    samples = json.loads(report.rsplit("SAMPLES ", 1)[1])
    baseline_fds = samples[0][2]
    after_rss, after_fds = samples[-1][1], samples[-1][2]
    # Every client connection is gone once the traffic stops: no descriptor leaked.
    assert after_fds <= baseline_fds + 8, report
    # Memory: bounded (the page is held once per concurrent rewrite, not per request).
    assert after_rss < samples[0][1] + 80, report
    assert '"slowloris cut"' in report     # header_timeout did its work
