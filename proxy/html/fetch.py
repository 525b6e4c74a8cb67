"""Which elements and attributes make a browser fetch or execute something.

Given a start tag's decoded attributes, ``inspect_tag`` says whether the caller must be
asked about it, which URLs it would fetch (resolved), which attributes a deferral moves
to ``data-consent-*``, and which ``on*`` event handlers it carries. Elements with none of
these are the fast path: nobody is asked. The rules mirror DESIGN.md ("What the
rewriter does"). Standard library only; must not import aiohttp, mitmproxy, jwt or
pydantic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from proxy.html.css import css_urls
from proxy.html.element import FetchURL
from proxy.html.urls import URLResolver, refresh_url, resolve, srcset_urls

# Attributes that hold one URL or a srcset, per HTML element.
_URL_ATTRS: dict[str, tuple[str, ...]] = {
    "script": ("src", "href", "xlink:href"),  # href: an SVG script read as HTML (fail closed)
    "iframe": ("src",),
    "frame": ("src",),
    "img": ("src", "srcset"),
    # The tree builder turns <image> into <img>, but Chromium's preload scanner reads it
    # as SVG's <image href> wherever it believes it is inside <svg> (in <foreignObject>,
    # after </div> closed the svg): it fetches href/xlink:href there.
    "image": ("src", "srcset", "href", "xlink:href"),
    "source": ("src", "srcset"),
    "embed": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "object": ("data",),
    "link": ("href", "imagesrcset"),
}
# Elements the caller is asked about even without a URL (inline code, fallback content).
ALWAYS_ASKED = frozenset(_URL_ATTRS) | {"style"}
_SVG_URL_ELEMENTS = frozenset({"image", "use", "feimage", "script"})
# SVG scripts load only href/xlink:href, but a src there is treated as a fetch too:
# cheaper to neutralise than to prove harmless.
_SVG_URL_ATTRS = ("href", "xlink:href", "src")
_SRCSET_ATTRS = frozenset({"srcset", "imagesrcset"})
# Lazy-load conventions: a script copies these into src/srcset/poster/background, so they
# count as fetches (lazysizes, vanilla-lazyload, jQuery lazyload, lozad, WP Rocket,
# a3 Lazy Load, Jetpack, echo.js ...).
LAZY_ATTRS = ("data-src", "data-srcset", "data-lazy-src", "data-lazy-srcset", "data-lazy", "data-original",
              "data-original-set", "data-bg", "data-bgset", "data-bg-src", "data-background",
              "data-background-image", "data-poster", "data-echo", "data-lazyload", "data-iframe-src")
# Of those, the ones that hold a srcset-style list (lazysizes' bgset also separates with "|").
LAZY_LISTS = frozenset({"data-srcset", "data-lazy-srcset", "data-original-set", "data-bgset"})
AUTHOR_MARKERS = ("data-category", "data-cookieconsent", "data-cookiecategory")
# Any of these may make an element author-marked (and so activated under consent).
AUTHOR_MARKS = frozenset({"data-consent", *AUTHOR_MARKERS})
# SVG presentation attributes whose value may be a CSS url() (fill="url(https://x/p.svg#g)").
SVG_URL_PRESENTATION = ("fill", "stroke", "filter", "clip-path", "mask", "marker-start", "marker-mid", "marker-end",
                        "cursor")
# SVG animation elements change another attribute to these values (attributeName=href).
SVG_ANIMATION = frozenset({"set", "animate", "animatetransform", "animatemotion", "discard"})
SVG_ANIMATION_VALUES = ("to", "from", "by", "values")
# Attribute names the fast path must stop at, as prefixes (patterns.py builds its regex
# from these; the Python side checks exact names).
FAST_PATH_ATTRIBUTES = ("style", "background", "on", "ping", "data-consent", "data-category", "data-cookie",
                        *LAZY_ATTRS)
# Inside SVG/MathML, also these exact names (href on any element, url() presentation
# attributes, animation values).
FOREIGN_FAST_PATH_ATTRIBUTES = ("href", "xlink:href", "src", *SVG_URL_PRESENTATION, *SVG_ANIMATION_VALUES)
# Tag names and attribute names the fast path must stop at (see patterns.py).
# Start tags that change the tokenizer's state or the tree-builder simulation.
TEXT_STATE_TAGS = frozenset({"script", "style", "iframe", "svg", "math", "noscript", "template", "title", "textarea",
                             "xmp", "noembed", "noframes", "plaintext", "select", "keygen", "input"})
INTERESTING_TAGS = ALWAYS_ASKED | TEXT_STATE_TAGS | {"meta", "base"}

# Start tags inside <svg>/<math> the scanner must see: fetching SVG elements, integration
# points, nested roots, and every HTML tag that breaks out of foreign content.
BREAKOUT = frozenset({"b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt",
                      "em", "embed", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li",
                      "listing", "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span",
                      "strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var"})
FOREIGN_CONTAINERS = frozenset({"svg", "math", "foreignobject", "desc", "title", "annotation-xml",
                                "mi", "mo", "mn", "ms", "mtext"})
# End tags there that close a tracked element or an HTML ancestor (leaving foreign content).
HTML_ELEMENTS = frozenset({
    "a", "abbr", "address", "article", "aside", "b", "blockquote", "body", "button", "caption", "center",
    "dd", "details", "dialog", "div", "dl", "dt", "em", "fieldset", "figcaption", "figure", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "html", "i", "label", "legend", "li", "main",
    "nav", "noscript", "object", "ol", "p", "br", "pre", "section", "select", "span", "strong",
    "summary", "table", "tbody", "td", "template", "tfoot", "th", "thead", "tr", "u", "ul"})
FOREIGN_END_INTERESTING = FOREIGN_CONTAINERS | HTML_ELEMENTS | {"script", "style"}
# Start tags there the scanner must see; foreign elements with HTML names are tracked so
# that their end tags are not mistaken for an HTML ancestor's.
FOREIGN_INTERESTING = (BREAKOUT | FOREIGN_END_INTERESTING | ALWAYS_ASKED
                       | {"image", "use", "feimage", "font", "a", "area", "input"})


@dataclass(slots=True)
class Inspection:
    asked: bool = False                      # the caller must decide on the element
    urls: list[FetchURL] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)     # attributes a deferral renames
    handlers: list[str] = field(default_factory=list)  # on* attribute names
    author_marked: bool = False


def is_author_marked(attrs: dict[str, str]) -> bool:
    if "data-consent" in attrs:
        return True
    return attrs.get("type", "").strip().lower() == "text/plain" and any(m in attrs for m in AUTHOR_MARKERS)


# Attributes that can make any element fetch or count as author-marked; an element with
# none of them skips those checks (most asked elements: plain img, link, script).
_ANY_ELEMENT_ATTRS = frozenset({"background", "style", "data-consent", "type", *LAZY_ATTRS})
_SRCSET_ATTRS = _SRCSET_ATTRS | LAZY_LISTS


def _lazy_values(attribute: str, value: str) -> list[str]:
    """The URLs a lazy-load attribute holds: a srcset list, a bgset ("a.jpg | b.jpg 2x"), a CSS url()."""
    if "url(" in value.lower() or "\\" in value:
        return css_urls(value)
    if attribute in LAZY_LISTS:
        return [url for part in value.split("|") for url in srcset_urls(part.split("[")[0])]
    return [value]


def _written_urls(attribute: str, value: str) -> list[str] | tuple[str, ...]:
    """The URLs an attribute's value holds, as written (before resolution)."""
    if attribute.startswith("data-"):
        return _lazy_values(attribute, value)
    if attribute in _SRCSET_ATTRS:
        return srcset_urls(value)
    if attribute == "style":
        return css_urls(value)
    if attribute == "ping":
        return value.split()
    return (value,)


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "file"})
_STRIPPED = "".join(map(chr, range(0x21)))


def needs_document_path(url: str) -> bool:
    """Whether resolving ``url`` against an http(s) document depends on more than the
    document's origin: a path-relative reference (``img/a.png``, ``../a``, ``?q``,
    ``#x``, ``""``, ``http:a.png``) does; an absolute, scheme-relative or root-relative one
    (``https://x/a``, ``//x/a``, ``/a``, ``\\a``) does not. Errs towards "depends"."""
    url = url.strip(_STRIPPED).replace("\t", "").replace("\n", "").replace("\r", "")
    if url[:1] in ("/", "\\"):
        return False
    scheme = _SCHEME.match(url)
    if scheme is None:
        return True
    if scheme.group()[:-1].lower() in _SPECIAL_SCHEMES:
        return url[scheme.end():scheme.end() + 1] not in ("/", "\\")
    return False


def depends_on_document_path(attrs: dict[str, str], inspection: Inspection) -> bool:
    """Whether any URL the inspection found was written relative to the document's path."""
    return any(needs_document_path(url) for name in inspection.moved if name in attrs
               for url in _written_urls(name, attrs[name]))


def _add(urls: list[FetchURL], moved: list[str], attribute: str, value: str, base: str | None,
         resolve: URLResolver = resolve) -> None:
    for url in _written_urls(attribute, value):
        if url.strip():
            urls.append(FetchURL(attribute, resolve(url, base)))
    moved.append(attribute)


def inspect_tag(tag: str, attrs: dict[str, str], *, foreign: bool, base: str | None,
                resolve: URLResolver = resolve) -> Inspection:
    """What this start tag fetches or runs; ``attrs`` are decoded, first-wins; URLs are
    resolved against ``base`` with ``resolve`` (the caller's WHATWG resolver, if any)."""
    # Runs for every tag the fast path stops at: plain locals and early outs, no closures.
    urls: list[FetchURL] = []
    moved: list[str] = []
    asked = False
    author_marked = False
    if foreign:
        if tag in _SVG_URL_ELEMENTS:
            asked = True
        if tag != "a":  # an SVG link navigates on a click; any other href may be fetched
            for name in _SVG_URL_ATTRS:
                if name in attrs and attrs[name].strip():
                    asked = True
                    _add(urls, moved, name, attrs[name], base, resolve)
        for name in SVG_URL_PRESENTATION:
            value = attrs.get(name)
            if value and ("(" in value or "\\" in value):
                found = css_urls(value)
                if found:
                    asked = True
                    urls.extend(FetchURL(name, resolve(url, base)) for url in found)
                    moved.append(name)
        if tag in SVG_ANIMATION:
            target = attrs.get("attributename", "").strip().lower()
            for name in SVG_ANIMATION_VALUES:
                value = attrs.get(name)
                if not value:
                    continue
                if target in ("href", "xlink:href", "src"):
                    found = [part for part in value.split(";") if part.strip()]
                else:
                    found = css_urls(value)
                if found:
                    asked = True
                    urls.extend(FetchURL(name, resolve(url.strip(), base)) for url in found)
                    moved.append(name)
    # HTML names inside SVG/MathML fetch nothing in browsers; they get the HTML rules
    # anyway, because a wrong guess about foreign content must not leave them live.
    url_attrs = _URL_ATTRS.get(tag)
    if url_attrs is not None:
        asked = True
        for name in url_attrs:
            if name in attrs and name not in moved:
                _add(urls, moved, name, attrs[name], base, resolve)
        if (tag == "iframe" or tag == "frame") and "srcdoc" in attrs:
            moved.append("srcdoc")
    elif tag == "style":
        asked = True
    elif tag == "input":
        if attrs.get("type", "").strip().lower() == "image":
            asked = True
            if "src" in attrs:
                _add(urls, moved, "src", attrs["src"], base, resolve)
    elif tag == "meta":
        if attrs.get("http-equiv", "").strip().lower() == "refresh":
            refresh = refresh_url(attrs.get("content", ""))
            if refresh:
                asked = True
                urls.append(FetchURL("content", resolve(refresh, base)))
                moved.append("http-equiv")

    if (tag == "a" or tag == "area") and "ping" in attrs:
        # ping is a space-separated list of URLs fetched when the link is followed.
        asked = True
        urls.extend(FetchURL("ping", resolve(value, base)) for value in _written_urls("ping", attrs["ping"]))
        moved.append("ping")
    if not _ANY_ELEMENT_ATTRS.isdisjoint(attrs):
        if "background" in attrs and attrs["background"].strip():
            asked = True
            _add(urls, moved, "background", attrs["background"], base, resolve)
        for name in LAZY_ATTRS:
            if name in attrs and attrs[name].strip():
                asked = True
                _add(urls, moved, name, attrs[name], base, resolve)
        style = attrs.get("style")
        if style:
            style_urls = _written_urls("style", style)
            if style_urls:
                asked = True
                urls.extend(FetchURL("style", resolve(url, base)) for url in style_urls)
                moved.append("style")
        if is_author_marked(attrs):
            asked = True
            author_marked = True
    handlers = [name for name in attrs if name[:2] == "on" and len(name) > 2]
    return Inspection(asked, urls, moved, handlers, author_marked)
