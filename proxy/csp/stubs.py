"""The globals a tracker's loader defines, so the guard can stand in for refused vendors.

When a vendor is refused, its loader never runs, but first-party code often calls the
vendor's functions unguarded (``fbq('track', 'Lead')`` in a form handler,
``dataLayer.push(...)`` in a basket script). The guard defines inert stand-ins for these
globals before any page script runs: a function that records its calls and answers every
property access and call with another inert object (``ga.getAll()[0]``,
``googletag.cmd.push(...)`` never throw and never send), or a plain array for the
vendors whose queue is an array that their library reads when it loads (``_paq``,
``dataLayer``): after consent the activated loader finds the queue and processes it.

Vendor ids are the catalogue's; an id the catalogue does not know is ignored. Standard
library only: must not import aiohttp, mitmproxy, jwt, pydantic or ``proxy.html``.
"""

from __future__ import annotations

# Array queues: the stand-in is a real array the loader adopts (``w._paq = w._paq || []``).
ARRAY_QUEUES = frozenset({
    "dataLayer", "_gaq", "_paq", "_mtm", "_hsq", "uetq", "criteo_q", "_taboola", "_tfa", "_qevents",
    "optimizely", "kameleoonQueue", "$crisp", "_linkedin_data_partner_ids", "_comscore", "adsbygoogle", "_kmq",
    "_cio", "_vis_opt_queue", "snaptr_queue", "_hjSettings_queue",
})

# Queue functions: Google's own snippet defines ``function gtag(){dataLayer.push(arguments)}``,
# which sends nothing by itself. The stand-in is exactly that function, never an inert
# recorder: Consent Mode's ``gtag('consent', ...)`` calls (ours and the site's) must reach
# ``dataLayer`` whatever was refused, and a loader activated later reads them from there.
QUEUE_FUNCTIONS: dict[str, str] = {"gtag": "dataLayer"}

# vendor id -> the globals first-party code may call.
VENDOR_GLOBALS: dict[str, tuple[str, ...]] = {
    "google-analytics": ("ga", "gtag", "_gaq", "__gaTracker", "dataLayer"),
    "google-tag-manager": ("dataLayer",),
    "google-ads": ("gtag", "dataLayer"),
    "doubleclick": ("gtag", "dataLayer"),
    "google-adsense": ("adsbygoogle",),
    "google-publisher-tag": ("googletag",),
    "meta-pixel": ("fbq", "_fbq"),
    "facebook-sdk": ("FB",),
    "instagram-embed": ("instgrm",),
    "linkedin-insight": ("lintrk", "_linkedin_data_partner_ids"),
    "linkedin-widgets": ("IN",),
    "x-pixel": ("twq",),
    "x-widgets": ("twttr",),
    "tiktok-pixel": ("ttq",),
    "pinterest-tag": ("pintrk",),
    "snap-pixel": ("snaptr",),
    "reddit-pixel": ("rdt",),
    "microsoft-uet": ("uetq",),
    "microsoft-clarity": ("clarity",),
    "hotjar": ("hj",),
    "segment": ("analytics",),
    "mixpanel": ("mixpanel",),
    "amplitude": ("amplitude",),
    "heap": ("heap",),
    "fullstory": ("FS",),
    "matomo": ("_paq", "_mtm"),
    "matomo-cloud": ("_paq", "_mtm"),
    "yandex-metrica": ("ym",),
    "parsely": ("PARSELY",),
    "comscore": ("_comscore", "COMSCORE"),
    "new-relic": ("newrelic",),
    "adobe-analytics": ("s_gi", "_satellite"),
    "optimizely": ("optimizely",),
    "kameleoon": ("kameleoonQueue",),
    "crazy-egg": ("CE2",),
    "mouseflow": ("_mfq",),
    "hubspot": ("_hsq", "hbspt"),
    "criteo": ("criteo_q",),
    "taboola": ("_taboola", "_tfa"),
    "outbrain": ("obApi", "OBR"),
    "amazon-ads": ("apstag",),
    "appnexus": ("apntag",),
    "quantcast": ("_qevents", "__qc"),
    "intercom": ("Intercom",),
    "crisp": ("$crisp",),
    "zendesk-chat": ("zE", "$zopim"),
    "tawk-to": ("Tawk_API",),
    "drift": ("drift",),
    "olark": ("olark",),
    "livechat": ("LiveChatWidget",),
    "tidio": ("tidioChatApi",),
    "optinmonster": ("OptinMonsterApp",),
    "disqus": ("DISQUS",),
    "addthis": ("addthis",),
    "sharethis": ("__sharethis__",),
    "youtube-embed": ("YT",),
    "vimeo-embed": ("Vimeo",),
    "google-maps": (),
}
