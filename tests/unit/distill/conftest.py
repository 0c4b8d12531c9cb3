"""Fixtures: a tiny teacher model folder and a tiny phantom data set."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def phantom_data(phantom: Path) -> Path:
    """The shared tiny phantom (tests/conftest.py)."""
    return phantom


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory) -> Path:
    import torch

    from sccg_edge.models import build_generator
    from sccg_edge.models.loading import save_generator

    folder = tmp_path_factory.mktemp("teacher") / "teacher"
    folder.mkdir()
    torch.manual_seed(1)
    for direction in ("mr2ct", "ct2mr"):
        save_generator(build_generator("paper", ngf=4, n_blocks=1), folder / f"g_{direction}.safetensors",
                       direction, size=32)
    return folder
