"""The seam with proxy.engine: the example file's rules, overrides and unknown_third_party as the engine reads them."""

from __future__ import annotations

from pathlib import Path

from proxy.engine import Engine
from proxy.policy import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"


def test_example_shop_rules_classify_as_documented() -> None:
    shop = load_config(EXAMPLE).sites["shop.example"]
    engine = Engine(shop)

    def category(url: str) -> str | None:
        found = engine.classify_url(url, "shop.example")
        return None if found is None else found.category

    assert category("https://stats.shop.example/collect.js") == "analytics"  # host rule
    assert category("https://a.stats.shop.example/x.js") == "analytics"  # ... covers subdomains
    assert category("https://cdn.acme.example/retarget/pixel.gif") == "marketing"  # host + path_prefix
    found = engine.classify_url("https://cdn.acme.example/retarget/pixel.gif", "shop.example")
    assert found is not None and found.vendor == "acme-ads"
    assert category("https://x.affiliate.example/track?id=1") == "marketing"  # url_glob
    assert category("https://never-seen-before.example/lib.js") == "marketing"  # unknown_third_party
    assert category("https://www.googletagmanager.com/gtm.js?id=GTM-X") == "marketing"  # vendor override

    script = engine.classify_script("window.shareWidget.init({id: 1});")  # script_signature (a regex)
    assert script is not None and script.category == "social"
    assert engine.classify_script("console.log('hello')") is None
