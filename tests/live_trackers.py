"""An independent judge of what is live in a document, for the property and real-page tests.

It parses with html5lib (a WHATWG parser that shares no code with ours), once with
scripting enabled and once disabled (the two readings of <noscript>), walks the tree and
lists every URL or script body that a browser would fetch or execute, the way a browser
decides it: a script runs unless its type is a non-JavaScript type, a link fetches
whatever its rel, a style attribute fetches its url()s, and so on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import html5lib

JS_TYPES = {"", "text/javascript", "application/javascript", "module", "text/ecmascript", "application/ecmascript", "text/jscript", "text/livescript", "application/x-javascript", "text/x-javascript", "text/javascript1.0", "text/javascript1.1", "text/javascript1.2", "text/javascript1.3", "text/javascript1.4", "text/javascript1.5"}
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3|image-set\(\s*(['"])(.*?)\5""", re.IGNORECASE | re.DOTALL)
FETCH_ATTRIBUTES = {
    "img": ("src", "srcset", "data-src", "data-srcset", "data-lazy-src"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "object": ("data",),
    "input": ("src",),
    "link": ("href", "imagesrcset"),
    "a": ("ping",),
    "area": ("ping",),
    "image": ("href", "{http://www.w3.org/1999/xlink}href", "xlink:href"),
    "use": ("href", "{http://www.w3.org/1999/xlink}href", "xlink:href"),
    "feimage": ("href", "{http://www.w3.org/1999/xlink}href", "xlink:href"),
}
LAZY = ("data-src", "data-srcset", "data-lazy-src", "data-bg", "background")


@dataclass(frozen=True)
class Live:
    kind: str      # "url" or "script"
    value: str     # the URL or the script body
    tag: str


def _urls_in_srcset(value: str) -> list[str]:
    return [part.strip().split()[0] for part in value.split(",") if part.strip()]


def _css_urls(text: str) -> list[str]:
    text = re.sub(r"\\([0-9a-fA-F]{1,6})\s?", lambda m: chr(int(m.group(1), 16)), text)
    return [next(g for g in (m.group(2), m.group(4), m.group(6)) if g is not None) for m in CSS_URL.finditer(text)]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def live_things(document: bytes | str, *, scripting: bool, encoding: str | None = None) -> Iterator[Live]:
    parser = html5lib.HTMLParser(namespaceHTMLElements=False)
    kwargs = {"scripting": scripting}
    if isinstance(document, bytes) and encoding:
        kwargs["override_encoding"] = encoding
    tree = parser.parse(document, **kwargs)
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        tag = _local(element.tag)
        attrs = {(_local(k) if not k.startswith("{http://www.w3.org/1999/xlink}") else "xlink:href"): v for k, v in element.attrib.items()}
        if tag == "script":
            script_type = attrs.get("type", "").strip().lower()
            if script_type in JS_TYPES or ("language" in attrs and not script_type):
                if attrs.get("src") is not None:
                    yield Live("url", attrs["src"], tag)
                for key in ("href", "xlink:href"):
                    if attrs.get(key):
                        yield Live("url", attrs[key], tag)
                body = "".join(element.itertext())
                if body.strip() and not attrs.get("src"):
                    yield Live("script", body, tag)
        if tag == "style" and attrs.get("type", "text/css").strip().lower() in ("", "text/css"):
            for url in _css_urls("".join(element.itertext())):
                yield Live("url", url, tag)
        for name in FETCH_ATTRIBUTES.get(tag, ()):
            value = attrs.get(name)
            if value:
                urls = _urls_in_srcset(value) if name in ("srcset", "imagesrcset", "data-srcset") else value.split() if name == "ping" else [value]
                for url in urls:
                    yield Live("url", url, tag)
        for name in LAZY:
            if attrs.get(name):
                yield Live("url", attrs[name].split()[0] if attrs[name].split() else attrs[name], tag)
        if attrs.get("style"):
            for url in _css_urls(attrs["style"]):
                yield Live("url", url, tag)
        if tag == "meta" and attrs.get("http-equiv", "").strip().lower() == "refresh":
            match = re.search(r"url\s*=\s*['\"]?([^'\";]+)", attrs.get("content", ""), re.IGNORECASE)
            if match:
                yield Live("url", match.group(1).strip(), tag)
        for name, value in attrs.items():
            if name.startswith("on") and value.strip():
                yield Live("script", value, tag)
