"""Shared fixtures of the unit and integration tests: where the real data lives (skipping cleanly when it is absent),
tiny synthetic data and models, and the helpers of the trainer's tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SCCG_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def _require(sub: str) -> Path:
    path = SHARED_DATA / sub
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (set SCCG_SHARED_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The root of ../shared/data (skips the test when absent)."""
    return _require("")


@pytest.fixture(scope="session")
def pairs_root() -> Path:
    """Real co-registered brain CT/MR PNG pairs."""
    return _require("brain-ct-mr-pairs")


@pytest.fixture(scope="session")
def head_ct_dir() -> Path:
    """Real 34-slice head CT DICOM series in HU."""
    return _require("head-ct-dicom")


@pytest.fixture(scope="session")
def porcine_t2_dir() -> Path:
    """Real 16-slice T2 MR DICOM series."""
    return _require("porcine-head-t2-dicom")


@pytest.fixture(scope="session")
def dicom_singles() -> Path:
    """Single real CT/MR DICOM slices."""
    return _require("dicom-singles")


def snapshot(path: Path) -> dict[str, bytes]:
    """Bytes of every file under ``path`` (or of ``path`` itself), to prove inputs are left untouched."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): p.read_bytes() for p in files}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-patient 32x32 phantom (quantize, export, bench, review)."""
    from sccg_edge.data.phantom import write_phantom_dataset

    root = tmp_path_factory.mktemp("qdata") / "phantom"
    write_phantom_dataset(root, patients=4, size=32, slices=8)
    return root


@pytest.fixture(scope="session")
def tiny_generator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ngf=4 student-s generator file (mr2ct, size 32)."""
    import torch

    from sccg_edge.models import build_generator
    from sccg_edge.models.loading import save_generator

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("qgen") / "g_mr2ct.safetensors"
    save_generator(build_generator("student-s", ngf=4), path, "mr2ct", 32)
    return path


@pytest.fixture(scope="session")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny embedded phantom for the trainer and distillation: 3 patients, 6 slices of 32x32."""
    from sccg_edge.data.phantom import write_phantom_dataset

    root = tmp_path_factory.mktemp("phantom") / "data"
    write_phantom_dataset(root, patients=3, size=32, seed=0, slices=6)
    return root


#: ``--set`` flags of a tiny teacher run (ngf 4, one block, 40x40 slices cropped to 32, batch 2, one thread)
TINY = ["--set", "model.ngf=4", "--set", "model.n_blocks=1", "--set", "model.ndf=8", "--set", "data.size=40",
        "--set", "data.crop=32", "--set", "optim.batch_size=2", "--set", "threads=1", "--set", "save_every_steps=1"]


def train_cmd(phantom: Path, out: Path, epochs: int) -> list[str]:
    """``sccg-edge train`` arguments of a tiny run on ``phantom`` into ``out``."""
    return ["train", "--recipe", "cpu", "--data", str(phantom), "--out", str(out), "--epochs", str(epochs), *TINY]


def logged_steps(run: Path) -> list[tuple[int, list[int]]]:
    """(step, batch sample ids) of every step a run logged."""
    recs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [(r["step"], r["batch"]) for r in recs if r["type"] == "step"]
