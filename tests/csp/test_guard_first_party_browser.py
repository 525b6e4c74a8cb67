"""The guard decides first party by the Public Suffix List, as the rewriter does (issue 12).

The server hands the guard the page host's registrable domain and the public suffixes
below it (the tag's ``data-state``); the guard's check is then exact. Each page is opened
by Chromium at its own address (Playwright answers every request locally and records
it): in strict mode (unknown third parties refused, no consent) a script the page creates
at run time loads only from its own site.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.catalogue.urls import site_of
from proxy.consent import ConsentState
from proxy.csp.guard import guard_tag, site_guard
from realworld_browser import make_site

pytestmark = pytest.mark.browser

# page host -> {other host: first party?}, as the Public Suffix List says (checked below).
CASES: dict[str, dict[str, bool]] = {
    "shop.example.co.uk": {
        "cdn.example.co.uk": True, "example.co.uk": True, "a.b.example.co.uk": True,
        "other.co.uk": False, "example.co.uk.evil.com": False, "co.uk": False,
    },
    # A private-section suffix: every github.io subdomain has its own owner (a last-two-labels
    # heuristic takes them all for one site).
    "alice.github.io": {"img.alice.github.io": True, "bob.github.io": False, "github.io": False},
    # Public suffixes below a registrable domain: s3.amazonaws.com's buckets are not Amazon's.
    "shop.example.com.au": {"static.example.com.au": True, "other.com.au": False},
    "www.city.kawasaki.jp": {"cdn.city.kawasaki.jp": True, "other.kawasaki.jp": False},
}

PAGE = """<!doctype html><html><head>{guard}</head><body><script>
window.results = {{}};
for (const host of {hosts}) {{
  const s = document.createElement('script');
  s.src = 'https://' + host + '/run-time.js';
  document.head.appendChild(s);
  window.results[host] = __consentry_guard.refuses('https://' + host + '/x.js') === null;
}}
</script></body></html>"""


def test_the_cases_are_what_the_public_suffix_list_says() -> None:
    for page, hosts in CASES.items():
        for host, first in hosts.items():
            assert (site_of(host) == site_of(page)) is first, (page, host)


def test_the_guard_tag_carries_the_registrable_domain() -> None:
    site = make_site(unknown_third_party="marketing")
    state = ConsentState.simulated("none", all_categories=tuple(site.categories))
    tag = guard_tag(site, state, consent_path="/_consent", nonce_attr="", page_host="shop.example.co.uk:8443")
    data = json.loads(tag.split("data-state='", 1)[1].split("'", 1)[0])
    assert data["r"] == "example.co.uk" and "x" not in data
    # A domain with public suffixes below it names them; a hosting platform's apex with
    # hundreds of them keeps only its own host (fails closed, page stays light).
    tag = guard_tag(site, state, consent_path="/_consent", nonce_attr="", page_host="www.amazonaws.com")
    data = json.loads(tag.split("data-state='", 1)[1].split("'", 1)[0])
    assert data["r"] == "www.amazonaws.com" and data["x"] == ["www.amazonaws.com"]


@pytest.mark.parametrize("page_host", list(CASES))
async def test_run_time_scripts_load_only_from_the_page_s_own_site(page_host: str) -> None:
    from chromium import launch

    site = make_site(unknown_third_party="marketing", csp="off")
    state = ConsentState.simulated("none", all_categories=tuple(site.categories))
    hosts = CASES[page_host]
    guard = guard_tag(site, state, consent_path="/_consent", nonce_attr="", page_host=page_host)
    body = PAGE.format(guard=guard, hosts=json.dumps(sorted(hosts)))
    source, _ = site_guard(site)
    requested: list[str] = []

    async def handle(route: Any) -> None:
        url = route.request.url
        if url == f"https://{page_host}/":
            await route.fulfill(status=200, headers={"content-type": "text/html"}, body=body)
        elif url.startswith(f"https://{page_host}/_consent/guard.js"):
            await route.fulfill(status=200, headers={"content-type": "text/javascript"}, body=source)
        else:
            requested.append(url)
            await route.fulfill(status=200, headers={"content-type": "text/javascript"}, body="")

    async with launch(30_000) as browser:
        context = await browser.new_context()
        try:
            await context.route("**/*", handle)
            tab = await context.new_page()
            await tab.goto(f"https://{page_host}/", wait_until="load", timeout=15_000)
            await tab.wait_for_timeout(300)
            verdicts = await tab.evaluate("window.results")
        finally:
            await context.close()
    assert verdicts == hosts
    loaded = {url.split("/")[2] for url in requested if url.endswith("/run-time.js")}
    assert loaded == {host for host, first in hosts.items() if first}
