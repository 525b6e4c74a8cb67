"""Shared fixtures for the catalogue tests: the shipped catalogue and the real-world pages."""

import os
from pathlib import Path

import pytest

from proxy.catalogue import Catalogue

FIXTURES = Path(__file__).parent / "fixtures"
REALWORLD = Path(__file__).resolve().parents[2].parent / "shared" / "realworld"


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return Catalogue.default()


@pytest.fixture(scope="session")
def realworld_pages() -> list[Path]:
    pages = sorted((REALWORLD / "pages").glob("*.html"))
    if not pages:
        if os.environ.get("CI") == "true":
            pytest.fail(f"real-world pages missing at {REALWORLD}/pages (CI=true: not skipping)")
        pytest.skip(f"real-world pages not found at {REALWORLD}/pages")
    return pages
