"""vendor_for_url: hosts and subdomains, path prefixes, longest match, normalisation, look-alikes, self-hosted copies."""

import pytest

from proxy.catalogue import Catalogue


def vendor_id(catalogue: Catalogue, url: str) -> str | None:
    vendor = catalogue.vendor_for_url(url)
    return vendor.id if vendor else None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.google-analytics.com/analytics.js", "google-analytics"),
        ("http://www.google-analytics.com/urchin.js", "google-analytics"),
        ("https://ssl.google-analytics.com/ga.js", "google-analytics"),
        ("https://region1.google-analytics.com/g/collect?v=2", "google-analytics"),
        ("https://connect.facebook.net/en_US/fbevents.js", "meta-pixel"),
        ("https://connect.facebook.net/de_DE/fbevents.js", "meta-pixel"),
        ("https://connect.facebook.net/en_US/sdk.js#xfbml=1", "facebook-sdk"),
        ("https://www.facebook.com/tr?id=123&ev=PageView&noscript=1", "meta-pixel"),
        ("https://www.facebook.com/tr/?id=1", "meta-pixel"),
        ("https://www.facebook.com/plugins/like.php?href=x", "facebook-embed"),
        ("https://www.facebook.com/v2.5/plugins/page.php?href=x", "facebook-embed"),
        ("https://www.facebook.com/tracking-is-not-tr", "facebook-sdk"),
        ("https://static.xx.fbcdn.net/rsrc.php/v3/y1/r/x.js", "facebook-sdk"),
        ("https://www.googletagmanager.com/gtag/js?id=G-ABC", "google-analytics"),
        ("https://www.googletagmanager.com/gtm.js?id=GTM-ABC", "google-tag-manager"),
        ("https://www.googletagmanager.com/ns.html?id=GTM-ABC", "google-tag-manager"),
        ("https://www.google.com/recaptcha/api.js", "google-recaptcha"),
        ("https://www.gstatic.com/recaptcha/releases/x/recaptcha__en.js", "google-recaptcha"),
        ("https://www.google.com/maps/embed?pb=!1m18", "google-maps"),
        ("https://maps.google.de/maps?q=Essen&output=embed", "google-maps"),
        ("https://www.google.com/pagead/1p-conversion/123/", "google-ads"),
        ("https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1/", "google-ads"),
        ("https://securepubads.g.doubleclick.net/tag/js/gpt.js", "google-publisher-tag"),
        ("https://stats.g.doubleclick.net/r/collect", "doubleclick"),
        ("https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js", "google-adsense"),
        ("https://fonts.googleapis.com/css?family=Lato", "google-fonts"),
        ("https://ajax.googleapis.com/ajax/libs/jquery/3.4.1/jquery.min.js", "google-hosted-libraries"),
        ("https://px.ads.linkedin.com/collect/?pid=1&fmt=gif", "linkedin-insight"),
        ("https://snap.licdn.com/li.lms-analytics/insight.min.js", "linkedin-insight"),
        ("https://static.licdn.com/sc/h/x.js", "linkedin-widgets"),
        ("https://ct.pinterest.com/v3/?tid=1&noscript=1", "pinterest-tag"),
        ("https://s.pinimg.com/ct/core.js", "pinterest-tag"),
        ("https://s.pinimg.com/images/x.png", "pinterest-widgets"),
        ("https://static.hotjar.com/c/hotjar-1234.js?sv=6", "hotjar"),
        ("https://www.clarity.ms/tag/abc", "microsoft-clarity"),
        ("https://bat.bing.com/bat.js", "microsoft-uet"),
        ("https://mc.yandex.ru/watch/24317818", "yandex-metrica"),
        ("https://www.youtube.com/embed/s_rw5fPHz2g", "youtube-embed"),
        ("https://www.youtube-nocookie.com/embed/s_rw5fPHz2g", "youtube-embed"),
        ("https://i.ytimg.com/vi/ID/hqdefault.jpg", "youtube-embed"),
        ("https://player.vimeo.com/video/1", "vimeo-embed"),
        ("https://www.dailymotion.com/embed/video/x67iqc9", "dailymotion-embed"),
        ("https://w.soundcloud.com/player/?url=x", "soundcloud-embed"),
        ("https://scontent-frx5-1.cdninstagram.com/v/t51.jpg", "instagram-embed"),
        ("https://platform.twitter.com/widgets.js", "x-widgets"),
        ("https://static.ads-twitter.com/uwt.js", "x-pixel"),
        ("https://t.co/i/adsct?txn_id=1", "x-pixel"),
        ("https://js.hs-scripts.com/4472479.js", "hubspot"),
        ("https://s7.addthis.com/js/300/addthis_widget.js#pubid=ra-1", "addthis"),
        ("https://ws.sharethis.com/button/buttons.js", "sharethis"),
        ("https://breitbartproduction.disqus.com/embed.js", "disqus"),
        ("https://edge.quantserve.com/quant.js", "quantcast"),
        ("https://b.scorecardresearch.com/beacon.js", "comscore"),
        ("https://ib.adnxs.com/ut/v3", "appnexus"),
        ("https://ws-eu.amazon-adsystem.com/widgets/q?x=1", "amazon-ads"),
        ("https://js.stripe.com/v3/", "stripe"),
        ("https://cdnjs.cloudflare.com/ajax/libs/x.js", "cdnjs"),
        ("https://ssl-vg03.met.vgwort.de/na/abc", "vg-wort"),
    ],
)
def test_catalogued_urls(catalogue: Catalogue, url: str, expected: str) -> None:
    assert vendor_id(catalogue, url) == expected


def test_recaptcha_is_necessary_while_maps_on_the_same_host_are_marketing(catalogue: Catalogue) -> None:
    recaptcha = catalogue.vendor_for_url("https://www.google.com/recaptcha/api.js?render=x")
    maps = catalogue.vendor_for_url("https://www.google.com/maps/embed/v1/place?q=x")
    assert recaptcha is not None and recaptcha.category == "necessary"
    assert maps is not None and maps.category == "marketing"
    # The bare host is not a tracker: search results, images, links.
    assert catalogue.vendor_for_url("https://www.google.com/search?q=x") is None
    assert catalogue.vendor_for_url("https://www.google.com/images/cleardot.gif") is None


@pytest.mark.parametrize(
    "url",
    [
        "//www.google-analytics.com/analytics.js",
        "HTTPS://WWW.GOOGLE-ANALYTICS.COM/analytics.js",
        "https://www.google-analytics.com:443/analytics.js",
        "https://www.google-analytics.com./analytics.js",
        "https://user:pass@www.google-analytics.com/analytics.js",
        "  https://www.google-analytics.com/analytics.js\n",
        "https://www.google-\nanalytics.com/analytics.js",
        "https:\\\\www.google-analytics.com\\analytics.js",
        "https:///www.google-analytics.com/analytics.js",
        "http://Www.Google-Analytics.Com:8080/collect?v=1",
        "https://www.google%2Danalytics.com/analytics.js",
        "https://www\uff0egoogle-analytics\u3002com/collect",
        "https://ＷＷＷ.google-analytics.com/collect",
    ],
)
def test_host_spellings_a_browser_treats_as_the_same_host(catalogue: Catalogue, url: str) -> None:
    assert vendor_id(catalogue, url) == "google-analytics"


def test_internationalised_hosts_are_matched_in_their_ascii_form() -> None:
    catalogue = Catalogue.from_dict(
        {"vendor": [{"id": "umlaut", "name": "Ümlaut", "category": "marketing", "hosts": ["xn--mlaut-jva.example"]}]}
    )
    assert catalogue.vendor_for_url("https://ümlaut.example/pixel.gif") is catalogue.vendors["umlaut"]
    assert catalogue.vendor_for_url("https://cdn.ÜMLAUT.example/x.js") is catalogue.vendors["umlaut"]


@pytest.mark.parametrize(
    "url",
    [
        "https://google-analytics.com.evil.test/collect",
        "https://notgoogle-analytics.com/collect",
        "https://www.google-analytics.co/collect",
        "https://googletagmanager.com.example/gtm",
        "https://evil.test/www.google-analytics.com/x",
        "https://evil.test/?u=https://www.google-analytics.com/collect",
        "https://facebook.com.evil.test/tr",
        "https://myfacebook.com/tr",
    ],
)
def test_look_alike_hosts_do_not_match(catalogue: Catalogue, url: str) -> None:
    assert catalogue.vendor_for_url(url) is None


@pytest.mark.parametrize(
    "url",
    ["data:text/javascript,fbq('init')", "blob:https://example.com/1", "javascript:ga('send')", "about:blank", "mailto:x@y", ""],
)
def test_urls_that_fetch_from_no_host_have_no_vendor(catalogue: Catalogue, url: str) -> None:
    assert catalogue.vendor_for_url(url) is None


def test_path_prefixes_match_whole_segments(catalogue: Catalogue) -> None:
    # www.facebook.com/tr must not swallow /tracking, nor /gtag/js swallow /gtag/json.
    assert vendor_id(catalogue, "https://www.facebook.com/tr") == "meta-pixel"
    assert vendor_id(catalogue, "https://www.facebook.com/trending") == "facebook-sdk"
    assert vendor_id(catalogue, "https://www.googletagmanager.com/gtag/json") == "google-tag-manager"


def test_path_tricks_cannot_hide_a_path_prefix(catalogue: Catalogue) -> None:
    for url in (
        "https://www.facebook.com/%74r?id=1",
        "https://www.facebook.com//tr?id=1",
        "https://www.facebook.com/./tr?id=1",
        "https://www.facebook.com/x/../tr?id=1",
        "https://www.facebook.com/TR?id=1",
    ):
        assert vendor_id(catalogue, url) == "meta-pixel", url


def test_longest_entry_wins_over_a_shorter_one_on_a_parent_host() -> None:
    catalogue = Catalogue.from_dict(
        {
            "vendor": [
                {"id": "parent", "name": "Parent", "category": "necessary", "hosts": ["example.test"]},
                {"id": "child", "name": "Child", "category": "analytics", "hosts": ["cdn.example.test"]},
                {"id": "deep-path", "name": "Deep", "category": "marketing", "hosts": ["example.test/a/b/c/d/e"]},
            ]
        }
    )
    assert vendor_id(catalogue, "https://www.example.test/x") == "parent"
    assert vendor_id(catalogue, "https://cdn.example.test/x") == "child"
    assert vendor_id(catalogue, "https://x.cdn.example.test/x") == "child"
    # "example.test/a/b/c/d/e" is longer than "cdn.example.test": the longer entry is more specific.
    assert vendor_id(catalogue, "https://cdn.example.test/a/b/c/d/e/f.js") == "deep-path"


def test_self_hosted_copies_are_recognised_by_file_name(catalogue: Catalogue) -> None:
    assert vendor_id(catalogue, "/piwik/piwik.js") == "matomo"
    assert vendor_id(catalogue, "https://crazy-julia.de/piwik/piwik.php?idsite=1&rec=1") == "matomo"
    assert vendor_id(catalogue, "https://shop.example/js/matomo.js?v=4") == "matomo"
    assert vendor_id(catalogue, "/assets/ga.js") == "google-analytics"
    assert vendor_id(catalogue, "urchin.js") == "google-analytics"
    assert vendor_id(catalogue, "/static/fbevents.js") == "meta-pixel"
    assert vendor_id(catalogue, "/vendor/hotjar-123456.js") == "hotjar"
    assert vendor_id(catalogue, "/vendor/Hotjar-123456.JS") == "hotjar"
    assert vendor_id(catalogue, "/gtm.js?id=GTM-X") == "google-tag-manager"
    assert vendor_id(catalogue, "/js/jquery.js") is None
    assert vendor_id(catalogue, "/js/piwik.js.map/") is None
    assert vendor_id(catalogue, "/js/my-analytics.js") is None


def test_a_host_match_beats_a_file_name_match(catalogue: Catalogue) -> None:
    # analytics.js on Segment's CDN is Segment, not Google Analytics.
    assert vendor_id(catalogue, "https://cdn.segment.com/analytics.js/v1/KEY/analytics.min.js") == "segment"
    assert vendor_id(catalogue, "https://cdn.segment.com/v1/analytics.js") == "segment"


def test_first_party_heuristic(catalogue: Catalogue) -> None:
    fp = catalogue.first_party
    assert fp("https://www.example.com/a.js", "www.example.com")
    assert fp("https://static.example.com/a.js", "www.example.com")
    assert fp("https://example.com/a.js", "www.example.com:8443")
    assert fp("https://cdn.example.com/a.js", "example.com")
    assert fp("/local/path.js", "www.example.com")
    assert fp("data:image/gif;base64,R0lGOD", "www.example.com")
    assert fp("https://EXAMPLE.com./x", "example.com")
    assert not fp("https://www.google-analytics.com/analytics.js", "www.example.com")
    assert not fp("https://example.com.evil.test/x", "www.example.com")
    assert not fp("https://notexample.com/x", "example.com")
    # Public suffixes: siblings under co.uk or github.io are different sites.
    assert fp("https://cdn.shop.co.uk/x", "www.shop.co.uk")
    assert not fp("https://evil.co.uk/x", "shop.co.uk")
    assert not fp("https://evil.github.io/x", "mine.github.io")
    assert not fp("https://10.168.1.5/x", "192.168.1.5")
