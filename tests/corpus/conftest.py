"""Fixtures for the bad-input corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.convert.conftest import make_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with random tiny generators of both directions (fast enough for a 60-case corpus)."""
    return make_tiny_model(tmp_path_factory.mktemp("corpus_model"))
