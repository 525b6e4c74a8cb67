"""``proxy.html.urls.resolve`` takes shortcuts for speed (a memo, plain absolute paths
joined to the base's origin without urljoin); these tests hold it to what urljoin says."""

from __future__ import annotations

from urllib.parse import urljoin

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.html import urls

BASES = ["https://shop.example/", "http://Ex.Example:8080/x/y?q=1#f", "HTTPS://h.example/a/b", "https://u:p@h.example/",
         "https://[::1]/a", "ftp://h.example/dir/", "file:///srv/x", "https://h.example", "http://h.example/;p?q"]
PATH_CHARS = st.sampled_from(list("/./a?#;:%\\ \t\n\x00\x7f[]@bB1-_~") + ["é", "..", "//"])


def _urljoin_reference(url: str, base: str) -> str:
    cleaned = url.strip("\t\n\f\r ").replace("\t", "").replace("\n", "").replace("\r", "")
    try:
        return urljoin(base, cleaned) if cleaned else cleaned
    except ValueError:
        return cleaned


@settings(max_examples=3000, deadline=None)
@given(st.lists(PATH_CHARS, max_size=10).map(lambda parts: "/" + "".join(parts)), st.sampled_from(BASES))
def test_absolute_paths_resolve_as_urljoin_does(path: str, base: str) -> None:
    urls._RESOLVED.clear()  # the first answer is computed, not remembered
    computed = urls.resolve(path, base)
    assert computed == _urljoin_reference(path, base)
    assert urls.resolve(path, base) == computed  # the remembered answer is the same


def test_remembered_answers_follow_the_base() -> None:
    assert urls.resolve("/i/1.jpg", "https://a.example/") == "https://a.example/i/1.jpg"
    assert urls.resolve("/i/1.jpg", "https://b.example/x/") == "https://b.example/i/1.jpg"
    assert urls.resolve("/i/1.jpg", None) == "/i/1.jpg"


def test_memo_stays_bounded() -> None:
    for index in range(urls._RESOLVED_MAX * 2 + 10):
        urls.resolve(f"/p/{index}", "https://shop.example/")
    assert len(urls._RESOLVED) <= urls._RESOLVED_MAX


def test_long_urls_are_resolved_but_not_remembered() -> None:
    urls._RESOLVED.clear()
    long_path = "/" + "a" * (urls._REMEMBERED_LENGTH + 1)
    assert urls.resolve(long_path, "https://shop.example/") == "https://shop.example" + long_path
    assert not urls._RESOLVED
