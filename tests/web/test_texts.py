"""Language choice and texts: <html lang>, then Accept-Language, then the site default."""

from __future__ import annotations

import pytest

from proxy.web import LANGUAGES, pick_language, texts_for
from proxy.web.texts import CATEGORY_TEXTS, TEXTS, category_text, parse_accept_language, sniff_html_lang
from web_harness import make_site


def test_every_language_has_every_text() -> None:
    assert set(LANGUAGES) == {"en", "nl", "de", "fr", "es", "it"}
    for lang in LANGUAGES:
        assert TEXTS[lang].keys() == TEXTS["en"].keys(), lang
        assert CATEGORY_TEXTS[lang].keys() == CATEGORY_TEXTS["en"].keys(), lang
        # Translated, not copied: the main choices differ from English outside English.
        if lang != "en":
            assert TEXTS[lang]["reject_all"] != TEXTS["en"]["reject_all"], lang


@pytest.mark.parametrize(
    ("html_lang", "accept", "expected"),
    [
        ("de-AT", "fr", "de"),
        (None, "fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        (None, "pt-BR, es;q=0.5, nl;q=0.7", "nl"),
        ("pt", "it;q=0.1", "it"),
        (None, "pt, ja", "en"),
        (None, None, "en"),
        (None, "nl;q=0, de", "de"),
        ("", "*", "en"),
    ],
)
def test_pick_language(html_lang: str | None, accept: str | None, expected: str) -> None:
    assert pick_language(make_site(), html_lang=html_lang, accept_language=accept) == expected


def test_site_default_and_offered_languages() -> None:
    site = make_site(banner={"languages": ["nl", "en"], "default_language": "nl"})
    assert pick_language(site, html_lang=None, accept_language="pt") == "nl"
    assert pick_language(site, html_lang="de", accept_language="fr") == "nl", "German is not offered here"
    assert pick_language(site, html_lang=None, accept_language="fr, en;q=0.5") == "en"


def test_accept_language_ordering() -> None:
    assert parse_accept_language("en;q=0.5, de, fr;q=0.8") == ["de", "fr", "en"]
    assert parse_accept_language("da, en-gb;q=0.8, en;q=0.7") == ["da", "en", "en"]
    assert parse_accept_language("xx;q=abc") == []


def test_site_overrides_win_and_fall_back_per_key() -> None:
    site = make_site(banner={"texts": {"es": {"accept_all": "Vale", "customize": "Ajustar"}}})
    texts = texts_for(site, "es")
    assert texts["accept_all"] == "Vale" and texts["choose"] == "Ajustar"
    assert texts["reject_all"] == TEXTS["es"]["reject_all"]


def test_category_texts_from_policy_then_builtin() -> None:
    site = make_site(categories={
        "analytics": {"label": {"en": "Audience"}, "description": {}},
        "chat": {"label": {"en": "Live chat"}, "description": {"en": "Talk to us."}},
    })
    assert category_text(site, "analytics", "en") == ("Audience", CATEGORY_TEXTS["en"]["analytics"][1])
    assert category_text(site, "analytics", "de")[0] == CATEGORY_TEXTS["de"]["analytics"][0]
    assert category_text(site, "chat", "fr") == ("Live chat", "Talk to us.")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'<!DOCTYPE html>\n<html lang="de-AT" class="x">', "de-AT"),
        (b"<!doctype html><HTML class='a' LANG='fr'><head>", "fr"),
        (b"<html lang=nl><head>", "nl"),
        (b'<html data-lang="es"><head>', None),
        (b"<html><head><title>lang=en</title>", None),
        (b"<p>no html tag</p>", None),
    ],
)
def test_sniff_html_lang(data: bytes, expected: str | None) -> None:
    assert sniff_html_lang(data) == expected
