"""The one-pass literal scan in `SignatureIndex` finds exactly what a substring test per signature finds.

The reference below is the straightforward classification (test each
signature's literal with ``in``, then run its regex); the index must report the
same vendors in the same order, including literals that overlap, are prefixes
of each other, or occur so often that the scan switches to substring tests.
"""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.catalogue import Catalogue
from proxy.catalogue.matchers import SCAN_MATCH_BUDGET, SignatureIndex, compile_signature
from proxy.catalogue.vendor import Vendor

# Literals chosen to overlap: "conf" is a prefix of "config", "fig(" starts inside it,
# "onfig.x" overlaps both; "abc" and "abcabc" repeat into each other.
SIGNATURES = {
    "short": [r"conf\w*\.", r"abc"],
    "long": [r"config\.set\(", r"abcabc\d"],
    "inner": [r"fig\(\s*1", r"onfig\.x"],
    "other": [r"window\.zz=\d+"],
    "bounded": [r"\bgax\(", r"\b_tr\b"],
}


def _vendors() -> list[Vendor]:
    return [Vendor(id=name, name=name, category="analytics", signatures=tuple(sigs)) for name, sigs in SIGNATURES.items()]


def _reference(index: SignatureIndex, text: str) -> list[str]:
    """Vendor ids in order of first match, by a substring test and the signature as written."""
    first_seen: dict[str, int] = {}
    for literal, signature, vendor in index._checks:   # signatures as the data file writes them
        if literal not in text:
            continue
        match = re.search(signature, text)
        if match is not None and match.start() < first_seen.get(vendor.id, len(text) + 1):
            first_seen[vendor.id] = match.start()
    return sorted(first_seen, key=first_seen.__getitem__)


def test_prefix_and_overlapping_literals_at_one_offset_are_all_found() -> None:
    index = SignatureIndex(_vendors())
    # "conf" occurs only as the start of the longer "config.set(".
    text = "x.config.set(  ); fig( 1); onfig.x; abcabc7"
    found = [vendor.id for vendor in index.vendors_in(text)]
    assert found == _reference(index, text)
    assert set(found) == {"short", "long", "inner"}


def test_dense_matches_switch_to_substring_tests_without_losing_any() -> None:
    index = SignatureIndex(_vendors())
    # More literal hits than the budget, with the only `window.zz=` match after them.
    text = "abc" * (SCAN_MATCH_BUDGET * 2) + ";window.zz=4"
    found = [vendor.id for vendor in index.vendors_in(text)]
    assert found == _reference(index, text)
    assert "other" in found


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["conf", "ig(", "config.set(", "config.", " 1", "onfig.x", "abc", "7", "window.zz=", "9", ";", "fig(", "gax(", "_tr", "é", "x"]), max_size=60))
def test_scan_agrees_with_one_substring_test_per_signature(pieces: list[str]) -> None:
    index = SignatureIndex(_vendors())
    text = "".join(pieces)
    assert [vendor.id for vendor in index.vendors_in(text)] == _reference(index, text)


def test_shipped_catalogue_scan_agrees_on_concatenated_literals() -> None:
    index = Catalogue.default()._signatures
    literals = [literal for literal, _, _ in index._checks]
    # Every literal, each cut short and whole, glued together: overlaps everywhere.
    text = "".join(literal[: len(literal) // 2] + literal for literal in literals)
    found = [vendor.id for vendor in index.vendors_in(text)]
    assert found == _reference(index, text)
    assert found  # the full literals are present, so signatures without more structure match


def test_the_literal_scan_only_matches_catalogued_literals() -> None:
    index = Catalogue.default()._signatures
    literals = {literal for literal, _, _ in index._checks}
    scan = index._literal_scan
    assert scan is not None
    for literal in literals:
        assert scan.fullmatch(literal) is not None, literal
    assert scan.fullmatch(re.escape("definitely-not-a-tracker")) is None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([sig for vendor in Catalogue.default().vendors.values() for sig in vendor.signatures if sig.startswith("\\b")]),
    st.text(alphabet="ab_1é .(", max_size=4),
    st.text(alphabet="ab_1é .(", max_size=4),
    st.data(),
)
def test_rewritten_leading_boundary_matches_the_same_span(signature: str, before: str, after: str, data: st.DataObject) -> None:
    literal = data.draw(st.from_regex(signature, fullmatch=True).filter(lambda s: len(s) < 80))
    text = before + literal + after
    original = re.search(signature, text)
    rewritten = compile_signature(signature).search(text)
    assert (original and original.span()) == (rewritten and rewritten.span())


def test_leading_boundary_rewrite_keeps_boundary_semantics() -> None:
    rewritten = compile_signature(r"\bga\(")
    assert rewritten.pattern != r"\bga\("  # the rewrite applies here
    assert rewritten.search("ga(").span() == (0, 3)
    assert rewritten.search(" ga(").span() == (1, 4)
    assert rewritten.search("xga(") is None
    assert rewritten.search("éga(") is None  # \w is Unicode-aware on both sides
    assert rewritten.search("é ga(").span() == (2, 5)
    assert compile_signature(r"\bg+x").pattern == r"\bg+x"  # a quantified first character is left alone
