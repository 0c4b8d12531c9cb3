"""Fixtures of the trainer tests: a tiny embedded phantom."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def phantom(tmp_path_factory) -> Path:
    from sccg_edge.data.phantom import write_phantom_dataset

    root = tmp_path_factory.mktemp("phantom") / "data"
    write_phantom_dataset(root, patients=3, size=32, seed=0, slices=6)
    return root
