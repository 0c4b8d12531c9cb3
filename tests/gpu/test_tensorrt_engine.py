"""Build and run a TensorRT engine from a tiny generator's ONNX (needs tensorrt and CUDA; skipped otherwise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gpu


def test_engine_builds_and_matches_onnxruntime(tmp_path: Path) -> None:
    pytest.importorskip("tensorrt", reason="tensorrt is not installed (pip install 'sccg-edge[tensorrt]')")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from sccg_edge.backends import load_backend
    from sccg_edge.config import ExportProfile
    from sccg_edge.export.onnx import export_onnx
    from sccg_edge.export.tensorrt import build_engine
    from sccg_edge.models import build_generator

    torch.manual_seed(0)
    onnx_path = export_onnx(build_generator("student-s", ngf=8).eval(), tmp_path / "m.onnx", 64, dynamic_batch=True)
    prof = ExportProfile(format="tensorrt", sizes=(64,), dynamic_batch=True, min_batch=1, opt_batch=2, max_batch=4)
    engine = build_engine(onnx_path, tmp_path / "m.engine", prof)
    assert engine.stat().st_size > 0
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1, 64, 64)).astype(np.float32)
    out = load_backend("tensorrt", engine, device="cuda")(x)
    assert np.abs(out - load_backend("onnxruntime", onnx_path, threads=1)(x)).max() < 1e-2
