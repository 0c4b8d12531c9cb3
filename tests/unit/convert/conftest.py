"""Fixtures for the convert tests: a tiny random generator pair saved as a model folder."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_SIZE = 32


def make_tiny_model(folder: Path, size: int = TINY_SIZE) -> Path:
    """A model folder with random student-xs (ngf=4) generators of both directions, trained size ``size``."""
    import torch

    from sccg_edge.models import build_generator
    from sccg_edge.models.loading import save_generator

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for direction in ("mr2ct", "ct2mr"):
        save_generator(build_generator("student-xs", ngf=4), folder / f"g_{direction}.safetensors", direction, size)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with g_mr2ct.safetensors and g_ct2mr.safetensors (random weights, size 32)."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny_model"))
