"""Shared fixtures: where the real data lives, and skipping cleanly when it is absent."""

from __future__ import annotations

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
