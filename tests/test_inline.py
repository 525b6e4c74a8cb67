"""The inline-script judgement: loaders and initialisers are deferred, uses stay live."""

from __future__ import annotations

import pytest

from proxy.inline import lex
from test_engine import NONE, rewrite

LOADERS = {
    "meta pixel snippet": (
        "!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments):"
        "n.queue.push(arguments)};if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';n.queue=[];"
        "t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}"
        "(window, document,'script','https://connect.facebook.net/en_US/fbevents.js');fbq('init', '123');"),
    "init call alone": "fbq('init', '123');",
    "gtag queue stub and config": ("window.dataLayer = window.dataLayer || [];function gtag(){dataLayer.push(arguments);}"
                                   "gtag('js', new Date());gtag('config', 'G-ABC');"),
    "analytics.js": ("(function(i,s,o,g,r,a,m){i['GoogleAnalyticsObject']=r;i[r]=i[r]||function(){(i[r].q=i[r].q||[])"
                     ".push(arguments)},i[r].l=1*new Date();a=s.createElement(o),m=s.getElementsByTagName(o)[0];"
                     "a.async=1;a.src=g;m.parentNode.insertBefore(a,m)})(window,document,'script',"
                     "'https://www.google-analytics.com/analytics.js','ga');ga('create', 'UA-1-1', 'auto');"),
    "gtm": ("(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':new Date().getTime(),event:'gtm.js'});"
            "var f=d.getElementsByTagName(s)[0],j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;"
            "j.src='https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);})"
            "(window,document,'script','dataLayer','GTM-XXXX');"),
    "self-hosted matomo": ("var _paq = window._paq = window._paq || [];_paq.push(['trackPageView']);(function() {"
                           "var u='//stats.example.org/';_paq.push(['setSiteId', '1']);var d=document, "
                           "g=d.createElement('script'), s=d.getElementsByTagName('script')[0];g.async=true; "
                           "g.src=u+'matomo.js'; s.parentNode.insertBefore(g,s);})();"),
    "pixel through an image": "new Image().src = 'https://www.facebook.com/tr?id=1&ev=PageView';",
    "url handed to a loader function": "loadLater('https://connect.facebook.net/en_US/fbevents.js');",
    "escaped slashes in a write": "document.write('<script src=\"https:\\/\\/connect.facebook.net\\/en_US\\/fbevents.js\"><\\/script>');",
    "counter init with an id first": "ym(12345, 'init', {clickmap: true});",
    "init method": "ttq.load('ABC'); ttq.page();",
    "chained init": "amplitude.getInstance().init('KEY');",
    "settings its loader reads": "window._linkedin_partner_id = '123';",
    "url put together from pieces": ("var s = document.createElement('script'); s.src = (location.protocol == 'https:' ? "
                                     "'https://sb' : 'http://b') + '.scorecardresearch.com/beacon.js'; document.head.appendChild(s);"),
}
USES = {
    "guarded call": "function validate(f) { if (window.fbq) fbq('track', 'Lead'); return true; }",
    "typeof guard": "typeof gtag === 'function' && gtag('event', 'sign_up');",
    "queue made sure of": "window.dataLayer = window.dataLayer || []; dataLayer.push({event: 'basket'});",
    "hubspot queue": "var _hsq = window._hsq = window._hsq || []; _hsq.push(['setPath', '/cart']);",
    "comment": "// fbq('init', '1') was removed in 2021\n/* ga('create', 'UA-1') */ var a = 1;",
    "html comment line": "<!-- fbq('init', '1')\nvar a = 1;",
    "string naming the api": "var labels = {fb: \"fbq('init', '1')\", ga: 'GoogleAnalyticsObject'};",
    "unguarded track call": "fbq('track', 'Purchase', {value: 1, currency: 'EUR'});",
    "share link": "button.onclick = function () { window.open('https://www.facebook.com/sharer/sharer.php?u=' + location.href); };",
    "counter goal": "function bought() { ym(12345, 'reachGoal', 'buy'); }",
    "regex literal": "var re = /fbq\\('init'/; if (re.test(x)) y();",
}


@pytest.mark.parametrize("name", list(LOADERS))
def test_loaders_and_initialisers_are_deferred(name: str) -> None:
    out, report = rewrite(f"<script>{LOADERS[name]}</script>".encode(), NONE)
    assert b'type="text/plain"' in out, out
    assert report.entries and report.entries[0].action == "defer"


@pytest.mark.parametrize("name", list(USES))
def test_uses_stay_live(name: str) -> None:
    source = f"<script>{USES[name]}</script>".encode()
    out, _ = rewrite(source, NONE)
    assert out == source


def test_event_handlers_are_judged_the_same_way() -> None:
    use = b"<button onclick=\"fbq('track', 'AddToCart')\">Buy</button>"
    assert rewrite(use, NONE)[0] == use
    loader = b"<img src=/x.png onload=\"new Image().src='https://www.facebook.com/tr?id=1'\">"
    assert b"data-consent-onload" in rewrite(loader, NONE)[0]


def test_lexer_finds_strings_comments_and_regexes() -> None:
    text = "a = 'x//y' / 2; b = /c\\/d/g; // end\nc = `t${1}`; /* q */ d = 4 / e / f;"
    kinds = [(text[start:end], kind) for start, end, kind in lex(text).spans]
    assert kinds == [("'x//y'", "s"), ("/c\\/d/g", "r"), ("// end", "c"), ("`t${1}`", "s"), ("/* q */", "c")]
    assert len(lex(text).code) == len(text)


def test_unterminated_comment_or_string_reads_as_comment_or_string_to_the_end() -> None:
    lexed = lex("var a = 1; /* fbq('init', '1')")
    assert lexed.kind_at(len("var a = 1; /* f")) == "c"
