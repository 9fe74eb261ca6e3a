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


@pytest.fixture(scope="session")
def built_store(tmp_path_factory) -> Path:
    """The bundled real snapshot built once into a scratch store (returns the db path)."""
    from llmcarto.store.build import build

    db = tmp_path_factory.mktemp("store") / "llmcarto.duckdb"
    report = build(db)
    assert report.readable > 0
    return db


@pytest.fixture()
def published(built_store: Path):
    """A read-only connection to the published copy of the built store."""
    from llmcarto.store import open_published

    con = open_published(built_store)
    yield con
    con.close()
