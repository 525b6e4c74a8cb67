"""vendor_for_script: real snippets from real pages, embedded URLs, precedence, and the signature prefilter."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.catalogue import Catalogue
from proxy.catalogue.literals import required_literal

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED: dict[str, str] = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("fixture", "vendor_id"), sorted(EXPECTED.items()))
def test_real_snippet_is_recognised(catalogue: Catalogue, fixture: str, vendor_id: str) -> None:
    text = (FIXTURES / f"{fixture}.js").read_text(encoding="utf-8")
    vendor = catalogue.vendor_for_script(text)
    assert vendor is not None and vendor.id == vendor_id


def test_fixtures_are_all_listed() -> None:
    assert {path.stem for path in FIXTURES.glob("*.js")} == set(EXPECTED)


def test_classic_ga_protocol_switch_is_caught_by_signature(catalogue: Catalogue) -> None:
    text = """
    (function() {
      var ga = document.createElement('script'); ga.type = 'text/javascript'; ga.async = true;
      ga.src = ('https:' == document.location.protocol ? 'https://ssl' : 'http://www') + '.google-analytics.com/ga.js';
      var s = document.getElementsByTagName('script')[0]; s.parentNode.insertBefore(ga, s);
    })();
    """
    vendor = catalogue.vendor_for_script(text)
    assert vendor is not None and vendor.id == "google-analytics"


@pytest.mark.parametrize(
    ("text", "vendor_id"),
    [
        ("var s=document.createElement('script');s.src='//connect.facebook.net/en_US/fbevents.js';", "meta-pixel"),
        ('{"u":"https:\\/\\/www.googletagmanager.com\\/gtm.js?id=GTM-X"}; load(u)', "google-tag-manager"),
        ("load('\\/\\/www.googletagmanager.com\\/gtm.js?id=GTM-X')", "google-tag-manager"),
        ("document.write(unescape('%3Cscript src=%22%2F%2Fstatic.hotjar.com%2Fc%2Fx.js%22%3E'))", "hotjar"),
        ("var img = new Image(); img.src = 'https://www.facebook.com/tr?id=1&ev=PageView';", "meta-pixel"),
        ("x = 'https://px.ads.linkedin.com/collect/?pid=1'", "linkedin-insight"),
        ("embed('https://player.vimeo.com/video/12345')", "vimeo-embed"),
        ("el.src = \"https:\\u002F\\u002Fwww.youtube.com\\u002Fembed\\u002Fabc\"", "youtube-embed"),
    ],
)
def test_catalogued_urls_inside_a_script(catalogue: Catalogue, text: str, vendor_id: str) -> None:
    vendor = catalogue.vendor_for_script(text)
    assert vendor is not None and vendor.id == vendor_id


def test_string_concatenation_of_a_host_is_allowed_to_go_unnoticed(catalogue: Catalogue) -> None:
    # Documented limit: a URL assembled from pieces is found only when a signature knows the snippet.
    assert catalogue.vendor_for_script("var u = 'https://www.google-' + 'analytics' + '.com/collect';") is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "document.querySelector('.menu').classList.toggle('open');",
        "var analytics = {}; function ga4() {} var fbqueue = [];",
        "window.dataLayer = window.dataLayer || [];",  # gtm's data layer alone loads nothing
        "var u = 'https://example.com/analytics/collect';",
        "location.href = '/gtm.html';",
    ],
)
def test_ordinary_scripts_have_no_vendor(catalogue: Catalogue, text: str) -> None:
    assert catalogue.vendor_for_script(text) is None
    assert catalogue.vendors_for_script(text) == []


def test_json_data_blocks_are_not_scripts(catalogue: Catalogue) -> None:
    json_ld = json.dumps({"@context": "https://schema.org", "sameAs": ["https://www.facebook.com/example"]})
    assert catalogue.vendor_for_script(json_ld) is None
    assert catalogue.vendors_for_script(json_ld) == []
    # The same URL in code that runs is classified.
    vendor = catalogue.vendor_for_script(f"var org = {json_ld}; share(org.sameAs[0]);")
    assert vendor is not None and vendor.id == "facebook-sdk"


def test_a_signature_beats_urls_found_in_the_text(catalogue: Catalogue) -> None:
    # Matomo's snippet names its own (unknown) host; the _paq signature decides.
    text = "var _paq = _paq || []; _paq.push(['trackPageView']); var u='//stats.example.org/'; load(u+'x.js', '//cdnjs.cloudflare.com/x.js');"
    vendor = catalogue.vendor_for_script(text)
    assert vendor is not None and vendor.id == "matomo"


def test_the_most_restrictive_vendor_wins_when_several_show(catalogue: Catalogue) -> None:
    # A consent manager's config (necessary) that also contains a Meta Pixel snippet must not keep the pixel live.
    text = "var borlabsCookieConfig = {}; !function(f,b,e,v){if(f.fbq)return;n=f.fbq=function(){}}(window); fbq('init', '1');"
    vendor = catalogue.vendor_for_script(text)
    assert vendor is not None and vendor.id == "meta-pixel"
    ids = [v.id for v in catalogue.vendors_for_script(text)]
    assert ids[:2] == ["borlabs-cookie", "meta-pixel"]
    # Among equal categories the first to appear wins.
    both = "_sf_async_config = {}; (function(i,s,o,g,r){i['GoogleAnalyticsObject']=r})();"
    assert catalogue.vendor_for_script(both).id == "chartbeat"  # type: ignore[union-attr]


def test_urls_count_only_without_a_signature(catalogue: Catalogue) -> None:
    text = "var borlabsCookieConfig = {}; blocked = ['https:\\/\\/www.youtube.com\\/embed\\/x'];"
    assert catalogue.vendor_for_script(text).id == "borlabs-cookie"  # type: ignore[union-attr]
    assert [v.id for v in catalogue.vendors_for_script(text)] == ["borlabs-cookie", "youtube-embed"]


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"_gaq\.push\(", "_gaq.push("),
        (r"\bgtag\(\s*[\x27\"]config", "config"),
        (r"function\s+gtag\s*\(\s*\)\s*\{\s*dataLayer\.push\(", "dataLayer.push("),
        (r"\bYa\.Metrika2?\b", "Ya.Metrika"),
        (r"google-analytics\.com/(?:ga|urchin)\.js", "google-analytics.com/"),
        (r"ab+cd", "ab"),
        (r"abc|defgh", ""),
        (r"x{2,3}yz", "yz"),
        (r"[abc]def", "def"),
        (r"\x41BCD", "BCD"),
        (r"ab\ncd", "ab\ncd"),
        (r"(?i)fbq\(", ""),
        (r"(?x) f b q", ""),
    ],
)
def test_required_literal(pattern: str, literal: str) -> None:
    assert required_literal(pattern) == literal


def _all_signatures() -> list[str]:
    return sorted({s for vendor in Catalogue.default().vendors.values() for s in vendor.signatures})


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], deadline=None)
@given(data=st.data())
def test_every_match_of_a_signature_contains_its_prefilter_literal(data: st.DataObject) -> None:
    # If the prefilter literal could be absent from a real match, the fast path would miss a tracker.
    signature = data.draw(st.sampled_from(_all_signatures()))
    text = data.draw(st.from_regex(re.compile(signature)))
    assert required_literal(signature) in text


def test_pathological_texts_are_classified_without_blowing_up(catalogue: Catalogue) -> None:
    # These once made the URL scan build millions of host suffixes; now hosts are capped at 253 characters.
    assert catalogue.vendor_for_script("//" + "a." * 200_000) is None
    assert catalogue.vendor_for_script("/" * 200_000) is None
    assert catalogue.vendor_for_script("\\/" * 100_000 + "www.facebook.com/tr?id=1").id == "meta-pixel"  # type: ignore[union-attr]
    assert catalogue.vendor_for_url("https://" + "a." * 200 + "google-analytics.com/collect") is None
