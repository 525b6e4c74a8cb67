"""Loading other data files: errors name the file, the vendor and the key; the digest follows the content."""

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from proxy.catalogue import Catalogue, CatalogueError

MINIMAL = """
[[vendor]]
id = "acme-pixel"
name = "Acme Pixel"
category = "marketing"
hosts = ["pixel.acme.test"]
cookies = ["_acme"]
signatures = ['acmePixel\\.init\\(']
[vendor.cookie_lifetimes]
"_acme" = "1 year"
"""


def vendor(**overrides: Any) -> dict[str, Any]:
    table: dict[str, Any] = {"id": "acme", "name": "Acme", "category": "marketing", "hosts": ["acme.test"]}
    table.update(overrides)
    return table


def test_load_a_file_and_its_digest(tmp_path: Path) -> None:
    path = tmp_path / "vendors.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    catalogue = Catalogue.load(path)
    assert list(catalogue.vendors) == ["acme-pixel"]
    assert catalogue.digest == hashlib.sha256(MINIMAL.encode()).hexdigest()
    assert catalogue.vendor_for_url("https://pixel.acme.test/p.gif").id == "acme-pixel"  # type: ignore[union-attr]
    assert catalogue.vendor_for_script("acmePixel.init(1)").id == "acme-pixel"  # type: ignore[union-attr]
    assert catalogue.vendors["acme-pixel"].cookie_lifetimes["_acme"] == "1 year"
    # One more byte, another digest: receipts can tell vendor lists apart.
    path.write_text(MINIMAL + "\n", encoding="utf-8")
    assert Catalogue.load(path).digest != catalogue.digest


def test_vendor_is_frozen_and_hashable() -> None:
    catalogue = Catalogue.from_dict({"vendor": [vendor()]})
    acme = catalogue.vendors["acme"]
    with pytest.raises(AttributeError):
        acme.category = "necessary"  # type: ignore[misc]
    with pytest.raises(TypeError):
        acme.cookie_lifetimes["x"] = "y"  # type: ignore[index]
    assert {acme: 1}[acme] == 1


def test_from_dict_digest_is_stable_and_content_based() -> None:
    first = Catalogue.from_dict({"vendor": [vendor()]})
    again = Catalogue.from_dict({"vendor": [vendor()]})
    other = Catalogue.from_dict({"vendor": [vendor(name="Acme 2")]})
    assert first.digest == again.digest != other.digest


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (vendor(category="analytic"), "category: 'analytic' is not one of necessary, preferences, analytics, marketing; did you mean 'analytics'?"),
        (vendor(id="Acme_Pixel"), "id: 'Acme_Pixel' must be kebab-case"),
        (vendor(hosts=["https://acme.test"]), "hosts: 'https://acme.test' must not have a scheme; write it as 'acme.test'"),
        (vendor(hosts=["ACME.test"]), "hosts: 'ACME.test' is not a lowercase host"),
        (vendor(signatures=["fbq("]), "signatures: 'fbq(' does not compile"),
        (vendor(signatures=["(fbq)"]), "has a capturing group"),
        (vendor(signatures=["a*"]), "matches the empty string"),
        (vendor(signatures=["a|b"]), "needs a literal of at least 3 characters"),
        (vendor(cookies=["bad cookie"]), "cookies: 'bad cookie' is not a cookie name pattern"),
        (vendor(cookie_lifetimes={"_x": "1 day"}), "cookie_lifetimes: '_x' is not listed in cookies"),
        (vendor(file_names=["a/b.js"]), "file_names: 'a/b.js' must be a file name"),
        (vendor(file_names=["*.js"]), "file_names: '*.js' must be a file name"),
        (vendor(embed="yes"), "embed: expected true or false"),
        (vendor(csp={"script-src": ["http://acme.test"]}), "csp.script-src: expected a list of https://"),
        (vendor(csp={"scripts": ["https://acme.test"]}), "csp: 'scripts' is not a fetch directive"),
        (vendor(colour="red"), "unknown key 'colour'; expected one of "),
        (vendor(signature=["fbq\\("]), "unknown key 'signature'; did you mean 'signatures'?"),
        ({"id": "acme", "name": "Acme", "category": "marketing"}, "missing required key 'hosts'"),
        (vendor(name=""), "name: expected a non-empty string"),
        (vendor(hosts="acme.test"), "hosts: expected a list of non-empty strings"),
        (vendor(hosts=["acme.test", "acme.test"]), "hosts: lists an entry twice"),
    ],
)
def test_bad_vendor_tables_are_refused_with_the_place_and_the_fix(table: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogueError) as error:
        Catalogue.from_dict({"vendor": [table]}, source="site-vendors.toml")
    assert str(error.value).startswith("site-vendors.toml: vendor #1")
    assert message in str(error.value)


def test_duplicate_ids_and_hosts_are_refused() -> None:
    with pytest.raises(CatalogueError, match="vendor id 'acme' is defined twice"):
        Catalogue.from_dict({"vendor": [vendor(), vendor(hosts=["other.test"])]})
    with pytest.raises(CatalogueError, match=r"'acme\.test' is listed by both 'acme' and 'other'"):
        Catalogue.from_dict({"vendor": [vendor(), vendor(id="other")]})


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read the vendor file"):
        Catalogue.load(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[vendor]\nid = 1", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"broken\.toml: .*line 1"):
        Catalogue.load(broken)
    with pytest.raises(CatalogueError, match="unknown top-level key 'vendors'"):
        Catalogue.from_dict({"vendors": []})
    with pytest.raises(CatalogueError, match=r"expected \[\[vendor\]\] tables"):
        Catalogue.from_dict({"version": "1"})


def test_catalogue_imports_no_http_jwt_or_pydantic() -> None:
    # Layering (STYLE.md): the catalogue is standard library only.
    code = (
        "import sys, proxy.catalogue\n"
        "proxy.catalogue.Catalogue.default()\n"
        "bad = [m for m in ('aiohttp', 'mitmproxy', 'jwt', 'pydantic') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""
