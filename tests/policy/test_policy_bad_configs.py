"""A file of bad configurations, each with the exact lines ``check-config`` must print for it.

Every documented error appears here at least once: TOML syntax, unknown keys with
did-you-mean, wrong types, invalid URLs and hosts, unknown categories in rules /
vendors / unknown_third_party, duplicate hosts across sites and aliases, missing
secrets and key files, a lifetime beyond the maximum, and several problems at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from proxy.policy import ConfigError, check_config, load_config
from proxy.policy.loader import parse_config

UP = 'upstream = "http://127.0.0.1:8000"'

CASES = [
    pytest.param(
        """
        [sites."shop.example"
        upstream = "http://127.0.0.1:8000"
        """,
        ["site.toml:1: TOML syntax error at column 22: expected ']' at the end of a table declaration"],
        id="toml-syntax-line-and-column",
    ),
    pytest.param(
        """
        [sites."shop.example"]
        upstream = "http://127.0.0.1:8000"
        [sites."shop.example"]
        mode = "strip"
        """,
        ['site.toml:3: TOML syntax error at column 22: cannot declare sites."shop.example" twice'],
        id="toml-table-declared-twice",
    ),
    pytest.param(
        """
        [sites.default]
        upstream = "http://127.0.0.1:8000"
        rules = [
          { category = "analytics", host = "stats.example" }
        """,
        ["site.toml:5: TOML syntax error at the end of the file: unclosed array"],
        id="toml-unclosed-array",
    ),
    pytest.param(
        f"""
        [sites."shop.example"]
        {UP}
        mode = "strp"
        """,
        ['site.toml:3: sites."shop.example".mode: "strp" is not a mode; did you mean "strip"?'],
        id="choice-did-you-mean",
    ),
    pytest.param(
        f"""
        [sites."shop.example"]
        {UP}
        csp = "yes"
        """,
        ['site.toml:3: sites."shop.example".csp: "yes" is not a CSP setting; use "off" or "report" or "enforce"'],
        id="choice-without-close-match",
    ),
    pytest.param(
        """
        [sites."shop.example"]
        upstreem = "http://127.0.0.1:8000"
        """,
        [
            'site.toml:1: sites."shop.example": no upstream; add upstream = "http://host:port" here or in [defaults]',
            'site.toml:2: sites."shop.example".upstreem: unknown key "upstreem"; did you mean "upstream"?',
        ],
        id="unknown-key-did-you-mean",
    ),
    pytest.param(
        f"""
        [sitse."shop.example"]
        {UP}
        """,
        [
            'site.toml: sites: no sites; add a [sites."<host>"] table, or [sites.default] to serve every host',
            'site.toml:1: sitse: unknown key "sitse"; did you mean "sites"?',
        ],
        id="unknown-top-level-table",
    ),
    pytest.param(
        f"""
        [proxy.timeouts]
        conect = 3

        [sites.default]
        {UP}
        """,
        ['site.toml:2: proxy.timeouts.conect: unknown key "conect"; did you mean "connect"?'],
        id="unknown-nested-key",
    ),
    pytest.param(
        f"""
        [sites."shop.example"]
        {UP}
        lifetime_days = "182"
        preserve_host = "yes"
        banner = "off"
        """,
        [
            'site.toml:3: sites."shop.example".lifetime_days: expected an integer, got the string "182"',
            'site.toml:4: sites."shop.example".preserve_host: expected true or false, got the string "yes"',
            'site.toml:5: sites."shop.example".banner: expected a table, got the string "off"',
        ],
        id="wrong-types",
    ),
    pytest.param(
        """
        sites = 5
        """,
        ["site.toml:1: sites: expected a table of sites, got the integer 5"],
        id="sites-not-a-table",
    ),
    pytest.param(
        """
        [sites."shop.example"]
        upstream = "ftp://files.example"
        [sites."news.example"]
        upstream = "http://127.0.0.1:8000/app?x=1"
        [sites."blog.example"]
        upstream = "127.0.0.1:8000"
        [sites."wiki.example"]
        upstream = "http://admin:pw@127.0.0.1:8000"
        """,
        [
            'site.toml:2: sites."shop.example".upstream: "ftp://files.example" is not an http:// or https:// URL',
            'site.toml:4: sites."news.example".upstream: "http://127.0.0.1:8000/app?x=1" has a query or '
            'fragment; give an origin and optional path, e.g. "http://127.0.0.1:8000/app"',
            'site.toml:6: sites."blog.example".upstream: "127.0.0.1:8000" is not an http:// or https:// URL',
            'site.toml:8: sites."wiki.example".upstream: "http://admin:pw@127.0.0.1:8000" contains credentials; '
            "the upstream URL must not carry a user or password",
        ],
        id="invalid-urls",
    ),
    pytest.param(
        f"""
        [sites."shop.example"]
        {UP}
        [sites."shop.example".banner]
        privacy_policy_url = "javascript:alert(1)"
        theme = {{ accent = "red; }} body {{ display: none" }}
        """,
        [
            'site.toml:4: sites."shop.example".banner.privacy_policy_url: "javascript:alert(1)" is not an '
            "http(s) URL or a path starting with /",
            'site.toml:5: sites."shop.example".banner.theme.accent: "red; } body { display: none" contains a '
            "character not allowed in a CSS value (; { } < > \\ or a newline)",
        ],
        id="banner-url-and-css-injection",
    ),
    pytest.param(
        f"""
        [sites."shop.example"]
        {UP}
        unknown_third_party = "marketin"
        vendors."meta-pixel" = {{ category = "social" }}
        vendors.hotjar = {{}}

        [[sites."shop.example".rules]]
        category = "analytics"
        host = "stats.example"
        path_prefix = "/collect"

        [[sites."shop.example".rules]]
        category = "analytcs"
        url_glob = "https://*.tracker.example/*"
        """,
        [
            'site.toml:3: sites."shop.example".unknown_third_party: unknown category "marketin"; '
            'did you mean "marketing"? (or "allow")',
            'site.toml:4: sites."shop.example".vendors.meta-pixel.category: unknown category "social"; '
            "categories: necessary, preferences, analytics, marketing",
            'site.toml:5: sites."shop.example".vendors.hotjar: give category = "<name>" or allow = "always" | "never"',
            'site.toml:13: sites."shop.example".rules[1].category: unknown category "analytcs"; '
            'did you mean "analytics"?',
        ],
        id="unknown-categories",
    ),
    pytest.param(
        f"""
        [sites."shop.example"]
        {UP}
        rules = [{{ category = "marketing", vendor = "acme-ads", host = "ads.acme.example" }}]
        vendors."meta-pixl" = {{ allow = "never" }}
        vendors."acme-ads" = {{ allow = "never" }}
        vendors."zzz-unheard-of" = {{ allow = "always" }}
        """,
        [
            'site.toml:4: sites."shop.example".vendors.meta-pixl: unknown vendor "meta-pixl"; '
            'did you mean "meta-pixel"?',
            'site.toml:6: sites."shop.example".vendors.zzz-unheard-of: unknown vendor "zzz-unheard-of"; '
            "it is neither in the catalogue nor named by a rule's vendor",
        ],
        id="unknown-vendor-ids",
    ),
    pytest.param(
        f"""
        [sites."shop.example"]
        {UP}
        rules = [
          {{ category = "marketing", host = "ads.example", script_signature = 'fbq\\(' }},
          {{ category = "marketing", path_prefix = "/ads" }},
          {{ category = "marketing", host = "ads.example", path_prefix = "ads" }},
          {{ category = "marketing" }},
          {{ category = "marketing", script_signature = "share.init(" }},
          {{ category = "marketing", script_signature = "(x)?" }},
        ]
        """,
        [
            'site.toml:4: sites."shop.example".rules[0]: a rule needs exactly one of host (with optional '
            "path_prefix), url_glob or script_signature; got host, script_signature",
            'site.toml:5: sites."shop.example".rules[1]: path_prefix needs a host',
            'site.toml:6: sites."shop.example".rules[2]: path_prefix "ads" must start with /',
            'site.toml:7: sites."shop.example".rules[3]: a rule needs exactly one of host (with optional '
            "path_prefix), url_glob or script_signature; got none",
            'site.toml:8: sites."shop.example".rules[4].script_signature: "share.init(" is not a valid regular '
            "expression (missing ), unterminated subpattern at position 10); escape . ( ) [ ] with \\, most "
            "easily in a 'literal string'",
            'site.toml:9: sites."shop.example".rules[5].script_signature: "(x)?" matches an empty string, so it '
            "would match every inline script",
        ],
        id="rule-matchers",
    ),
    pytest.param(
        """
        [defaults]
        upstream = "http://127.0.0.1:8000"
        rules = [{ category = "social", host = "share.example" }]

        [sites."shop.example"]
        [sites."news.example"]
        """,
        [
            'site.toml:3: defaults.rules[0].category: unknown category "social"; '
            "categories: necessary, preferences, analytics, marketing",
        ],
        id="inherited-problem-reported-once-at-defaults",
    ),
    pytest.param(
        f"""
        [sites."shop.example"]
        {UP}
        aliases = ["www.shop.example"]

        [sites."bücher.example"]
        {UP}
        aliases = ["WWW.Shop.Example.", "xn--bcher-kva.example"]

        [sites."*.news.example"]
        {UP}
        [sites."*.NEWS.example"]
        {UP}
        """,
        [
            'site.toml:7: sites."bücher.example".aliases[0]: host "WWW.Shop.Example." (www.shop.example) '
            'is already used by sites."shop.example".aliases[0]',
            'site.toml:7: sites."bücher.example".aliases[1]: host "xn--bcher-kva.example" is already used by '
            'sites."bücher.example"',
            'site.toml:11: sites."*.NEWS.example": host "*.NEWS.example" (*.news.example) is already used by '
            'sites."*.news.example"',
        ],
        id="duplicate-hosts",
    ),
    pytest.param(
        f"""
        [sites."shop example"]
        {UP}
        [sites."*.*"]
        {UP}
        [sites."a.*.example"]
        {UP}
        aliases = ["[::1"]
        """,
        [
            'site.toml:1: sites."shop example": "shop example" is not a host name (\'shop example\' is not a '
            'valid host label (letters, digits and hyphens, at most 63)); name a site by its host, or "default"',
            'site.toml:3: sites."*.*": "*.*" is not a host name (a host cannot be only wildcards; use the '
            'default site to catch every host); name a site by its host, or "default"',
            'site.toml:5: sites."a.*.example": "a.*.example" is not a host name (wildcards (*) may only be the '
            'leftmost labels, e.g. *.example.com); name a site by its host, or "default"',
            'site.toml:7: sites."a.*.example".aliases[0]: "[::1" is not a host name (an IPv6 address needs a '
            "closing ])",
        ],
        id="invalid-hosts",
    ),
    pytest.param(
        """
        [defaults]
        aliases = ["x.example"]
        upstream = "http://127.0.0.1:8000"
        [sites."shop.example"]
        """,
        ["site.toml:2: defaults.aliases: aliases belong in a site's own table, not in [defaults]"],
        id="aliases-in-defaults",
    ),
    pytest.param(
        f"""
        [consent]
        lifetime_days = 400

        [sites."shop.example"]
        {UP}
        lifetime_days = 0
        """,
        [
            "site.toml:2: consent.lifetime_days: 400 days is longer than the maximum of 395 (13 months)",
            'site.toml:6: sites."shop.example".lifetime_days: 0 is not a number of days; use 1 to 395',
        ],
        id="lifetime-beyond-maximum",
    ),
    pytest.param(
        f"""
        [[consent.keys]]
        kid = "2026-01"
        secret_env = "POLICY_TEST_MISSING"

        [[consent.keys]]
        kid = "2025-07"
        alg = "ES256"
        public_key_file = "keys/old.pub"

        [[consent.keys]]
        kid = "2026-01"
        secret_env = "POLICY_TEST_SHORT"

        [[consent.keys]]
        kid = "x"
        alg = "EdDSA"
        secret_env = "POLICY_TEST_GOOD"

        [sites.default]
        {UP}
        """,
        [
            "site.toml:3: consent.keys[0].secret_env: environment variable POLICY_TEST_MISSING is not set",
            'site.toml:8: consent.keys[1].public_key_file: cannot read "keys/old.pub": no such file',
            'site.toml:11: consent.keys[2].kid: kid "2026-01" is already used by consent.keys[0]; every key '
            "needs its own kid",
            "site.toml:12: consent.keys[2].secret_env: the HS256 secret is 5 bytes; use at least 32 "
            "(`consentry keys generate --alg HS256` makes one)",
            "site.toml:14: consent.keys[3]: EdDSA uses a key pair, not secret_env; give private_key_file "
            "and/or public_key_file",
        ],
        id="missing-secrets-and-key-files",
    ),
    pytest.param(
        f"""
        [[consent.keys]]
        kid = "verify-only"
        alg = "EdDSA"
        public_key_file = "not-a-key.txt"

        [[consent.keys]]
        kid = "p256"
        alg = "EdDSA"
        private_key_file = "p256.pem"

        [sites.default]
        {UP}
        """,
        [
            "site.toml:1: consent.keys[0]: the first key signs new cookies, so it needs a private key; "
            "put verify-only keys after it",
            'site.toml:4: consent.keys[0].public_key_file: "not-a-key.txt" is not a PEM public key '
            "(no -----BEGIN line)",
            'site.toml:9: consent.keys[1].private_key_file: "p256.pem" holds a EC secp256r1 key; EdDSA needs '
            "an Ed25519 key",
        ],
        id="unusable-key-files",
    ),
    pytest.param(
        f"""
        [[consent.keys]]
        kid = "pair"
        alg = "ES256"
        private_key_file = "p256.pem"
        public_key_file = "other-p256.pub"

        [sites.default]
        {UP}
        unknown_third_party = "Allow"
        """,
        [
            "site.toml:5: consent.keys[0].public_key_file: the public key does not belong to the private key; "
            "give one of them or fix the pair",
            'site.toml:9: sites.default.unknown_third_party: unknown category "Allow"; did you mean "allow"?',
        ],
        id="mismatched-key-pair",
    ),
    pytest.param(
        """
        [sites."shop.example"]
        preserve_host = false
        """,
        ['site.toml:1: sites."shop.example": no upstream; add upstream = "http://host:port" here or in [defaults]'],
        id="no-upstream",
    ),
    pytest.param(
        "",
        ['site.toml: sites: no sites; add a [sites."<host>"] table, or [sites.default] to serve every host'],
        id="empty-file",
    ),
    pytest.param(
        f"""
        [sites."shop.example"]
        {UP}
        [sites."shop.example".banner]
        languages = ["en", "pl"]
        default_language = "de"
        texts.en.titel = "Cookies?"
        texts.fr.title = "Cookies ?"
        """,
        [
            'site.toml:4: sites."shop.example".banner.languages: no built-in texts for "pl"; add '
            "[banner.texts.pl] with title, message, accept_all, reject_all, customize, save, privacy_policy, "
            "always_on",
            'site.toml:5: sites."shop.example".banner.default_language: "de" is not one of banner.languages (en, pl)',
            'site.toml:6: sites."shop.example".banner.texts.en.titel: unknown text "titel"; did you mean "title"?',
            'site.toml:7: sites."shop.example".banner.texts.fr: "fr" is not in banner.languages; add it there '
            "or remove these texts",
        ],
        id="banner-languages-and-texts",
    ),
    pytest.param(
        f"""
        [sites."shop.example"]
        {UP}
        [sites."shop.example".categories.Social]
        label.de = "Sozial"
        [sites."shop.example".categories.newsletter]
        label.de = "Newsletter"
        """,
        [
            'site.toml:3: sites."shop.example".categories.Social: "Social" is not a valid category name '
            "(lower case letters, digits, - and _)",
            'site.toml:5: sites."shop.example".categories.newsletter: no label in "en" (the banner\'s '
            "default_language); add label.en",
        ],
        id="category-names-and-labels",
    ),
    pytest.param(
        """
        [proxy]
        listen = "8080"
        admin_listen = "localhost:99999"
        trusted_proxies = ["10.0.0.0/8", "10.0.0.300"]
        workers = 0
        access_log = "jsn"

        [receipts]
        url = "mysql://db/consent"
        ip_salt_env = "POLICY_TEST_NO_SALT"

        [sites.default]
        upstream = "http://127.0.0.1:8000"
        consent_path = "consent"
        cookie_name = "my cookie"
        """,
        [
            'site.toml:2: proxy.listen: "8080" is not HOST:PORT, e.g. "127.0.0.1:8080"',
            'site.toml:3: proxy.admin_listen: "localhost:99999" has an invalid port; or "off" for no admin listener',
            'site.toml:4: proxy.trusted_proxies[1]: "10.0.0.300" is not an IP address or CIDR network such as '
            '"10.0.0.0/8"',
            "site.toml:5: proxy.workers: must be at least 1, got the integer 0",
            'site.toml:6: proxy.access_log: "jsn" is not a log format; did you mean "json"?',
            'site.toml:9: receipts.url: "mysql://db/consent" is not a sqlite:///PATH, sqlite:PATH or '
            "postgresql:// URL",
            "site.toml:10: receipts.ip_salt_env: environment variable POLICY_TEST_NO_SALT is not set",
            'site.toml:14: sites.default.consent_path: "consent" is not a path prefix such as "/_consent"',
            'site.toml:15: sites.default.cookie_name: "my cookie" is not a valid cookie name '
            "(letters, digits and !#$%&'*+.^_`|~-)",
        ],
        id="global-settings",
    ),
    pytest.param(
        """
        [defaults]
        upstream = "http://127.0.0.1:8000"
        mode = "strp"

        [sites."shop.example"]
        upstreem = "http://x"
        aliases = ["www.shop.example", "Shop.Example"]
        lifetime_days = 400
        rules = [
          { category = "analytics", host = "stats.example" },
          { category = "analytic", url_glob = "*" },
        ]
        """,
        [
            'site.toml:3: defaults.mode: "strp" is not a mode; did you mean "strip"?',
            'site.toml:6: sites."shop.example".upstreem: unknown key "upstreem"; did you mean "upstream"?',
            'site.toml:7: sites."shop.example".aliases[1]: host "Shop.Example" (shop.example) is already used '
            'by sites."shop.example"',
            'site.toml:8: sites."shop.example".lifetime_days: 400 days is longer than the maximum of 395 '
            "(13 months)",
            'site.toml:11: sites."shop.example".rules[1].category: unknown category "analytic"; '
            'did you mean "analytics"?',
        ],
        id="all-problems-at-once-in-file-order",
    ),
]


@pytest.fixture
def key_files(write_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Files and env vars the key cases refer to."""
    monkeypatch.setenv("POLICY_TEST_SHORT", "short")
    monkeypatch.setenv("POLICY_TEST_GOOD", "g" * 40)
    write_config("just some text\n", "not-a-key.txt")
    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_config(p256.decode("ascii"), "p256.pem")
    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_config(other.decode("ascii"), "other-p256.pub")


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_bad_config_reports_exact_problems(
    text: str, expected: list[str], write_config: Callable[..., str], key_files: None
) -> None:
    path = write_config(text)
    status, lines = check_config(path)
    assert (status, lines) == (2, expected)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert [str(problem) for problem in raised.value.problems] == expected
    # The seam the policy fuzz target drives (load_config = read the bytes + parse_config).
    with pytest.raises(ConfigError) as parsed:
        parse_config(Path(path).read_bytes(), name=path, source=Path(path))
    assert [str(problem) for problem in parsed.value.problems] == expected


def test_problem_carries_file_line_and_key_path(write_config: Callable[..., str]) -> None:
    path = write_config('[sites."shop.example"]\nupstream = "http://127.0.0.1:8000"\nmode = "strp"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    (problem,) = raised.value.problems
    assert (problem.file, problem.line, problem.key_path) == ("site.toml", 3, 'sites."shop.example".mode')
    assert problem.message == '"strp" is not a mode; did you mean "strip"?'


def test_missing_file_is_a_problem_not_a_crash(write_config: Callable[..., str]) -> None:
    write_config("")
    assert check_config("nowhere.toml") == (2, ["nowhere.toml: cannot read the file: no such file"])


def test_file_that_is_not_utf8(write_config: Callable[..., str], tmp_path: object) -> None:
    write_config("")
    with open("latin1.toml", "wb") as handle:
        handle.write(b'[sites.default]\nupstream = "http://127.0.0.1:8000"\n# caf\xe9\n')
    assert check_config("latin1.toml") == (2, ["latin1.toml:3: not UTF-8 text; TOML files must be UTF-8"])


def test_ed25519_public_key_may_verify_after_a_signing_key(write_config: Callable[..., str]) -> None:
    """A verify-only key is fine once it is not first: the complement of the unusable-key case."""
    public = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_config(public.decode("ascii"), "old.pub")
    path = write_config(
        f"""
        [[consent.keys]]
        kid = "new"
        secret_env = "CONSENTRY_SECRET"
        [[consent.keys]]
        kid = "old"
        alg = "EdDSA"
        public_key_file = "old.pub"
        [sites.default]
        {UP}
        """
    )
    keys = load_config(path).consent.keys
    assert [(k.kid, k.alg, k.can_sign) for k in keys] == [("new", "HS256", True), ("old", "EdDSA", False)]
    assert keys[1].public_key == public.decode("ascii")
