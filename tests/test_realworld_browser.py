"""The 36 real pages in Chromium, as a visitor gets them through the proxy.

With no consent Chromium makes no request to a catalogued tracker, and every third-party
host it still contacts is either a known-necessary service (the catalogue's necessary
vendors) or listed below with the reason it was reviewed. With the recommended strict
setting (``unknown_third_party = "marketing"``) only known-necessary third parties are
contacted at all. With full consent nothing the unrewritten page requested is lost.

Every request is intercepted (tests/realworld_browser.py): nothing leaves the machine.
``bench/realworld_report.py`` prints the same figures per page.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from proxy.catalogue import Catalogue
from realworld_browser import PAGES, Visit, browser_session, judge, make_site, page_host

pytestmark = pytest.mark.browser
if not PAGES:  # a clean clone without ../shared: the real pages are not part of this repository
    pytestmark = [pytest.mark.browser, pytest.mark.skip(reason="real-world pages not found next to the repository")]

# Third-party hosts the pages contact without consent that are neither trackers nor on the
# known-necessary list, each reviewed by hand. With unknown_third_party = "marketing" they
# are refused too (the strict test below), and `consentry scan` names each with its rule.
REVIEWED: dict[str, str] = {
    # The site's own other domains (its CDN, its publisher's network): a rule for the site.
    "edge.spiceworksstatic.com": "01: the site's own static CDN",
    "cdn.ziffstatic.com": "01: the publisher's (Ziff Davis) static CDN, its consent script",
    "s1.lemde.fr": "02: Le Monde's own static domain",
    "cw-production-assetsbucket-8j84s7jns7p2.s3.amazonaws.com": "15: the site's own asset bucket",
    "s3.amazonaws.com": "15: the site's blog images in its own bucket (path caktus-website-production-2015)",
    "mediastorage-lls.bauermedia.co.uk": "10: the publisher's (Bauer Media) image storage",
    "st.hzcdn.com": "30: Houzz's own CDN (houzz.de page)",
    "sk.hzcdn.com": "30: Houzz's own CDN (houzz.de page)",
    "www.houzz.com": "30: Houzz's own .com domain serving the .de page's images",
    "orstedcdn.azureedge.net": "31: the site's own fonts on its Azure CDN",
    # Hot-linked images and badges: plain images from another site (no script, no cookie set by us).
    "upload.wikimedia.org": "19: a hot-linked Wikimedia Commons image",
    "m.media-amazon.com": "36: a hot-linked Amazon product image",
    "kuechenblogs.de": "20: a blog-directory badge image",
    "www.bloggeramt.de": "20: a blog-directory badge image",
    "www.genussblogs.net": "20: a blog-directory badge image",
    "dir.blogflux.com": "20: a blog-directory badge image",
    "www.einsteigerclub.at": "20: a badge image",
    "www.hosting-allinclusive.com": "20: a hosting banner image",
    "cdn.printfriendly.com": "20: the PrintFriendly button image (its script is not on the page)",
    "www.blog-finden.de": "28: a blog-directory badge image",
    "free-load.do.am": "28: a hot-linked button image on another uCoz site",
    "hell-poligon.ucoz.ru": "28: a hot-linked image on another uCoz site",
    "poshstore.com.ua": "28: a hot-linked shop image",
    "www.zlato-grad.ru": "28: a hot-linked image",
    "www.kaijewels.com": "28: a hot-linked image",
    "lenagold.ru": "28: a hot-linked background image",
    "dl.dropbox.com": "28: a hot-linked image in a public Dropbox folder",
    # Google's bare host serves non-tracking files too; its trackers are catalogued by path
    # (/recaptcha, /maps, /pagead, /cse ...), this one is the spacer image of Google widgets.
    "www.google.com": "03: www.google.com/images/cleardot.gif, a spacer image",
    # Unidentified: no vendor could be named from public facts; the strict setting refuses them.
    "d26x5ounzdjojj.cloudfront.net": "01: a script under /tbw/pixels/ on CloudFront whose owner is not public",
    "f24.org": "26: a script of an unidentified service (f24.org/code/<uuid>)",
}


def _normalised(url: str) -> tuple[str, str]:
    """Host and path with digit runs folded: cache busters (misc=<random>) differ per load."""
    parts = urlsplit(url)
    return (parts.hostname or "", re.sub(r"\d+", "0", parts.path))


@pytest.mark.parametrize("page", PAGES, ids=[p.name[:2] for p in PAGES])
async def test_real_page_in_chromium(page: Path) -> None:
    catalogue = Catalogue.default()
    own = page_host(page)
    async with browser_session() as session:
        raw = await session.visit(page, None)
        none = await session.visit(page, "none")
        full = await session.visit(page, "all")
        # The strict site as its second visitor gets it: the consent CSP is then an allowlist
        # of the necessary services the page uses (proxy/csp/in_use.py); once with the guard,
        # once without it (the CSP alone must hold).
        strict_site = make_site(unknown_third_party="marketing")
        strict = await session.visit(page, "none", site=strict_site, read_before=True)
        csp_alone = await session.visit(page, "none", site=strict_site, read_before=True, guard=False)

    # No consent: no tracker, and every third party contacted is necessary or reviewed.
    judged = judge(none, own, catalogue)
    trackers = sorted({f"{j.vendor} {j.request.url[:120]}" for j in judged if j.tracker})
    assert trackers == []
    unexplained = sorted({j.request.host for j in judged if j.category != "necessary" and j.request.host not in REVIEWED})
    assert unexplained == [], "third-party hosts contacted without consent that nobody reviewed"

    # The recommended strict setting: only known-necessary third parties at all, with the
    # guard and with the consent CSP alone; and the CSP never blocks what the page needs
    # (its own site, a known-necessary service).
    for visit in (strict, csp_alone):
        assert "https:" not in visit.csp.split(";", 1)[0], "the strict policy is a host allowlist"
        judged = judge(visit, own, catalogue)
        assert sorted({j.request.host for j in judged if j.category != "necessary"}) == []
        assert needed_but_blocked(visit, own, catalogue) == []

    # Full consent: every request of the unrewritten page is still made.
    before = {_normalised(r.url) for r in raw.requests}
    after = {_normalised(r.url) for r in full.requests}
    assert sorted(before - after) == []


def needed_but_blocked(visit: Visit, own_host: str, catalogue: Catalogue) -> list[str]:
    """CSP violations of fetches from the page's own site or a known-necessary service."""
    blocked = []
    for url, directive in visit.violations:
        if not url.startswith(("http:", "https:", "ws:", "wss:")):
            continue  # inline, eval, data: ...: not a host the allowlist decides
        vendor = catalogue.vendor_for_url(url)
        if catalogue.first_party(url, own_host) or (vendor is not None and vendor.category == "necessary"):
            blocked.append(f"{directive} {url[:120]}")
    return sorted(set(blocked))


def test_reviewed_hosts_are_not_catalogued() -> None:
    """A host in the reviewed list that the catalogue learns must leave the list (no stale excuses)."""
    catalogue = Catalogue.default()
    assert [host for host in REVIEWED if catalogue.vendor_for_url(f"https://{host}/")] == []
