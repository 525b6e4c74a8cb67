"""Fixtures for the policy tests: a config file in a temporary directory, and a known secret."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

GOOD_SECRET = "s3cr3t-" + "x" * 40


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid CONSENTRY_SECRET unless a test removes it: most files rely on the zero-config key."""
    monkeypatch.setenv("CONSENTRY_SECRET", GOOD_SECRET)
    for name in list(os.environ):
        if name.startswith("POLICY_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Write TOML (dedented) to ``site.toml`` in a temporary working directory; returns "site.toml".

    Working from the file's directory keeps problem lines short and exact: ``site.toml:3: ...``.
    """
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "site.toml") -> str:
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return name

    return write
