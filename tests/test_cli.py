"""The command line as a user runs it: a real interpreter, real files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "proxy" / "samples" / "tracker-page.html"


def consentry(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    import os

    environment = dict(os.environ, CONSENTRY_SECRET="test-secret-" + "x" * 32)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "proxy", *args], input=stdin, capture_output=True, timeout=120, cwd=ROOT, env=environment)


def test_rewrite_sample_page_defers_every_tracker(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    result = consentry("rewrite", str(SAMPLE), "--base-url", "https://acme.example/", "--report", str(report))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert b'data-consent-src="https://www.googletagmanager.com/gtag/js?id=G-ACME12345"' in out
    assert b'data-consent-src="https://www.youtube.com/embed/dQw4w9WgXcQ"' in out
    assert b'data-consent-src="https://www.facebook.com/tr?id=123456789012345&ev=PageView&noscript=1"' in out
    assert b'<script src="/static/site.js" defer></script>' in out
    assert b'<script src="https://js.stripe.com/v3/"></script>' in out
    entries = [json.loads(line) for line in report.read_text().splitlines()]
    vendors = {entry["vendor"] for entry in entries if entry["action"] == "defer"}
    assert {"google-analytics", "meta-pixel", "youtube-embed", "linkedin-insight", "hotjar"} <= vendors
    assert b"defer" in result.stderr and b"google-analytics" in result.stderr


def test_rewrite_with_full_consent_is_identity() -> None:
    result = consentry("rewrite", "-", "--consent", "all", "-q", stdin=SAMPLE.read_bytes())
    assert result.returncode == 0
    assert result.stdout == SAMPLE.read_bytes()
    assert result.stderr == b""


def test_rewrite_strip_mode_removes_trackers() -> None:
    result = consentry("rewrite", str(SAMPLE), "--mode", "strip", "-q")
    assert result.returncode == 0
    assert b"googletagmanager" not in result.stdout and b"fbq(" not in result.stdout
    assert b"<h1>Spring collection</h1>" in result.stdout


def test_rewrite_partial_consent() -> None:
    result = consentry("rewrite", str(SAMPLE), "--consent", "analytics", "-q")
    assert b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-ACME12345"></script>' in result.stdout
    assert b'data-consent="marketing"' in result.stdout


def test_unknown_consent_category_is_a_usage_error() -> None:
    result = consentry("rewrite", str(SAMPLE), "--consent", "analytcs")
    assert result.returncode == 2
    assert b"unknown category analytcs" in result.stderr


def test_missing_file_is_a_clear_error() -> None:
    result = consentry("rewrite", "/nonexistent/page.html")
    assert result.returncode == 66   # EX_NOINPUT
    assert b"/nonexistent/page.html" in result.stderr and b"Traceback" not in result.stderr


def test_help_lists_every_subcommand() -> None:
    result = consentry("--help")
    text = result.stdout.decode()
    for name in ("demo", "run", "rewrite", "scan", "check-config", "keys", "token", "receipts"):
        assert name in text


def test_receipts_export_and_show_on_an_empty_store(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/receipts.db"
    exported = consentry("receipts", "--database", database, "export")
    assert exported.returncode == 0 and exported.stdout == b""
    shown = consentry("receipts", "--database", database, "show", "no-such-id")
    assert shown.returncode == 1 and b"no receipts for consent id no-such-id" in shown.stderr
    pruned = consentry("receipts", "--database", database, "prune", "--days", "30")
    assert pruned.returncode == 0 and b"pruned 0 receipts" in pruned.stdout


def test_token_issue_then_verify_round_trip() -> None:
    issued = consentry("token", "issue", "--consent", "analytics")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.decode().strip()
    verified = consentry("token", "verify", token)
    assert verified.returncode == 0, verified.stdout
    assert json.loads(verified.stdout)["cats"] == ["analytics"]
    forged = consentry("token", "verify", token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    assert forged.returncode == 1 and forged.stdout.startswith(b"invalid:")


def test_keys_generate_prints_a_config_snippet() -> None:
    result = consentry("keys", "generate", "--alg", "HS256", "--kid", "k2026")
    assert result.returncode == 0
    assert b'kid = "k2026"' in result.stdout


def test_check_config_on_the_shipped_example() -> None:
    result = consentry("check-config", "config/example.toml", env={"CONSENTRY_SECRET": "s" * 40})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == b"ok"


def test_scan_sample_page_as_json() -> None:
    result = consentry("scan", str(SAMPLE), "--format", "json")
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert "google-analytics" in text and "meta-pixel" in text


def test_scan_with_a_bad_consent_is_a_usage_error() -> None:
    result = consentry("scan", str(SAMPLE), "--consent", "analytic")
    assert result.returncode == 2
    assert result.stderr.startswith(b"consentry scan: --consent:") and b"Traceback" not in result.stderr
