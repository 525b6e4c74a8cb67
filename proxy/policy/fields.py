"""Validators for the single values a config holds: URLs, addresses, names, paths.

Each function takes the value as written and returns it normalised, or raises
ValueError with a message that says what a correct value looks like; the models
in ``model.py`` attach them to fields, so a bad value is reported at its own key.
Standard library only: must not depend on pydantic, aiohttp, mitmproxy, jwt or
``proxy.html``.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from proxy.policy.hosts import parse_host_pattern

__all__ = [
    "check_address",
    "check_category_name",
    "check_consent_path",
    "check_cookie_name",
    "check_kid",
    "check_language",
    "check_network",
    "check_page_url",
    "check_receipts_url",
    "redact_url",
    "check_rule_host",
    "check_script_signature",
    "check_theme_name",
    "check_theme_value",
    "check_upstream",
    "split_address",
]

# RFC 6265 cookie-name token characters, minus the ones that need quoting anywhere.
_COOKIE_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_PATH = re.compile(r"(?:/[A-Za-z0-9._~-]+)+")
_THEME_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
# Anything that could end a CSS declaration or the <style> element it is written into.
_CSS_UNSAFE = re.compile(r"[;{}<>\\\n\r]")


def check_upstream(url: str) -> str:
    """An upstream, ``http(s)://host[:port][/path prefix]``; returned without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f'"{url}" is not an http:// or https:// URL')
    if not parts.hostname:
        raise ValueError(f'"{url}" has no host')
    try:
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise ValueError(f'"{url}" has an invalid port') from None
    if parts.username or parts.password:
        raise ValueError(f'"{url}" contains credentials; the upstream URL must not carry a user or password')
    if parts.query or parts.fragment or url.rstrip("/").endswith(("?", "#")):
        raise ValueError(f'"{url}" has a query or fragment; give an origin and optional path, e.g. "http://127.0.0.1:8000/app"')
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def check_page_url(url: str) -> str:
    """A link shown to visitors: an absolute http(s) URL or a path on the site itself."""
    if url.startswith("/") and not url.startswith("//"):
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f'"{url}" is not an http(s) URL or a path starting with /')
    return url


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}{slash}{tail}"


def check_receipts_url(url: str) -> str:
    """``sqlite:///absolute/path.db``, ``sqlite:relative/path.db`` or ``postgresql://user@host/db``.

    The SQLite forms are the ones ``proxy.receipts`` opens (a relative path is relative
    to the working directory).
    """
    if url.startswith("sqlite:"):
        rest = url.removeprefix("sqlite:")
        if rest.startswith("//") and not rest.startswith("///"):
            raise ValueError(f'"{url}": SQLite has no host; write "sqlite:///absolute/path.db"')
        if rest.strip("/") == "":
            raise ValueError(f'"{url}" needs a file path, e.g. "sqlite:///var/lib/consentry/receipts.db"')
        return url
    if url.startswith(("postgresql://", "postgres://")):
        if not urlsplit(url).hostname and "host=" not in url:
            raise ValueError(f'"{url}" names no database host')
        return url
    raise ValueError(f'"{url}" is not a sqlite:///PATH, sqlite:PATH or postgresql:// URL')


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (IPv6 in brackets) as (host, port); raises ValueError."""
    host, sep, port = address.rpartition(":")
    if not sep or not host:
        raise ValueError(f'"{address}" is not HOST:PORT, e.g. "127.0.0.1:8080"')
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f'"{address}" has an invalid port')
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        ipaddress.IPv6Address(host)
    elif ":" in host:
        raise ValueError(f'"{address}": write an IPv6 address in brackets, e.g. "[::1]:8080"')
    return host, int(port)


def check_address(address: str) -> str:
    split_address(address)
    return address


def check_admin_address(address: str) -> str:
    """``HOST:PORT``, or ``off`` for no admin listener."""
    if address == "off":
        return address
    try:
        split_address(address)
    except ValueError as error:
        raise ValueError(f'{error}; or "off" for no admin listener') from None
    return address


def check_network(text: str) -> str:
    """An IP address or CIDR network, normalised (``10.0.0.0/8``, ``::1/128``)."""
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise ValueError(f'"{text}" is not an IP address or CIDR network such as "10.0.0.0/8"') from None


def check_cookie_name(name: str) -> str:
    if not _COOKIE_NAME.fullmatch(name):
        raise ValueError(f'"{name}" is not a valid cookie name (letters, digits and !#$%&\'*+.^_`|~-)')
    return name


def check_category_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f'"{name}" is not a valid category name (lower case letters, digits, - and _)')
    if name == "allow":
        raise ValueError('"allow" cannot be a category name: unknown_third_party = "allow" means no category')
    return name


def check_language(code: str) -> str:
    if not _LANGUAGE.fullmatch(code):
        raise ValueError(f'"{code}" is not a language code such as "en" or "pt-BR"')
    return code


def check_kid(kid: str) -> str:
    if not _KID.fullmatch(kid):
        raise ValueError(f'"{kid}" is not a valid kid (1-64 letters, digits, ".", "_" or "-")')
    return kid


def check_consent_path(path: str) -> str:
    """The reserved path prefix, without a trailing slash."""
    path = path.rstrip("/")
    if not _PATH.fullmatch(path):
        raise ValueError(f'"{path or "/"}" is not a path prefix such as "/_consent"')
    return path


def check_rule_host(host: str) -> str:
    """A rule's host, normalised like a site's; a rule covers the host and its subdomains."""
    pattern = parse_host_pattern(host)
    if pattern.wildcards or pattern.port is not None:
        raise ValueError(f'"{host}": give a plain host; a rule already covers its subdomains')
    return pattern.host


def check_script_signature(pattern: str) -> str:
    """A regular expression searched for in inline scripts (as the catalogue's signatures are)."""
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ValueError(
            f'"{pattern}" is not a valid regular expression ({error}); '
            "escape . ( ) [ ] with \\, most easily in a 'literal string'"
        ) from None
    if compiled.search(""):
        raise ValueError(f'"{pattern}" matches an empty string, so it would match every inline script')
    return pattern


def check_theme_name(name: str) -> str:
    if not _THEME_NAME.fullmatch(name):
        raise ValueError(f'"{name}" is not a theme name (lower case letters, digits and -, e.g. "accent")')
    return name


def check_theme_value(value: str) -> str:
    if _CSS_UNSAFE.search(value):
        raise ValueError(f'"{value}" contains a character not allowed in a CSS value (; {{ }} < > \\ or a newline)')
    return value


_VARIANT_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_VARIANT_ID_LENGTH = 40


def check_variant_id(value: str) -> str:
    """A banner variant id: kebab-case (lower-case letters and digits joined by single hyphens)."""
    if len(value) > MAX_VARIANT_ID_LENGTH or not _VARIANT_ID.fullmatch(value):
        suggestion = "-".join(re.findall(r"[a-z0-9]+", value.lower()))[:MAX_VARIANT_ID_LENGTH] or "plain-words"
        raise ValueError(
            f'"{value}" is not a kebab-case id of at most {MAX_VARIANT_ID_LENGTH} characters; write e.g. "{suggestion}"'
        )
    return value
