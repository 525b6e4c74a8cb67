"""Banner variants in the policy file: what is accepted, and the exact refusals of
`consentry check-config` for unfair variants (rejecting harder than accepting)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from proxy.policy import check_config, load_config

GOOD = """
[sites."shop.example"]
upstream = "http://127.0.0.1:8000"

[[sites."shop.example".banner.variants]]
id = "control"
weight = 1

[[sites."shop.example".banner.variants]]
id = "plain-words"
weight = 3
layout = "box"
first_layer = ["reject_all", "accept_all", "customize"]
[sites."shop.example".banner.variants.texts.en]
accept_all = "Allow all cookies"
reject_all = "Only necessary cookies"
"""


def test_two_fair_variants_load(write_config: Callable[[str], str]) -> None:
    config = load_config(write_config(GOOD))
    variants = config.sites["shop.example"].banner.variants
    assert [(v.id, v.weight, v.layout) for v in variants] == [("control", 1, None), ("plain-words", 3, "box")]
    assert variants[0].first_layer == ["accept_all", "reject_all", "customize"]
    assert variants[1].texts["en"] == {"accept_all": "Allow all cookies", "reject_all": "Only necessary cookies"}


def test_defaults_variants_are_inherited(write_config: Callable[[str], str]) -> None:
    config = load_config(write_config("""
        [[defaults.banner.variants]]
        id = "a"
        weight = 2
        [sites."shop.example"]
        upstream = "http://127.0.0.1:8000"
        """))
    assert [v.id for v in config.sites["shop.example"].banner.variants] == ["a"]


def _problems(write_config: Callable[[str], str], body: str) -> list[str]:
    code, lines = check_config(write_config('[sites."shop.example"]\nupstream = "http://127.0.0.1:8000"\n' + body))
    assert code == 2
    return lines


def test_accept_label_without_reject_label_is_refused(write_config: Callable[[str], str]) -> None:
    assert _problems(write_config, """
[[sites."shop.example".banner.variants]]
id = "pushy"
weight = 1
[sites."shop.example".banner.variants.texts.en]
accept_all = "Yes, make it better"
""") == [
        'site.toml:7: sites."shop.example".banner.variants[0].texts.en: sets an accept_all label but no reject_all: '
        "rejecting must be worded as plainly as accepting; "
        'add reject_all = "Reject all" (or your own plain wording) beside accept_all'
    ]


def test_empty_reject_label_is_refused(write_config: Callable[[str], str]) -> None:
    assert _problems(write_config, """
[[sites."shop.example".banner.variants]]
id = "hidden-no"
weight = 1
[sites."shop.example".banner.variants.texts.de]
accept_all = "Ja"
reject_all = "  "
""") == [
        'site.toml:9: sites."shop.example".banner.variants[0].texts.de.reject_all: empty reject label: '
        "rejecting must be as easy as accepting; give it a label as plain as accept_all, "
        'or remove the key to keep "Alle ablehnen"'
    ]


def test_reject_behind_second_layer_is_refused(write_config: Callable[[str], str]) -> None:
    assert _problems(write_config, """
[[sites."shop.example".banner.variants]]
id = "two-step-no"
weight = 1
first_layer = ["accept_all", "customize"]
""") == [
        'site.toml:7: sites."shop.example".banner.variants[0].first_layer: rejecting would be hidden behind the '
        'second layer while accepting is on the first; add "reject_all" to first_layer '
        '(e.g. ["accept_all", "reject_all", "customize"])'
    ]


def test_ids_weights_layouts_languages_and_keys_are_checked(write_config: Callable[[str], str]) -> None:
    lines = _problems(write_config, """
[[sites."shop.example".banner.variants]]
id = "Plain Words"
weight = 0
layout = "popup"
[sites."shop.example".banner.variants.texts.xx]
title = "Hi"
[sites."shop.example".banner.variants.texts.en]
titel = "Hi"
[[sites."shop.example".banner.variants]]
id = "b"
weight = 1
[[sites."shop.example".banner.variants]]
id = "b"
weight = "2"
""")
    text = "\n".join(lines)
    assert 'banner.variants[0].id: "Plain Words" is not a kebab-case id' in text and '"plain-words"' in text
    assert "banner.variants[0].weight: must be greater than 0" in text
    assert 'banner.variants[0].layout: "popup" is not a layout; use "bar" or "box" or "modal"' in text
    assert 'banner.variants[0].texts.xx: "xx" is not in banner.languages' in text
    assert 'banner.variants[0].texts.en.titel: unknown text "titel"; did you mean "title"?' in text
    assert 'banner.variants[2].id: id "b" is already used by banner.variants[1]' in text
    assert "banner.variants[2].weight: expected an integer" in text
    assert all(line.startswith("site.toml:") for line in lines)


def test_cli_check_config_exit_code_and_stderr(write_config: Callable[[str], str]) -> None:
    name = write_config(GOOD.replace('reject_all = "Only necessary cookies"\n', ""))
    result = subprocess.run([sys.executable, "-m", "proxy", "check-config", name], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "banner.variants[1].texts.en: sets an accept_all label but no reject_all" in result.stderr
