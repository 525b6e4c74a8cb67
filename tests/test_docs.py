"""The documents a new user reads agree with the product: every command documented with an
example, the README's links resolve, the Docker instructions say the same thing in both
places, and what the commands write by default is ignored by git."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from proxy import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def commands() -> list[str]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


@pytest.mark.parametrize("name", commands())
def test_every_command_has_a_section_with_an_example(name):
    sections = re.split(r"^## ", CLI_DOC, flags=re.M)
    section = next((s for s in sections if s.startswith(f"`consentry {name}")), None)
    if section is None:
        pytest.fail(f"docs/cli.md has no '## `consentry {name}`' section")
    examples = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert any(f"consentry {name}" in block for block in examples), f"no example of consentry {name}"


def test_every_option_has_help_text():
    parser = cli.build_parser()

    def walk(p):
        yield p
        for action in p._actions:
            if action.choices and isinstance(action.choices, dict):
                for sub in action.choices.values():
                    yield from walk(sub)

    for p in walk(parser):
        for action in p._actions:
            if action.choices and isinstance(action.choices, dict):
                continue   # the subcommand list: each choice has its own help
            assert action.help, f"{p.prog}: {action.option_strings or action.dest} has no help text"


def test_readme_links_resolve():
    for target in re.findall(r"\]\(((?:docs|config)/[^)#]+)", README):
        assert (ROOT / target).exists(), target
    assert "docs/openapi.json" in README and "docs/cli.md" in README
    assert "shared design" not in README   # no pointer to a file outside the repository


def test_docker_instructions_agree():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")

    def run_line(text: str) -> str:
        block = re.search(r"docker run (.*?consentry)\s*$", text, flags=re.S | re.M)
        assert block is not None
        return " ".join(block.group(1).replace("\\", " ").replace("#", " ").split())

    assert run_line(dockerfile) == run_line(README)
    assert 'CMD ["run", "--config", "/etc/consentry/consentry.toml"]' in dockerfile
    assert "/etc/consentry/consentry.toml" in README


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_default_outputs_are_ignored():
    outputs = ["audit.jsonl", "audit.html", "receipts.db", "receipts.db-wal", "safe.html", "what-happened.jsonl",
               "2026-12-01-abc123.pem", "receipts.csv"]
    result = subprocess.run(["git", "check-ignore", *outputs], cwd=ROOT, capture_output=True, text=True, check=False)
    assert sorted(result.stdout.split()) == sorted(outputs)
