"""proxy.csp: the consent-scoped policy, its merge with an upstream policy, and the guard's config."""

from __future__ import annotations

import json
import re
from importlib import resources
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csp.csp_fixtures import CATALOGUE, FONTS, GA, GTM, PIXEL, admits, consent, make_site
from proxy import csp
from proxy.csp import policy as policy_module
from proxy.catalogue import Catalogue
from proxy.consent import ConsentState
from proxy.policy import SitePolicy

# Unknown third parties count as "preferences": tests can grant analytics/marketing and
# still see a host allowlist (granting the unknown category opens the schemes).
STRICT = {"unknown_third_party": "preferences"}


def policy(site: SitePolicy, state: ConsentState, *, upstream: str | None = None, nonce: str = "n0nce") -> dict[str, list[str]]:
    built = csp.build_csp(site, state, upstream_csp=upstream, nonce=nonce, catalogue=CATALOGUE)
    assert built is not None
    parsed = csp.parse_policy(built[1])
    assert len(parsed) == 1, "a comma in our value would split it into several policies"
    return parsed[0]


def sources(directives: dict[str, list[str]]) -> set[str]:
    return {source for values in directives.values() for source in values}


# -- modes and header names -------------------------------------------------------------


def test_off_builds_nothing() -> None:
    assert csp.build_csp(make_site(csp="off"), consent(), upstream_csp=None, nonce="x", catalogue=CATALOGUE) is None


@pytest.mark.parametrize(("mode", "header"), [("enforce", "Content-Security-Policy"), ("report", "Content-Security-Policy-Report-Only")])
def test_mode_picks_the_header(mode: str, header: str) -> None:
    built = csp.build_csp(make_site(csp=mode), consent(), upstream_csp=None, nonce="x", catalogue=CATALOGUE)
    assert built is not None and built[0] == header


def test_scripts_are_admitted_by_nonce_and_allowlist_never_by_strict_dynamic() -> None:
    directives = policy(make_site(**STRICT), consent(), nonce="abc123")
    script = directives["script-src"]
    assert "'nonce-abc123'" in script
    # strict-dynamic would let a nonce'd tag manager load any tracker; 'unsafe-inline' would
    # let any injected inline script run.
    assert "'strict-dynamic'" not in script and "'unsafe-inline'" not in script
    assert directives["script-src-attr"] == ["'unsafe-inline'"]


def test_report_endpoint_follows_the_consent_path() -> None:
    directives = policy(make_site(consent_path="/privacy"), consent())
    assert directives["report-uri"] == ["/privacy/csp-report"]
    assert "report-to" not in directives


def test_csp_headers_pair_report_to_with_its_endpoint() -> None:
    headers = dict(csp.csp_headers(make_site(), consent(), upstream_csp=None, nonce="x", catalogue=CATALOGUE))
    value = headers["Content-Security-Policy"]
    assert csp.parse_policy(value)[0]["report-to"] == [csp.REPORT_GROUP]
    assert headers["Reporting-Endpoints"] == f'{csp.REPORT_GROUP}="/_consent/csp-report"'
    assert csp.csp_headers(make_site(csp="off"), consent(), upstream_csp=None, nonce="x", catalogue=CATALOGUE) == []


# -- what the allowlist admits ----------------------------------------------------------

KINDS = ("script-src-elem", "img-src", "frame-src", "connect-src", "font-src", "style-src-elem", "media-src")
URLS = {
    "gtm": f"https://{GTM}/gtm.js?id=GTM-1",
    "ga": f"https://{GA}/g/collect?v=2",
    "ga-region": "https://region1.google-analytics.com/g/collect",
    "pixel": f"https://{PIXEL}/en_US/fbevents.js",
    "pixel-beacon": "https://www.facebook.com/tr?id=1",
    "fonts": f"https://{FONTS}/s/roboto.woff2",
    "recaptcha": "https://www.google.com/recaptcha/api.js",
    "google-other": "https://www.google.com/pagead/conversion.js",
    "unknown": "https://cdn.unknown-vendor.example/lib.js",
    "own": "https://shop.example/app.js",
    "own-cdn": "https://img.cdn.shop.example/logo.png",
}


def admitted(directives: dict[str, list[str]], name: str, kind: str = "script-src-elem") -> bool:
    return admits(directives, kind, URLS[name])


def test_strict_site_without_consent_admits_only_itself_and_necessary_vendors() -> None:
    directives = policy(make_site(**STRICT), consent())
    for kind in KINDS:
        for refused in ("gtm", "ga", "ga-region", "pixel", "pixel-beacon", "google-other", "unknown"):
            assert not admitted(directives, refused, kind), (refused, kind)
        for own in ("own", "own-cdn"):
            assert admitted(directives, own, kind), (own, kind)
    assert admitted(directives, "fonts", "font-src")
    assert admitted(directives, "recaptcha", "script-src-elem") and admitted(directives, "recaptcha", "frame-src")
    # Not an XSS policy: inline styles, data: images and eval stay as the site had them.
    assert "'unsafe-inline'" in directives["default-src"] and "data:" in directives["default-src"]
    assert "'unsafe-eval'" in directives["script-src"]


def test_granted_category_admits_its_vendors_for_every_fetch() -> None:
    directives = policy(make_site(**STRICT), consent("analytics"))
    for kind in ("script-src-elem", "img-src", "connect-src"):
        assert admitted(directives, "gtm", kind) and admitted(directives, "ga", kind)
    assert admitted(directives, "ga-region", "connect-src")
    for kind in KINDS:
        assert not admitted(directives, "pixel", kind) and not admitted(directives, "pixel-beacon", kind)


def test_script_allowlist_is_the_vendors_script_sources() -> None:
    directives = policy(make_site(**STRICT), consent("analytics"))
    # GA declares scripts from www.google-analytics.com only; its regional collectors are
    # for beacons (connect/img), not scripts.
    assert admitted(directives, "ga", "script-src-elem")
    assert not admitted(directives, "ga-region", "script-src-elem")


def test_vendor_without_csp_data_is_admitted_by_its_hosts_and_subdomains() -> None:
    directives = policy(make_site(**STRICT), consent("marketing"))
    for kind in ("script-src-elem", "img-src", "connect-src"):
        assert admitted(directives, "pixel", kind) and admitted(directives, "pixel-beacon", kind)
    assert not admits(directives, "img-src", "https://www.facebook.com/other")


def test_per_vendor_refusal_wins_over_its_category() -> None:
    directives = policy(make_site(**STRICT), consent("analytics", vendors={"google-analytics": False}))
    assert admitted(directives, "gtm") and not admitted(directives, "ga") and not admitted(directives, "ga", "img-src")


def test_site_vendor_overrides_are_respected() -> None:
    override = dict  # a [vendors."<id>"] table, validated by the factory
    vendors = {
        "google-fonts": override(category=None, allow="never"),
        "meta-pixel": override(category=None, allow="always"),
        "google-tag-manager": override(category="preferences", allow=None),
    }
    directives = policy(make_site(unknown_third_party="marketing", vendors=vendors), consent())
    assert not admitted(directives, "fonts", "font-src")
    assert admitted(directives, "pixel") and admitted(directives, "pixel-beacon", "img-src")
    assert not admitted(directives, "gtm")
    assert admitted(policy(make_site(unknown_third_party="marketing", vendors=vendors), consent("preferences")), "gtm")


def test_global_privacy_control_keeps_marketing_out() -> None:
    state = ConsentState(categories=frozenset({"necessary", "marketing"}), gpc=True, source="cookie", decided=True)
    directives = policy(make_site(**STRICT), state)
    assert not admitted(directives, "pixel") and not admitted(directives, "pixel-beacon", "img-src")


def test_site_rules_classify_hosts_the_catalogue_does_not_know() -> None:
    rule = dict(category="analytics", vendor="matomo", host="stats.example.org", path_prefix=None)
    site = make_site(**STRICT, rules=[rule])
    assert not admits(policy(site, consent()), "connect-src", "https://stats.example.org/matomo.php")
    granted = policy(site, consent("analytics"))
    assert admits(granted, "connect-src", "https://stats.example.org/matomo.php")
    assert admits(granted, "script-src-elem", "https://cdn.stats.example.org/matomo.js")


@pytest.mark.parametrize("state", [consent(), consent("preferences")], ids=["unknown-allowed-by-policy", "unknown-category-granted"])
def test_allowing_unknown_third_parties_means_scheme_sources(state: ConsentState) -> None:
    site = make_site() if not state.allows("preferences") else make_site(**STRICT)
    directives = policy(site, state)
    for kind in KINDS:
        assert admitted(directives, "unknown", kind) and admitted(directives, "pixel", kind)
    assert admits(directives, "connect-src", "wss://chat.example/socket")
    # Still no inline script without the nonce, and no strict-dynamic.
    assert "'unsafe-inline'" not in directives["script-src"] and "'strict-dynamic'" not in directives["script-src"]


def test_workers_from_blobs_and_the_site_itself() -> None:
    directives = policy(make_site(**STRICT), consent())
    assert admits(directives, "worker-src", "https://shop.example/worker.js")
    assert "blob:" in directives["worker-src"]
    assert not admits(directives, "worker-src", URLS["pixel"])


def test_sources_are_compact() -> None:
    rules = [
        dict(category="analytics", vendor=None, host=host, path_prefix=None)
        for host in ("a.stats.example", "b.stats.example", "c.stats.example", "deep.cdn.example")
    ]
    directives = policy(make_site(**STRICT, rules=rules), consent("analytics", "marketing"))
    connect = directives["default-src"]
    # Three hosts of one registrable domain with nothing refused under it: the domain.
    assert "stats.example" in connect and "*.stats.example" in connect
    assert not [s for s in connect if s.endswith(".stats.example") and s != "*.stats.example"]
    # A site's own rule keeps its subdomains; a catalogue host below a registrable
    # domain loses its subdomain twin. Scheme prefixes go everywhere.
    assert "deep.cdn.example" in connect and "*.deep.cdn.example" in connect
    assert PIXEL in connect and f"*.{PIXEL}" not in connect
    assert not [s for s in connect if s.startswith("https://")]
    assert len(connect) == len(set(connect))


def test_a_domain_with_a_refused_host_is_never_widened() -> None:
    shared = Catalogue.from_dict(
        {
            "vendor": [
                {"id": "a", "name": "A", "category": "necessary", "hosts": ["a.google.com", "b.google.com", "c.google.com"]},
                {"id": "ads", "name": "Ads", "category": "marketing", "hosts": ["ads.google.com"]},
            ]
        }
    )
    built = csp.build_csp(make_site(**STRICT), consent(), upstream_csp=None, nonce="x", catalogue=shared)
    assert built is not None
    directives = csp.parse_policy(built[1])[0]
    assert admits(directives, "img-src", "https://b.google.com/x.png")
    assert not admits(directives, "img-src", "https://ads.google.com/x.png")


def test_wildcard_site_hosts_never_become_a_wildcard_source() -> None:
    directives = policy(make_site(**STRICT, hosts=("*", "default", "shop.example:8443")), consent())
    assert "*" not in sources(directives)
    assert admits(directives, "img-src", "https://shop.example:8443/a.png")
    assert not admits(directives, "img-src", "https://elsewhere.example/a.png")


@pytest.mark.parametrize("granted", [(), ("analytics",), ("analytics", "marketing"), ("preferences", "analytics", "marketing")])
def test_policy_with_the_shipped_catalogue_stays_under_header_limits(granted: tuple[str, ...], caplog: pytest.LogCaptureFixture) -> None:
    # One vendor the site never allows: with every category granted there is still
    # something to refuse (else no policy is sent), and the allowlist is at its longest.
    site = make_site(**STRICT, vendors={"meta-pixel": {"allow": "never"}})
    built = csp.build_csp(site, consent(*granted), upstream_csp=None, nonce=csp.new_nonce())
    assert built is not None
    # aiohttp's client (and nginx's default proxy buffers) stop at 8 KB per header.
    assert len(built[1]) < 8 * 1024 - 500, len(built[1])
    directives = csp.parse_policy(built[1])[0]
    if "https:" in directives["script-src"]:
        # The whole known-necessary list is too large for a header: a page the proxy has not
        # read gets the schemes, and a note that says so (tests/csp/test_csp_in_use.py has
        # the allowlist of the necessary services a read page uses).
        assert (policy_module._note_unread.cache_info().currsize > 0
                or policy_module._warn_large.cache_info().currsize > 0)


@settings(max_examples=60, deadline=None)
@given(granted=st.sets(st.sampled_from(["preferences", "analytics", "marketing"])), strict=st.booleans())
def test_every_vendor_is_admitted_exactly_when_consent_allows_it(granted: set[str], strict: bool) -> None:
    site = make_site(**STRICT) if strict else make_site()
    if granted == {"preferences", "analytics", "marketing"}:
        # Nothing left to refuse: no policy at all (it could only break the page).
        assert csp.build_csp(site, consent(*granted), upstream_csp=None, nonce="n", catalogue=CATALOGUE) is None
        return
    directives = policy(site, consent(*granted))
    scheme_open = not strict or "preferences" in granted
    for vendor in CATALOGUE.vendors.values():
        allowed = vendor.category == "necessary" or vendor.category in granted or scheme_open
        for directive, declared in vendor.csp.items():
            kind = {"script-src": "script-src-elem", "style-src": "style-src-elem"}.get(directive, directive)
            for source in declared:
                if source.startswith("https://*.") and source.count(".") > 2 and allowed:
                    continue  # subdomains of a non-registrable host are dropped on purpose (_compact)
                rest = source.removeprefix("https://").replace("*.", "sub.")
                url = "https://" + rest + ("x" if rest.endswith("/") else "" if "/" in rest else "/x")
                assert admits(directives, kind, url) == allowed, (vendor.id, url, kind)


# -- merging with the upstream's policy -------------------------------------------------


def test_upstream_nonce_is_found_where_browsers_look() -> None:
    assert csp.upstream_nonce("default-src 'self'; script-src 'nonce-AbC+/=' 'strict-dynamic'") == "AbC+/="
    assert csp.upstream_nonce("script-src-elem 'nonce-elem'; script-src 'nonce-other'") == "elem"
    assert csp.upstream_nonce("default-src 'nonce-dflt'") == "dflt"
    # script-src without a nonce wins over default-src with one: that is the directive in force.
    assert csp.upstream_nonce("default-src 'nonce-dflt'; script-src 'self'") is None
    assert csp.upstream_nonce("img-src 'self', script-src 'nonce-second'") == "second"
    assert csp.upstream_nonce(None) is None and csp.upstream_nonce("") is None


def test_nonce_for_reuses_the_upstream_nonce_else_makes_a_fresh_one() -> None:
    assert csp.nonce_for("script-src 'nonce-site123'") == "site123"
    fresh = {csp.nonce_for(None) for _ in range(20)}
    assert len(fresh) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", nonce) for nonce in fresh)


def test_our_policy_admits_the_upstream_nonce_and_never_copies_its_policy() -> None:
    upstream = "script-src 'nonce-site123' 'strict-dynamic'; object-src 'none'; base-uri 'none'"
    directives = policy(make_site(**STRICT), consent(), upstream=upstream, nonce="ours")
    assert "'nonce-ours'" in directives["script-src"] and "'nonce-site123'" in directives["script-src"]
    # The upstream header is sent unchanged beside ours; nothing of it is weakened or merged in.
    assert "'strict-dynamic'" not in directives["script-src"] and "base-uri" not in directives
    same = policy(make_site(**STRICT), consent(), upstream=upstream, nonce="site123")
    assert [s for s in same["script-src"] if s.startswith("'nonce-")] == ["'nonce-site123'"]


def test_parse_policy_reads_what_browsers_read() -> None:
    parsed = csp.parse_policy("Script-Src 'self'  a.example ; script-src b.example;;img-src *, default-src 'none'")
    assert parsed == [{"script-src": ["'self'", "a.example"], "img-src": ["*"]}, {"default-src": ["'none'"]}]


# -- the guard's configuration ----------------------------------------------------------


def config(site: SitePolicy, state: ConsentState, catalogue: Catalogue = CATALOGUE) -> dict:
    return csp.guard_config(site, state, catalogue=catalogue)


def test_guard_config_lists_refused_vendors_only_when_unknown_hosts_are_allowed() -> None:
    cfg = config(make_site(), consent("analytics"))
    assert cfg["v"] == [["meta-pixel", "marketing", f"{PIXEL} www.facebook.com/tr"]]
    assert cfg["u"] is None and cfg["g"] == ["analytics", "necessary"] and cfg["c"] == "enforce"


def test_guard_config_knows_every_vendor_when_unknown_hosts_are_refused() -> None:
    cfg = config(make_site(**STRICT), consent("analytics"))
    assert {v[0] for v in cfg["v"]} == set(CATALOGUE.vendors)
    assert cfg["u"] == "preferences"
    assert cfg["s"] == ["shop.example", "*.cdn.shop.example"]


def test_guard_config_keeps_allowed_vendors_that_share_a_refused_host() -> None:
    shared = Catalogue.from_dict(
        {
            "vendor": [
                {"id": "recaptcha", "name": "reCAPTCHA", "category": "necessary", "hosts": ["www.google.com/recaptcha"]},
                {"id": "google-ads", "name": "Google Ads", "category": "marketing", "hosts": ["google.com/pagead"]},
                {"id": "stripe", "name": "Stripe", "category": "necessary", "hosts": ["js.stripe.com"]},
            ]
        }
    )
    cfg = config(make_site(), consent(), shared)
    # The longest match decides in the guard, so the necessary vendor on the same host goes in too.
    assert [v[0] for v in cfg["v"]] == ["recaptcha", "google-ads"]
    assert [v[2] for v in cfg["v"]] == ["www.google.com/recaptcha", "google.com/pagead"]


def test_guard_config_carries_overrides_and_choices() -> None:
    override = dict  # a [vendors."<id>"] table, validated by the factory
    site = make_site(vendors={"meta-pixel": override(category=None, allow="never"), "google-analytics": override(category=None, allow="always")})
    cfg = config(site, consent("analytics", "marketing", vendors={"google-tag-manager": False}))
    vendors = {v[0]: v for v in cfg["v"]}
    assert vendors["meta-pixel"][3] == 0
    assert len(vendors["google-tag-manager"]) == 3  # follows consent: no override slot
    assert "google-analytics" not in vendors  # always allowed and overlapping nothing refused
    assert cfg["o"] == {"google-tag-manager": False}


def test_gtag_stands_in_as_googles_queue_function_not_an_inert_recorder() -> None:
    # Consent Mode calls gtag('consent', ...) whatever was refused; an inert recorder would
    # swallow the "update" the banner sends after a decision.
    stubs = {entry[0]: entry for entry in config(make_site(), consent())["q"]}
    assert stubs["gtag"][1] == "dataLayer"
    assert stubs["dataLayer"][1] == 1 and stubs["fbq"][1] == 0


def test_the_shared_guard_file_is_one_per_site_and_names_its_version() -> None:
    site = make_site()
    source, version = csp.site_guard(site, catalogue=CATALOGUE)
    assert csp.site_guard(site, catalogue=CATALOGUE) == (source, version) and re.fullmatch(r"[0-9a-f]{16}", version)
    tag = csp.guard_tag(site, consent("analytics"), consent_path="/_consent", nonce_attr=' nonce="n"', catalogue=CATALOGUE)
    assert tag == (f'<script src="/_consent/guard.js?v={version}" '
                   """data-state='{"g":["analytics","necessary"],"o":{},"gpc":false}' nonce="n"></script>""")
    # Built for a visitor who granted nothing: every refusable vendor is in the one file.
    assert all(vendor in source for vendor in ("meta-pixel", "google-analytics"))


def test_guard_script_bakes_in_its_config_safely() -> None:
    state = ConsentState(categories=frozenset({"necessary", "</script><script>alert(1)//"}), source="cookie")
    script = csp.guard_script(make_site(), state, catalogue=CATALOGUE)
    assert "</script" not in script.lower() and "<!--" not in script
    assert "CONSENTRY_CONFIG" not in script
    match = re.search(r"\}\)\((\{.*\})\);\s*$", script, re.S)
    assert match is not None
    baked = json.loads(match.group(1))
    assert "</script><script>alert(1)//" in baked["g"]


def test_minified_guard_has_no_comment_lines_and_is_smaller() -> None:
    source = (resources.files("proxy.web") / "guard.js").read_text(encoding="utf-8")
    small = csp.minify_guard(source)
    assert len(small) < len(source)
    assert not any(line.startswith(("//", "/*")) for line in small.splitlines())
    assert small.rstrip().endswith("})(/*CONSENTRY_CONFIG*/null);")


def test_building_a_policy_loads_no_http_or_rewriter_code() -> None:
    code = (
        "import sys, proxy.csp as c\n"
        "banned = [m for m in ('aiohttp', 'mitmproxy', 'jwt', 'pydantic', 'proxy.html', 'proxy.engine') if m in sys.modules]\n"
        "print(','.join(banned))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""


def test_each_response_carries_only_its_own_nonce() -> None:
    site, state = make_site(**STRICT), consent("analytics")
    first = csp.build_csp(site, state, upstream_csp=None, nonce="first", catalogue=CATALOGUE)
    second = csp.build_csp(site, state, upstream_csp=None, nonce="second", catalogue=CATALOGUE)
    assert first is not None and second is not None
    assert "'nonce-first'" in first[1] and "first" not in second[1]
    assert second[1].count("'nonce-") == 1


def test_a_new_site_policy_is_never_answered_from_another_sites_cache() -> None:
    state = consent()
    before = policy(make_site(**STRICT, hosts=("old.example",)), state)
    after = policy(make_site(**STRICT, hosts=("new.example",)), state)
    assert "old.example" in before["default-src"] and "old.example" not in after["default-src"]
    assert "new.example" in after["default-src"]
    guard_old = csp.guard_script(make_site(hosts=("old.example",)), state, catalogue=CATALOGUE)
    guard_new = csp.guard_script(make_site(hosts=("new.example",)), state, catalogue=CATALOGUE)
    assert "old.example" in guard_old and "old.example" not in guard_new


def test_guard_is_a_stub_when_nothing_can_be_refused() -> None:
    everything = consent("preferences", "analytics", "marketing")
    stub = csp.guard_script(make_site(), everything, catalogue=CATALOGUE)
    assert len(stub) < 200 and "__consentry_guard" in stub and "update" in stub
    full = csp.guard_script(make_site(), consent("preferences", "analytics"), catalogue=CATALOGUE)
    assert len(full) > 2000
    # Unknown third parties in a refused category keep the real guard.
    strict = csp.guard_script(make_site(unknown_third_party="marketing"), consent("preferences", "analytics"), catalogue=CATALOGUE)
    assert len(strict) > 2000
