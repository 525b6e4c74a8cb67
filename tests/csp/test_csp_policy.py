"""proxy.csp: the consent-scoped policy, its merge with an upstream policy, and the guard's config."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from types import SimpleNamespace

from csp.csp_fixtures import CATALOGUE, FONTS, GA, GTM, PIXEL, consent, make_site
from proxy import csp
from proxy.catalogue import Catalogue
from proxy.consent import ConsentState

# Unknown third parties count as "preferences": tests can grant analytics/marketing and
# still see a host allowlist (granting the unknown category opens the schemes).
STRICT = {"unknown_third_party": "preferences"}


def policy(site: SimpleNamespace, state: ConsentState, *, upstream: str | None = None, nonce: str = "n0nce") -> dict[str, list[str]]:
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


def test_strict_site_without_consent_admits_only_itself_and_necessary_vendors() -> None:
    directives = policy(make_site(**STRICT), consent())
    everything = " ".join(sources(directives))
    for refused in (GTM, GA, PIXEL, "facebook.com"):
        assert refused not in everything
    assert f"{FONTS}" in directives["font-src"]
    assert "www.google.com/recaptcha/" in directives["script-src"]
    for name in ("script-src", "img-src", "frame-src", "connect-src"):
        assert directives[name][:1] == ["'self'"] or "'self'" in directives[name]
        assert "shop.example" in directives[name] and "*.cdn.shop.example" in directives[name]
        assert "https:" not in directives[name] and "*" not in directives[name]


def test_granted_category_admits_its_vendors_where_the_catalogue_says() -> None:
    directives = policy(make_site(**STRICT), consent("analytics"))
    assert f"{GTM}" in directives["script-src"]
    assert f"{GA}" in directives["script-src"]
    assert "*.google-analytics.com" in directives["connect-src"]
    assert "*.google-analytics.com" in directives["img-src"]
    assert PIXEL not in " ".join(sources(directives))


def test_vendor_without_csp_data_is_admitted_by_its_hosts() -> None:
    directives = policy(make_site(**STRICT), consent("marketing"))
    for name in ("script-src", "img-src", "connect-src"):
        assert f"{PIXEL}" in directives[name]
        assert f"*.{PIXEL}" in directives[name]


def test_per_vendor_refusal_wins_over_its_category() -> None:
    directives = policy(make_site(**STRICT), consent("analytics", vendors={"google-analytics": False}))
    assert f"{GTM}" in directives["script-src"]
    assert GA not in " ".join(sources(directives))


def test_site_vendor_overrides_are_respected() -> None:
    override = SimpleNamespace
    site = make_site(
        **STRICT,
        vendors={
            "google-fonts": override(category=None, allow="never"),
            "meta-pixel": override(category=None, allow="always"),
            "google-tag-manager": override(category="preferences", allow=None),
        },
    )
    directives = policy(site, consent())
    assert FONTS not in " ".join(sources(directives))
    assert f"{PIXEL}" in directives["script-src"]
    assert GTM not in " ".join(sources(directives))
    assert f"{GTM}" in policy(make_site(unknown_third_party="marketing", vendors=site.vendors), consent("preferences"))["script-src"]


def test_global_privacy_control_keeps_marketing_out() -> None:
    state = ConsentState(categories=frozenset({"necessary", "marketing"}), gpc=True, source="cookie", decided=True)
    assert PIXEL not in " ".join(sources(policy(make_site(**STRICT), state)))


def test_site_rules_classify_hosts_the_catalogue_does_not_know() -> None:
    rule = SimpleNamespace(category="analytics", vendor="matomo", host="stats.example.org", path_prefix=None)
    site = make_site(**STRICT, rules=[rule])
    assert "stats.example.org" not in " ".join(sources(policy(site, consent())))
    granted = policy(site, consent("analytics"))
    assert "stats.example.org" in granted["connect-src"] and "*.stats.example.org" in granted["script-src"]


@pytest.mark.parametrize("state", [consent(), consent("preferences")], ids=["unknown-allowed-by-policy", "unknown-category-granted"])
def test_allowing_unknown_third_parties_means_scheme_sources(state: ConsentState) -> None:
    site = make_site() if not state.allows("preferences") else make_site(**STRICT)
    directives = policy(site, state)
    for name in ("script-src", "img-src", "frame-src", "connect-src", "font-src", "style-src"):
        assert "https:" in directives[name], name
    assert "wss:" in directives["connect-src"]
    # Still no inline script without the nonce, and no strict-dynamic.
    assert "'unsafe-inline'" not in directives["script-src"] and "'strict-dynamic'" not in directives["script-src"]


def test_optional_directives_only_when_a_vendor_uses_them() -> None:
    bare = Catalogue.from_dict({"vendor": [{"id": "tracker", "name": "T", "category": "analytics", "hosts": ["t.example"]}]})
    built = csp.build_csp(make_site(**STRICT), consent(), upstream_csp=None, nonce="x", catalogue=bare)
    assert built is not None
    directives = csp.parse_policy(built[1])[0]
    assert not {"font-src", "media-src", "style-src"} & set(directives)
    assert {"font-src", "style-src"} <= set(policy(make_site(**STRICT), consent()))


def test_hosts_a_wildcard_covers_are_listed_once() -> None:
    rule = SimpleNamespace(category="analytics", vendor=None, host="a.stats.example", path_prefix=None)
    wide = SimpleNamespace(category="analytics", vendor=None, host="stats.example", path_prefix=None)
    directives = policy(make_site(**STRICT, rules=[rule, wide]), consent("analytics"))
    connect = directives["connect-src"]
    assert "stats.example" in connect and "*.stats.example" in connect
    assert "a.stats.example" not in connect and "*.a.stats.example" not in connect


def test_guard_config_lists_each_host_once_per_vendor() -> None:
    catalogue = Catalogue.from_dict({"vendor": [{"id": "t", "name": "T", "category": "analytics",
                                                  "hosts": ["t.example", "www.t.example", "t.example/p", "cdn.example/x"]}]})
    assert config(make_site(), consent(), catalogue)["v"] == [["t", "analytics", "t.example cdn.example/x"]]


def test_wildcard_site_hosts_never_become_a_wildcard_source() -> None:
    directives = policy(make_site(**STRICT, hosts=("*", "default", "shop.example:8443")), consent())
    assert "*" not in sources(directives)
    assert "shop.example:8443" in directives["img-src"]


@settings(max_examples=60, deadline=None)
@given(granted=st.sets(st.sampled_from(["preferences", "analytics", "marketing"])), strict=st.booleans())
def test_every_vendor_is_admitted_exactly_when_consent_allows_it(granted: set[str], strict: bool) -> None:
    site = make_site(**STRICT) if strict else make_site()
    state = consent(*granted)
    everything = " ".join(sources(policy(site, state)))
    scheme_open = not strict or "preferences" in granted
    for vendor in CATALOGUE.vendors.values():
        allowed = vendor.category == "necessary" or vendor.category in granted
        for declared in vendor.csp.values():
            for source in (s.removeprefix("https://") for s in declared):
                if allowed and not scheme_open:
                    assert source in everything, (vendor.id, source)
                if not allowed:
                    assert source not in everything, (vendor.id, source)


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


def config(site: SimpleNamespace, state: ConsentState, catalogue: Catalogue = CATALOGUE) -> dict:
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
    override = SimpleNamespace
    site = make_site(vendors={"meta-pixel": override(category=None, allow="never"), "google-analytics": override(category=None, allow="always")})
    cfg = config(site, consent("analytics", "marketing", vendors={"google-tag-manager": False}))
    vendors = {v[0]: v for v in cfg["v"]}
    assert vendors["meta-pixel"][3] == 0
    assert len(vendors["google-tag-manager"]) == 3  # follows consent: no override slot
    assert "google-analytics" not in vendors  # always allowed and overlapping nothing refused
    assert cfg["o"] == {"google-tag-manager": False}


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
    source = (csp.resources.files("proxy.web") / "guard.js").read_text(encoding="utf-8")
    small = csp.minify_guard(source)
    assert len(small) < len(source)
    assert not any(line.startswith(("//", "/*")) for line in small.splitlines())
    assert small.rstrip().endswith("})(/*CONSENTRY_CONFIG*/null);")


def test_building_a_policy_loads_no_http_or_rewriter_code() -> None:
    code = (
        "import sys, proxy.csp as c\n"
        "banned = [m for m in ('aiohttp', 'mitmproxy', 'jwt', 'pydantic', 'proxy.html.rewriter', 'proxy.engine') if m in sys.modules]\n"
        "print(','.join(banned))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""
