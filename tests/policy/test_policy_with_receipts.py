"""The seam with proxy.receipts: the default and documented receipt URLs name the files the store opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.policy.model import ReceiptsSettings
from proxy.receipts.store import sqlite_path


def test_default_receipts_url_is_an_absolute_xdg_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert sqlite_path(ReceiptsSettings().url) == str(tmp_path / "state" / "consentry" / "receipts.db")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert sqlite_path(ReceiptsSettings().url) == str(tmp_path / "home" / ".local" / "state" / "consentry" / "receipts.db")


@pytest.mark.parametrize(
    ("url", "path"),
    [("sqlite:///var/lib/consentry/receipts.db", "/var/lib/consentry/receipts.db"), ("sqlite:receipts.db", "receipts.db")],
)
def test_documented_sqlite_forms(url: str, path: str) -> None:
    assert sqlite_path(ReceiptsSettings(url=url).url) == path
