"""Shared fixtures: where the offline bundle is (when present) and a scratch store."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: a fresh clone without it runs from the committed snapshot."""
    if not (SHARED_DATA / "manifest.json").exists():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA
