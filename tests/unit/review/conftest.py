"""A tiny study and gallery on the 32x32 phantom: two generator pairs (ngf 4), built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def review_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two model folders, each holding both directions, at size 32."""
    import torch

    from sccg_edge.models import build_generator
    from sccg_edge.models.loading import save_generator

    root = tmp_path_factory.mktemp("review-models")
    out = {}
    for seed, name in enumerate(("alpha", "beta")):
        torch.manual_seed(seed)
        (root / name).mkdir()
        for d in ("mr2ct", "ct2mr"):
            save_generator(build_generator("student-s", ngf=4), root / name / f"g_{d}.safetensors", d, 32)
        out[name] = root / name
    return out


@pytest.fixture(scope="session")
def review_study(tiny_data: Path, review_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-reader study of both models on 2 test slices (written by `make_study`)."""
    from sccg_edge.review.study import StudyConfig, make_study

    out = tmp_path_factory.mktemp("review-study") / "study"
    models = ",".join(f"{k}={v}" for k, v in review_models.items())
    make_study(StudyConfig(models=models, readers=3, data=str(tiny_data), slices=2, seed=7), out)
    return out
