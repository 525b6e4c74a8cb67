"""`consentry catalogue import` on small sample lists written for these tests (in each
format's shape, none copied from the real lists), the overlay a site loads, and
`consentry catalogue lookup`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.catalogue import Catalogue, CatalogueError
from proxy.catalogue.importers import detect_format, import_list, to_toml

LISTS = Path(__file__).parent / "lists"
ROOT = Path(__file__).resolve().parents[2]


def consentry(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONSENTRY_SECRET": "s" * 40, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "proxy", *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def load(name: str, **options: str) -> Catalogue:
    text = (LISTS / name).read_text(encoding="utf-8")
    return Catalogue.from_bytes(to_toml(import_list(text, **options), source=name).encode(), source=name)


def test_formats_are_detected() -> None:
    assert detect_format((LISTS / "disconnect-sample.json").read_text()) == "disconnect"
    assert detect_format((LISTS / "ghostery-sample.json").read_text()) == "ghostery"
    assert detect_format((LISTS / "easyprivacy-sample.txt").read_text()) == "abp"
    with pytest.raises(CatalogueError, match="categories"):
        detect_format('{"something": []}')


def test_disconnect_companies_become_vendors_with_their_category() -> None:
    overlay = load("disconnect-sample.json")
    ads = overlay.vendors["example-ads-inc"]
    # Listed under Advertising and Analytics: the stricter category, all hosts.
    assert ads.category == "marketing"
    assert set(ads.hosts) == {"exampleads.test", "cdn.exampleads.test", "stats.exampleads-metrics.test"}
    assert ads.privacy_url == "https://ads.example/"
    assert overlay.vendors["counter-co"].category == "analytics"
    assert overlay.vendors["widget-maker"].category == "preferences"
    assert overlay.vendors["widget-maker"].hosts == ("widgets.test",)  # "not a host!" skipped
    assert "somebody" not in overlay.vendors  # an unmapped category is skipped, not guessed
    assert overlay.vendor_for_url("https://cdn.exampleads.test/a.js").id == "example-ads-inc"


def test_abp_list_keeps_host_anchored_rules_only() -> None:
    result = import_list((LISTS / "easyprivacy-sample.txt").read_text(), category="analytics")
    hosts = {host for vendor in result.vendors for host in vendor.hosts}
    assert hosts == {"pixel.trackco.test", "trackco.test/collect", "beacon.othertrack.test", "google-analytics.com", "stats.metrics-eu.test/v1/hit"}
    assert {vendor.category for vendor in result.vendors} == {"analytics"}
    assert result.skipped == {
        "applies to some sites only": 1,
        "element hiding rule": 1,
        "exception rule": 1,
        "not anchored to a host": 1,
        "wildcard in the host": 1,
    }
    overlay = load("easyprivacy-sample.txt", category="analytics")
    assert overlay.vendor_for_url("https://trackco.test/collect?x=1").id == "trackco-test"
    assert overlay.vendor_for_url("https://trackco.test/other") is None


def test_ghostery_patterns_with_domains() -> None:
    overlay = load("ghostery-sample.json")
    assert overlay.vendors["ad-org-ads"].category == "marketing"
    assert overlay.vendors["ad-org-ads"].privacy_url == "https://adorg.example/privacy"
    assert set(overlay.vendors["chat-widget"].hosts) == {"chat-widget.test", "chat-cdn.test"}
    assert overlay.vendors["chat-widget"].category == "preferences"
    assert overlay.vendors["strange"].category == "marketing"  # unknown category: fail closed
    assert "filters-only" not in overlay.vendors


def test_bad_input_is_named() -> None:
    with pytest.raises(CatalogueError, match="JSON"):
        import_list("{not json", "disconnect")
    with pytest.raises(CatalogueError, match="--category"):
        import_list("||a.test^", "abp", category="ads")


def test_overlay_adds_only_what_the_catalogue_does_not_know() -> None:
    shipped = Catalogue.default()
    merged = shipped.with_overlay(load("easyprivacy-sample.txt", category="marketing"))
    # google-analytics.com stays Google Analytics (analytics), not the list's marketing.
    assert merged.vendor_for_url("https://www.google-analytics.com/analytics.js").id == "google-analytics"
    assert merged.vendor_for_url("https://pixel.trackco.test/p.gif").id == "trackco-test"
    assert merged.digest != shipped.digest
    assert len(merged.vendors) == len(shipped.vendors) + 3


def test_cli_import_writes_an_overlay_a_policy_loads(tmp_path: Path) -> None:
    overlay = tmp_path / "easyprivacy.toml"
    done = consentry("catalogue", "import", str(LISTS / "easyprivacy-sample.txt"), "--category", "analytics", "-o", str(overlay))
    assert done.returncode == 0, done.stderr
    assert "4 vendors, 5 host entries" in done.stderr and "catalogues = [" in done.stderr
    assert consentry("catalogue", "import", str(LISTS / "easyprivacy-sample.txt"), "-o", str(overlay)).returncode == 73
    policy = tmp_path / "policy.toml"
    policy.write_text('[sites.default]\nupstream = "http://127.0.0.1:9"\ncatalogues = ["easyprivacy.toml"]\n')
    done = consentry("catalogue", "lookup", "https://pixel.trackco.test/p.gif", "--config", str(policy), "--page", "https://shop.example/")
    assert done.returncode == 0, done.stderr
    assert "vendor:     trackco-test" in done.stdout and "analytics" in done.stdout
    # The same lookup without the overlay: an unknown third party, with the rule to add.
    done = consentry("catalogue", "lookup", "https://pixel.trackco.test/p.gif", "--page", "https://shop.example/")
    assert "unknown third party" in done.stdout and 'rules = [{ host = "pixel.trackco.test"' in done.stdout


def test_policy_names_a_broken_overlay(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('[[vendor]]\nid = "Bad Id"\n')
    policy = tmp_path / "policy.toml"
    policy.write_text('[sites.default]\nupstream = "http://127.0.0.1:9"\ncatalogues = ["broken.toml", "missing.toml"]\n')
    done = consentry("check-config", str(policy))
    assert done.returncode == 2
    assert "sites.default.catalogues[0]" in done.stderr and "broken.toml" in done.stderr
    assert "sites.default.catalogues[1]" in done.stderr and "missing.toml" in done.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.googletagmanager.com/gtag/js?id=AW-123456", ["vendor:     google-ads", "tag id", "needs marketing consent"]),
        ("https://www.googletagmanager.com/gtag/js?id=G-ABCDEF1", ["vendor:     google-analytics", "needs analytics consent"]),
        ("https://shop.example/wp/fbevents.js.download", ["vendor:     meta-pixel", "file name"]),
        ("https://code.jquery.com/jquery-3.7.1.min.js", ["vendor:     jquery-cdn", "loads without consent"]),
        ("https://static.shop.example/app.js", ["not a tracker: first party"]),
    ],
)
def test_cli_lookup_explains(url: str, expected: list[str]) -> None:
    done = consentry("catalogue", "lookup", url, "--page", "https://www.shop.example/")
    assert done.returncode == 0, done.stderr
    for text in expected:
        assert text in done.stdout, done.stdout
