"""Tiny fixtures shared by the unit tests (quantize, export): a 4-patient 32x32 phantom and a ngf=4 student file."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sccg_edge.data.phantom import write_phantom_dataset

    root = tmp_path_factory.mktemp("qdata") / "phantom"
    write_phantom_dataset(root, patients=4, size=32, slices=8)
    return root


@pytest.fixture(scope="session")
def tiny_generator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from sccg_edge.models import build_generator
    from sccg_edge.models.loading import save_generator

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("qgen") / "g_mr2ct.safetensors"
    save_generator(build_generator("student-s", ngf=4), path, "mr2ct", 32)
    return path
