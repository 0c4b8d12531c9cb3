"""CUDA backends (torch fp16/bf16, ONNX Runtime CUDA, TensorRT); skipped without CUDA."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sccg_edge.backends import available_backends, load_backend
from sccg_edge.models import build_generator
from sccg_edge.models.loading import save_generator

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gpu")
    torch.manual_seed(0)
    g = build_generator("student-s", ngf=8, n_blocks=2).eval()
    save_generator(g, root / "g.safetensors", "mr2ct", 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(g, (torch.zeros(1, 1, 64, 64),), str(root / "g.onnx"), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"])
    return {"st": root / "g.safetensors", "onnx": root / "g.onnx", "root": root}


def _x() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (1, 1, 64, 64)).astype(np.float32)


@pytest.mark.parametrize("precision, atol", [("fp32", 1e-3), ("fp16", 0.05), ("bf16", 0.1)])
def test_torch_cuda(precision: str, atol: float, tiny: dict[str, Path]) -> None:
    ref = load_backend("torch", tiny["st"])(_x())
    backend = load_backend("torch", tiny["st"], device="cuda", precision=precision)
    np.testing.assert_allclose(backend(_x()), ref, atol=atol)
    backend.synchronize()


def test_onnxruntime_cuda(tiny: dict[str, Path]) -> None:
    if "onnxruntime" not in available_backends("cuda"):
        pytest.skip("onnxruntime has no CUDAExecutionProvider here")
    ref = load_backend("torch", tiny["st"])(_x())
    np.testing.assert_allclose(load_backend("onnxruntime", tiny["onnx"], device="cuda")(_x()), ref, atol=1e-3)


def test_tensorrt_engine(tiny: dict[str, Path]) -> None:
    trt = pytest.importorskip("tensorrt")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse(tiny["onnx"].read_bytes())
    config = builder.create_builder_config()
    engine_bytes = builder.build_serialized_network(network, config)
    engine = tiny["root"] / "g.engine"
    engine.write_bytes(bytes(engine_bytes))
    ref = load_backend("torch", tiny["st"])(_x())
    backend = load_backend("tensorrt", engine, device="cuda", precision="fp32")
    np.testing.assert_allclose(backend(_x()), ref, atol=1e-2)
