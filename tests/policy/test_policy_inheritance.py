"""How a site is resolved: built-ins, then [consent]/[proxy], then [defaults], then the site's own table."""

from __future__ import annotations

from collections.abc import Callable

import pydantic
import pytest

from proxy.policy import Config, ConfigError, load_config
from proxy.policy.builtin import BANNER_TEXTS, BUILTIN_LANGUAGES

FILE = """
[proxy]
trusted_proxies = ["10.0.0.0/8"]
timeouts = { connect = 2, read = 20 }

[consent]
cookie_name = "consent"
lifetime_days = 90
honor_gpc = false

[defaults]
upstream = "http://127.0.0.1:8000"
mode = "strip"
policy_version = 7
banner = { enabled = false, privacy_policy_url = "/privacy", theme = { accent = "#0b57d0" } }
categories.analytics.label.en = "Statistics"
rules = [{ category = "analytics", host = "stats.example" }]
vendors.hotjar = { allow = "never" }

[sites."shop.example"]
upstream = "https://shop-backend.internal:8443"
mode = "defer"
cookie_name = "shop_consent"
timeouts.total = 30
banner.languages = ["nl", "en"]
banner.default_language = "nl"
banner.texts.nl.title = "Uw keuze"
banner.theme = { radius = "4px" }
categories.social = { label = { nl = "Sociaal", en = "Social" }, description = { en = "Share buttons" } }
rules = [
  { category = "social", host = "share.example", path_prefix = "/button" },
  { category = "marketing", vendor = "acme-ads", url_glob = "https://*.acme.example/*" },
]
vendors."google-tag-manager" = { category = "marketing" }

[sites."news.example"]
"""


def _load(write_config: Callable[..., str]) -> Config:
    return load_config(write_config(FILE))


def test_site_inherits_defaults_and_globals(write_config: Callable[..., str]) -> None:
    news = _load(write_config).sites["news.example"]
    assert news.upstream == "http://127.0.0.1:8000"
    assert news.mode == "strip"
    assert news.policy_version == "7"  # an integer version is read as text
    assert (news.cookie_name, news.lifetime_days, news.honor_gpc) == ("consent", 90, False)
    assert news.trusted_proxies == ["10.0.0.0/8"]
    assert (news.timeouts.connect, news.timeouts.read, news.timeouts.total) == (2.0, 20.0, None)
    assert [(r.category, r.host) for r in news.rules] == [("analytics", "stats.example")]
    assert news.vendors["hotjar"].allow == "never"
    assert news.banner.enabled is False
    assert news.banner.privacy_policy_url == "/privacy"


def test_site_overrides_values_and_replaces_lists(write_config: Callable[..., str]) -> None:
    shop = _load(write_config).sites["shop.example"]
    assert shop.upstream == "https://shop-backend.internal:8443"
    assert shop.mode == "defer"
    assert shop.cookie_name == "shop_consent"
    assert shop.lifetime_days == 90
    # lists replace: the site's rules, not the defaults' plus the site's
    assert [(r.category, r.host, r.path_prefix, r.url_glob, r.vendor) for r in shop.rules] == [
        ("social", "share.example", "/button", None, None),
        ("marketing", None, None, "https://*.acme.example/*", "acme-ads"),
    ]
    assert shop.banner.languages == ["nl", "en"]


def test_nested_tables_merge_key_by_key(write_config: Callable[..., str]) -> None:
    shop = _load(write_config).sites["shop.example"]
    assert (shop.timeouts.connect, shop.timeouts.read, shop.timeouts.total) == (2.0, 20.0, 30.0)
    # banner: enabled and privacy link from [defaults], languages from the site; theme tables merge too
    assert shop.banner.enabled is False
    assert shop.banner.privacy_policy_url == "/privacy"
    assert shop.banner.theme == {"accent": "#0b57d0", "radius": "4px"}
    assert shop.banner.css_variables() == {"--consentry-accent": "#0b57d0", "--consentry-radius": "4px"}
    # vendors merge by vendor id
    assert set(shop.vendors) == {"hotjar", "google-tag-manager"}
    assert shop.vendors["google-tag-manager"].category == "marketing"


def test_categories_built_in_overridden_and_added(write_config: Callable[..., str]) -> None:
    config = _load(write_config)
    shop, news = config.sites["shop.example"], config.sites["news.example"]
    assert list(news.categories) == ["necessary", "preferences", "analytics", "marketing"]
    assert list(shop.categories) == ["necessary", "preferences", "analytics", "marketing", "social"]
    # one label changed in [defaults]; the other languages keep the built-in texts
    assert shop.categories["analytics"].label["en"] == "Statistics"
    assert shop.categories["analytics"].label["de"] == "Statistik"
    assert shop.categories["social"].label == {"nl": "Sociaal", "en": "Social"}
    for site in (shop, news):
        for category in ("necessary", "preferences", "analytics", "marketing"):
            assert set(site.categories[category].label) >= set(BUILTIN_LANGUAGES)
            assert set(site.categories[category].description) >= set(BUILTIN_LANGUAGES)


def test_banner_texts_are_resolved_per_language(write_config: Callable[..., str]) -> None:
    config = _load(write_config)
    shop, news = config.sites["shop.example"], config.sites["news.example"]
    assert set(shop.banner.texts) == {"nl", "en"}
    assert shop.banner.texts["nl"]["title"] == "Uw keuze"
    assert shop.banner.texts["nl"]["accept_all"] == BANNER_TEXTS["nl"]["accept_all"]
    assert shop.banner.texts["en"] == BANNER_TEXTS["en"]
    assert set(news.banner.texts) == set(BUILTIN_LANGUAGES)


def test_built_in_texts_cover_every_key_in_every_language() -> None:
    keys = set(BANNER_TEXTS["en"])
    assert set(BANNER_TEXTS) == set(BUILTIN_LANGUAGES)
    for language, texts in BANNER_TEXTS.items():
        assert set(texts) == keys, language
        assert all(text.strip() for text in texts.values()), language


def test_a_language_without_built_in_texts_works_when_given_all_texts(write_config: Callable[..., str]) -> None:
    texts = ", ".join(f'{key} = "pl {key}"' for key in BANNER_TEXTS["en"])
    path = write_config(
        f"""
        [sites.default]
        upstream = "http://127.0.0.1:8000"
        banner = {{ languages = ["pl"], default_language = "pl", texts = {{ pl = {{ {texts} }} }} }}
        categories.necessary.label.pl = "Niezbędne"
        categories.preferences.label.pl = "Preferencje"
        categories.analytics.label.pl = "Analityka"
        categories.marketing.label.pl = "Marketing"
        """
    )
    site = load_config(path).sites["default"]
    assert site.banner.texts["pl"]["save"] == "pl save"
    assert site.categories["necessary"].label["pl"] == "Niezbędne"


def test_defaults_of_a_bare_site(write_config: Callable[..., str]) -> None:
    config = load_config(write_config('[sites."a.example"]\nupstream = "http://127.0.0.1:8000/"\n'))
    site = config.sites["a.example"]
    assert (site.timeouts.connect, site.timeouts.read, site.timeouts.total) == (5.0, 30.0, None)
    assert config.proxy.limits.max_connections == 1000
    assert config.proxy.drain_timeout == 30.0
    assert site.site_id == "a.example"
    assert site.upstream == "http://127.0.0.1:8000"  # the trailing slash is dropped
    assert site.preserve_host is True
    assert site.policy_version == "1"
    assert site.mode == "defer"
    assert site.unknown_third_party == "allow"
    assert site.strip_cookies is True
    assert site.cookie_name == "consentry"
    assert site.lifetime_days == 182
    assert site.honor_gpc is True
    assert site.csp == "report"
    assert site.google_consent_mode == "off"
    assert site.consent_path == "/_consent"
    assert site.banner.enabled is True
    assert site.banner.default_language == "en"
    assert config.proxy.listen == "0.0.0.0:8080"
    assert config.proxy.admin_address == ("127.0.0.1", 9090)
    assert config.receipts.url.startswith("sqlite:///")
    assert config.receipts.ip_salt is None


def test_upstream_may_carry_a_path_prefix(write_config: Callable[..., str]) -> None:
    path = write_config('[sites.default]\nupstream = "HTTP://Backend.internal:8080/legacy/"\n')
    assert load_config(path).sites["default"].upstream == "http://Backend.internal:8080/legacy"


def test_consent_path_trailing_slash_is_dropped(write_config: Callable[..., str]) -> None:
    path = write_config('[sites.default]\nupstream = "http://127.0.0.1:8000"\nconsent_path = "/privacy/consent/"\n')
    assert load_config(path).sites["default"].consent_path == "/privacy/consent"


def test_config_is_immutable(write_config: Callable[..., str]) -> None:
    site = _load(write_config).sites["news.example"]
    with pytest.raises(pydantic.ValidationError):
        site.mode = "defer"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("sqlite:///var/lib/consentry/receipts.db", True),
        ("sqlite:receipts.db", True),
        ("sqlite:///:memory:", True),
        ("postgresql://consentry@db.internal/consentry", True),
        ("postgres://db.internal/consentry", True),
        ("sqlite://host/receipts.db", False),
        ("sqlite:///", False),
        ("mysql://db/consent", False),
    ],
)
def test_receipts_urls_follow_what_the_store_opens(
    write_config: Callable[..., str], url: str, ok: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A PostgreSQL store is shared by replicas, which must then share a salt.
    monkeypatch.setenv("POLICY_TEST_SALT", "shared-salt")
    salt = 'ip_salt_env = "POLICY_TEST_SALT"\n'
    path = write_config(f'[receipts]\nurl = "{url}"\n{salt}[sites.default]\nupstream = "http://127.0.0.1:8000"\n')
    if ok:
        assert load_config(path).receipts.url == url
    else:
        with pytest.raises(ConfigError) as raised:
            load_config(path)
        assert [p.key_path for p in raised.value.problems] == ["receipts.url"]
