"""Host matching, Caddy's way: exact host, then the most specific wildcard, then the default site."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from proxy.policy import Config, load_config
from proxy.policy.hosts import HostTable, parse_host_header, parse_host_pattern

SITES = """
[defaults]
upstream = "http://127.0.0.1:8000"

[sites."shop.example"]
aliases = ["www.shop.example"]

[sites."shop.example:8443"]

[sites."*.news.example"]

[sites."*.eu.news.example"]

[sites."*.*.blog.example"]

[sites."*.*.example:9000"]

[sites."bücher.example"]

[sites."[::1]:8080"]

[sites.default]
"""


@pytest.fixture
def config(write_config: Callable[..., str]) -> Config:
    return load_config(write_config(SITES))


@pytest.mark.parametrize(
    ("host", "site"),
    [
        # exact, case-insensitive, trailing dot ignored, port ignored unless a site names one
        ("shop.example", "shop.example"),
        ("SHOP.Example", "shop.example"),
        ("shop.example.", "shop.example"),
        ("shop.example:8080", "shop.example"),
        ("www.shop.example", "shop.example"),
        # a site naming a port wins for that port only
        ("shop.example:8443", "shop.example:8443"),
        # a wildcard covers exactly one label
        ("a.news.example", "*.news.example"),
        ("news.example", "default"),
        ("a.b.news.example", "default"),
        # the most specific wildcard wins over a broader one that also matches
        ("x.eu.news.example", "*.eu.news.example"),
        ("x.y.blog.example", "*.*.blog.example"),
        ("x.blog.example", "default"),
        # a wildcard naming a port applies to that port only
        ("x.y.example:9000", "*.*.example:9000"),
        ("x.y.example", "default"),
        # IDNA: the Unicode and punycode spellings are one host
        ("bücher.example", "bücher.example"),
        ("xn--bcher-kva.example", "bücher.example"),
        ("BÜCHER.example:80", "bücher.example"),
        # IPv6 literals
        ("[::1]:8080", "[::1]:8080"),
        ("[0:0::1]:8080", "[::1]:8080"),
        # unknown or malformed hosts go to the default site
        ("other.example", "default"),
        ("", "default"),
        ("bad host", "default"),
        ("shop.example:notaport", "default"),
    ],
)
def test_site_for_host(config: Config, host: str, site: str) -> None:
    match = config.site_for_host(host)
    assert match is not None
    assert match.site_id == site


def test_exact_beats_wildcard(write_config: Callable[..., str]) -> None:
    config = load_config(
        write_config(
            """
            [defaults]
            upstream = "http://127.0.0.1:8000"
            [sites."*.example.com"]
            [sites."api.example.com"]
            """
        )
    )
    assert config.site_for_host("api.example.com").site_id == "api.example.com"  # type: ignore[union-attr]
    assert config.site_for_host("www.example.com").site_id == "*.example.com"  # type: ignore[union-attr]


def test_no_default_site_means_none(write_config: Callable[..., str]) -> None:
    """Without [sites.default] an unknown host has no site: the server answers 421."""
    config = load_config(write_config('[sites."shop.example"]\nupstream = "http://127.0.0.1:8000"\n'))
    assert config.site_for_host("shop.example") is not None
    assert config.site_for_host("other.example") is None
    assert config.site_for_host("") is None


def test_site_hosts_are_normalised(config: Config) -> None:
    assert config.sites["shop.example"].hosts == ("shop.example", "www.shop.example")
    assert config.sites["bücher.example"].hosts == ("xn--bcher-kva.example",)
    assert config.sites["default"].hosts == ()


@pytest.mark.parametrize(
    ("text", "labels", "port"),
    [
        ("Example.COM.", ("example", "com"), None),
        ("*.example.com:443", ("*", "example", "com"), 443),
        ("münchen.de", ("xn--mnchen-3ya", "de"), None),
        ("127.0.0.1:8080", ("127", "0", "0", "1"), 8080),
        ("[2001:DB8::1]", ("[2001:db8::1]",), None),
    ],
)
def test_parse_host_pattern(text: str, labels: tuple[str, ...], port: int | None) -> None:
    pattern = parse_host_pattern(text)
    assert (pattern.labels, pattern.port) == (labels, port)


@pytest.mark.parametrize(
    "text", ["", ".", "a..b", "-a.example", "a" * 64 + ".example", "x.example:0", "x.example:70000", "::1", "*.example"]
)
def test_malformed_request_hosts_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_host_header(text)


def test_table_without_entries() -> None:
    assert HostTable([], "default").lookup("anything.example") == "default"
    assert HostTable([], None).lookup("anything.example") is None
