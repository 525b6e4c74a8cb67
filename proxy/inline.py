"""What a first-party inline script does with a tracker: load or initialise it, or only use it.

The catalogue says which vendors a script *mentions* (its loader signatures, its URLs).
Mentioning is not loading: a form validator calls ``if (window.fbq) fbq('track', 'Lead')``,
a popup helper checks ``typeof gtag === "function"``, a config object names a vendor in a
string, a comment remembers an old snippet. Deferring such a script breaks the page and
protects nothing, because the call goes to a function that only the (deferred) loader
would have defined; the guard gives refused vendors inert stubs, so the call neither
throws nor sends.

So a script is judged to load or initialise a vendor only when, outside comments:

* a string holds one of the vendor's URLs (or a self-hosted copy's file name) and the
  code can fetch it (creates an element, sets ``src``, writes markup, calls fetch/XHR/
  sendBeacon, imports, or passes the string straight to a call);
* a signature (or a vendor URL) sits in a string and the code fetches (snippets whose
  URL is built from pieces: ``'clarity', 'script'``, ``'gtm.start'``);
* code defines the vendor's global: ``window._fbq = ...``, ``function gtag(){...}``,
  ``_linkedin_partner_id = ...`` (a queue stub or the settings its loader reads);
* code calls an init: ``fbq('init', ...)``, ``gtag('config', ...)``, ``ga('create', ...)``,
  ``ttq.load(...)``, ``mixpanel.init(...)``, ``ym(1, 'init', ...)``.

Any other match (a call such as ``fbq('track', ...)``, a guarded use, a name in a string or
a comment) is a use and keeps the script live. Where ``/`` could be a division or a
regular expression the lexer reads code (the reading that defers); an unterminated
comment or string is a syntax error, so nothing after it runs.
This module knows JavaScript lexing, never consent; it imports no aiohttp, mitmproxy, jwt
or pydantic.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Lexed", "ScriptJudge", "judge_for", "lex"]

_MEMO_LENGTH = 8192


class VendorLike(Protocol):
    id: str
    category: str
    signatures: tuple[str, ...] | list[str]


class CatalogueLike(Protocol):
    def vendors_for_script(self, text: str) -> list[VendorLike]: ...  # pragma: no cover - protocol
    def vendor_for_script(self, text: str) -> VendorLike | None: ...  # pragma: no cover - protocol
    def vendor_for_url(self, url: str) -> VendorLike | None: ...  # pragma: no cover - protocol


# -------------------------------------------------------------------------- lexing

_TOKEN = re.compile(
    r"""(?P<line>//|<!--|-->)"""      # single-line comments (HTML-like ones too; --> only first on a line)
    r"""|(?P<block>/\*)"""
    r"""|(?P<quote>["'`])"""
    r"""|(?P<slash>/)"""
)
_STRING_BODY = {
    '"': re.compile(r'(?:[^"\\\n]|\\[\s\S])*+(")?'),
    "'": re.compile(r"(?:[^'\\\n]|\\[\s\S])*+(')?"),
    # Template literals: their ${...} code is read as string (it is rarely where a loader hides;
    # the URL and signature rules still see the text).
    "`": re.compile(r"(?:[^`\\]|\\[\s\S])*+(`)?"),
}
_REGEX_BODY = re.compile(r"(?:[^/\\\[\n]|\\.|\[(?:[^\]\\\n]|\\.)*+\])++/[A-Za-z]*")
# After these, a "/" starts a regular expression literal rather than a division.
_REGEX_AFTER_WORDS = frozenset({"return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw",
                                "case", "do", "else", "yield", "await"})
_WORD_BEFORE = re.compile(r"[A-Za-z_$][\w$]*\Z")


@dataclass(frozen=True)
class Lexed:
    """A script cut into code, strings and comments: ``(start, end, kind)`` spans over the text.

    ``kind`` is ``"s"`` (string or template literal, quotes included), ``"c"`` (comment) or
    ``"r"`` (regular expression literal). Everything between spans is code.
    """

    text: str
    spans: tuple[tuple[int, int, str], ...]

    def kind_at(self, position: int) -> str:
        """``"code"``, ``"s"``, ``"c"`` or ``"r"`` for the character at ``position``."""
        low, high = 0, len(self.spans)
        while low < high:
            middle = (low + high) // 2
            start, end, kind = self.spans[middle]
            if position < start:
                high = middle
            elif position >= end:
                low = middle + 1
            else:
                return kind
        return "code"

    def strings(self) -> Iterable[tuple[int, int]]:
        """Spans of the string literals' contents (without quotes)."""
        for start, end, kind in self.spans:
            if kind == "s":
                closed = end - start >= 2 and self.text[end - 1] == self.text[start]
                yield start + 1, end - 1 if closed else end

    @functools.cached_property
    def code(self) -> str:
        """The text with comments blanked and string/regex contents replaced by spaces
        (same length, so offsets agree; quotes kept so that a string stays visible)."""
        pieces: list[str] = []
        position = 0
        for start, end, kind in self.spans:
            pieces.append(self.text[position:start])
            if kind == "s" and end - start >= 2:
                pieces.append(self.text[start] + " " * (end - start - 2) + self.text[end - 1])
            else:
                pieces.append(" " * (end - start))
            position = end
        pieces.append(self.text[position:])
        return "".join(pieces)


def _regex_allowed(text: str, position: int) -> bool:
    """Whether a "/" at ``position`` starts a regular expression (by the token before it)."""
    index = position - 1
    while index >= 0 and text[index] in " \t\r\n\f\v":
        index -= 1
    if index < 0:
        return True
    char = text[index]
    if char in ")]}" or char.isalnum() or char in "_$\"'`":
        if char.isalnum() or char in "_$":
            word = _WORD_BEFORE.search(text, max(0, index - 40), index + 1)
            return word is not None and word.group() in _REGEX_AFTER_WORDS
        return False
    return True


def lex(text: str) -> Lexed:
    """Find the comments, strings and regular expressions of a script (linear, no recursion)."""
    spans: list[tuple[int, int, str]] = []
    position = 0
    search = _TOKEN.search
    while True:
        match = search(text, position)
        if match is None:
            break
        start = match.start()
        kind = match.lastgroup
        if kind == "line" and match.group() == "-->" and text[text.rfind("\n", 0, start) + 1:start].strip(" \t"):
            end = start + 1  # "x-->y" is code: x-- > y
        elif kind == "line":
            end = text.find("\n", start)
            end = len(text) if end < 0 else end
            spans.append((start, end, "c"))
        elif kind == "block":
            end = text.find("*/", start + 2)
            end = len(text) if end < 0 else end + 2
            spans.append((start, end, "c"))
        elif kind == "quote":
            quote = match.group("quote")
            body = _STRING_BODY[quote].match(text, start + 1)
            assert body is not None
            end = body.end()
            spans.append((start, end, "s"))
        else:  # "/": a division or a regular expression literal
            end = start + 1
            if _regex_allowed(text, start):
                body = _REGEX_BODY.match(text, start + 1)
                if body is not None:
                    end = body.end()
                    spans.append((start, end, "r"))
        position = max(end, start + 1)
    return Lexed(text, tuple(spans))


# -------------------------------------------------------------------------- judging

# Code that can make the browser fetch a URL held in a string (navigation on a click,
# window.open or location, is not a fetch before consent and does not count).
_FETCHES = re.compile(
    # No branch starts with \b: the regex engine can then skip to the possible first characters.
    r"""createElement(?:NS)?\s*\(|\.src\b|src\s*[:=]|\.write(?:ln)?\s*\(|(?:inner|outer)HTML\b|insertAdjacentHTML"""
    r"""|appendChild|insertBefore|\.(?:append|prepend|after|before|replaceWith)\s*\(|fetch\s*\(|sendBeacon"""
    r"""|XMLHttpRequest|Image\s*\(|import\s*\(|importScripts|getScript|\.ajax\s*\(|\.load\s*\(|setAttribute"""
    r"""|(?:\$|jQuery)\.(?:get|post)\s*\(|\.getJSON\s*\(|require(?:js)?\s*\(|define\s*\(|Worker\s*\("""
    # Module scripts: static imports and re-exports fetch their specifier.
    r"""|import\s*["'{*\w$]|from\s*["']""",
)
# A URL inside a string (its escaped slashes undone first), or a file name of a self-hosted copy.
_URL_IN_STRING = re.compile(r"//[^\s'\"`]+")
# A string that starts with the rest of a host name: the script builds a URL from pieces.
_SPLIT_HOST_HINT = re.compile(r"[\"'`]\.[A-Za-z0-9-]+\.[A-Za-z]")
_HOST_AND_PATH = re.compile(r"\.?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/[^\s'\"`]*\Z")
_FILE_NAME = re.compile(r"[^\s'\"`?#]*\.(?:js|php|gif|png|html?|cgi)(?:[?#][^\s'\"`]*)?")
_ESCAPED_SLASH = re.compile(r"\\/|\\x2[Ff]|\\u002[Ff]")
_GLOBAL = r"(?:(?:window|self|globalThis|top|parent)\s*\.\s*)?"
# The identifier chain a signature match belongs to: window.fbq, w.ttq, window['fbq'].
_CHAIN_BEFORE = re.compile(r"(?:[\w$]+\s*\.\s*|[\w$]+\s*\[\s*[\"'][^\"'\n]*[\"']\s*\]\s*\.\s*)*[\w$]*\Z")
_CHAIN_AFTER = re.compile(r"[\w$]*(?:\s*\.\s*[\w$]+|\s*\[\s*[\"'][^\"'\n]*[\"']\s*\])*")
_DEFINITION_BEFORE = re.compile(r"\b(?:function|var|let|const|class)\s+\Z")
_FUNCTION_DEFINITION = re.compile(r"(?:async\s+)?function\s*\*?\s*[\w$]+|class\s+[\w$]+")
_ASSIGNMENT = re.compile(r"\s*(?:[-+*/%&|^]|\?\?|\|\||&&)?=(?![=>])")
_INIT_METHODS = frozenset({"init", "initialize", "initialise", "load", "boot", "start", "setup", "config", "configure",
                           "create", "gettracker", "getasynctracker", "inittracker", "loadscript", "enableservices",
                           "setconfigurations"})
_INIT_ARGUMENTS = frozenset({"init", "config", "create", "js", "load", "boot", "start", "initialize", "setup",
                             "setaccount", "setsiteid", "settrackerurl", "newtracker", "require", "set_account"})
# The first string argument of a call, also the first element of an array argument and the
# second argument after a numeric counter id (ym(123, 'init')).
_FIRST_ARGUMENT = re.compile(r"\(\s*(?:\[\s*)?(?:[\w$.]+\s*,\s*)?([\"'`])([^\"'`\n]{1,40})\1")
_METHOD = re.compile(r"\.\s*([\w$]+)\s*\(")
_CALLEE = re.compile(r"([\w$]+)\s*\Z")
# Calls that navigate, show or log a URL: a string passed to them fetches nothing on load.
_NAVIGATION_CALLS = frozenset({"open", "assign", "replace", "pushState", "replaceState", "alert", "confirm", "prompt",
                               "log", "warn", "error", "info", "debug", "encodeURIComponent", "encodeURI", "escape",
                               "indexOf", "includes", "startsWith", "endsWith", "match", "test", "search", "split",
                               "if", "while", "switch", "return", "typeof"})


def _bare(name: str) -> str:
    """``window.X`` / ``window['X']`` / ``X`` -> ``X`` (spaces and quotes out)."""
    name = re.sub(r"\s+", "", name)
    name = re.sub(r"\[[\"']([^\"']*)[\"']\]", r".\1", name)
    return re.sub(r"^(?:window|self|globalThis|top|parent)\.", "", name)


class ScriptJudge:
    """Decides which vendors an inline script loads or initialises (see the module text)."""

    def __init__(self, catalogue: CatalogueLike) -> None:
        self.catalogue = catalogue
        self._compiled: dict[str, tuple[re.Pattern[str], ...]] = {}
        # Pages repeat their inline snippets on every request: short ones are judged once.
        self._memo = functools.lru_cache(maxsize=2048)(self._loaded)
        self._long: dict[tuple[int, bytes], tuple[VendorLike, ...]] = {}

    def _signatures(self, vendor: VendorLike) -> tuple[re.Pattern[str], ...]:
        found = self._compiled.get(vendor.id)
        if found is None:
            found = self._compiled[vendor.id] = tuple(re.compile(signature) for signature in vendor.signatures)
        return found

    def loaded(self, text: str) -> list[VendorLike]:
        """Vendors the script loads or initialises, in order of first evidence."""
        if len(text) <= _MEMO_LENGTH:
            return list(self._memo(text))
        # Long inline bundles come back on every page too: remembered by digest, not by text.
        key = (len(text), hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).digest())
        found = self._long.get(key)
        if found is None:
            if len(self._long) >= 256:
                self._long.clear()
            found = self._long[key] = self._loaded(text)
        return list(found)

    def _loaded(self, text: str) -> tuple[VendorLike, ...]:
        if self.catalogue.vendor_for_script(text) is None:  # memoised by the catalogue: the common case
            if _SPLIT_HOST_HINT.search(text) is None:
                return ()
            mentioned = []
        else:
            mentioned = self.catalogue.vendors_for_script(text)
        lexed = lex(text)
        code = lexed.code
        known: list[bool] = []

        def fetches() -> bool:
            if not known:
                known.append(_FETCHES.search(code) is not None)
            return known[0]

        found: dict[str, tuple[int, VendorLike]] = {}

        def note(vendor: VendorLike, position: int) -> None:
            if vendor.id not in found or position < found[vendor.id][0]:
                found[vendor.id] = (position, vendor)

        # URLs and file names in strings.
        for start, end in lexed.strings():
            value = text[start:end]
            if "\\" in value:
                value = _ESCAPED_SLASH.sub("/", value)
            if "//" in value:
                candidates = [match.group() for match in _URL_IN_STRING.finditer(value)]
            elif _HOST_AND_PATH.match(value):
                # The host half of a URL put together in code: "https://sb" + ".scorecardresearch.com/beacon.js".
                candidates = ["//" + value.lstrip(".")]
            elif "." in value and len(value) <= 300 and _FILE_NAME.fullmatch(value.strip()):
                candidates = [value.strip()]
            else:
                continue
            for candidate in candidates:
                vendor = self.catalogue.vendor_for_url(candidate)
                if vendor is not None and (fetches() or _is_call_argument(code, start - 1)):
                    note(vendor, start)
                    break
        # Signatures: where they sit and what the code around them does.
        for vendor in mentioned:
            if vendor.id in found:
                continue
            for pattern in self._signatures(vendor):
                for match in pattern.finditer(text):
                    kind = lexed.kind_at(match.start())
                    if kind == "c" or kind == "r" or (kind == "s" and not fetches()):
                        continue
                    if kind == "s" or _initialises(text, code, match.start(), match.end()):
                        note(vendor, match.start())
                        break
                if vendor.id in found:
                    break
        return tuple(vendor for _, vendor in sorted(found.values(), key=lambda item: item[0]))


def _is_call_argument(code: str, quote: int) -> bool:
    """A string passed straight to a call: ``load("https://...")``, ``f(a, '//x/y.js')``."""
    index = quote - 1
    while index >= 0 and code[index] in " \t\r\n":
        index -= 1
    if index < 0:
        return False
    if code[index] == ",":
        depth = 0
        for position in range(index - 1, max(index - 2000, -1), -1):
            char = code[position]
            if char in ")]}":
                depth += 1
            elif char in "([{":
                if depth == 0:
                    if char != "(":
                        return False
                    index = position
                    break
                depth -= 1
            elif char == ";" and depth == 0:
                return False
        else:
            return False
    if code[index] != "(":
        return False
    callee = _CALLEE.search(code, max(0, index - 100), index)
    if callee is None:
        return code[:index].rstrip()[-1:] in (")", "]")  # (function(...){...})(..., "url")
    return callee.group(1) not in _NAVIGATION_CALLS


def _matching_paren(code: str, opening: int) -> int:
    """Index of the ")" closing the "(" at ``opening`` (strings are blanked), or -1."""
    depth = 0
    for position in range(opening, min(len(code), opening + 4000)):
        char = code[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return position
    return -1


def _initialises(text: str, code: str, start: int, end: int) -> bool:
    """Whether the code at a signature match defines the vendor's global or calls an init."""
    if _FUNCTION_DEFINITION.match(code, start):
        return True  # the signature is a definition: function gtag(){dataLayer.push(arguments)}
    before = _CHAIN_BEFORE.search(code, max(0, start - 200), start)
    chain_start = before.start() if before is not None else start
    chain = _CHAIN_AFTER.match(code, start)
    chain_end = chain.end() if chain is not None else start
    name = _bare(code[chain_start:chain_end])
    after = code[chain_end:chain_end + 300]
    if _DEFINITION_BEFORE.search(code, max(0, chain_start - 20), chain_start):
        if not after.lstrip().startswith("="):
            return True  # function fbq() {...}, class X
    assignment = _ASSIGNMENT.match(after)
    if assignment is not None:
        # "window.dataLayer = window.dataLayer || []" (also "var _hsq = window._hsq = window._hsq || []")
        # makes sure a queue exists; it loads nothing and first-party code relies on it.
        rest = after[assignment.end():]
        while True:
            step = re.match(r"\s*" + _GLOBAL + r"([\w$.]+)\s*=(?![=>])", rest)
            if step is None or _bare(step.group(1)) != name:
                break
            rest = rest[step.end():]
        default = re.match(r"\s*\(?\s*" + _GLOBAL + r"([\w$.]+)\s*\|\|", rest)
        return not (default is not None and _bare(default.group(1)) == name)
    # Calls along the chain: an init method (ttq.load, mixpanel.init) or an init argument.
    for method in _METHOD.finditer(code, start, min(len(code), chain_end + 1)):
        if method.group(1).lower() in _INIT_METHODS:
            return True
    call_at = chain_end if code[chain_end:chain_end + 1] == "(" else (end - 1 if code[end - 1:end] == "(" else -1)
    if call_at < 0:
        stripped = len(after) - len(after.lstrip())
        if after[stripped:stripped + 1] == "(":
            call_at = chain_end + stripped
    if call_at < 0:
        return False
    argument = _FIRST_ARGUMENT.match(text, call_at)
    if argument is not None and argument.group(2).strip().lstrip("_").lower() in _INIT_ARGUMENTS:
        return True
    # A chained init after the call: amplitude.getInstance().init(...).
    closing = _matching_paren(code, call_at)
    if closing >= 0:
        chained = _METHOD.match(code, closing + 1)
        if chained is not None and chained.group(1).lower() in _INIT_METHODS:
            return True
    return False


@functools.cache
def judge_for(catalogue: CatalogueLike) -> ScriptJudge:
    """One judge per catalogue (its compiled signatures and memo outlive engine rebuilds)."""
    return ScriptJudge(catalogue)
