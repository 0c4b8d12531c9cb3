from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sccg_edge.backends import available_backends, backend_for_artifact, load_backend
from sccg_edge.errors import ConfigError, InputError, MissingDependencyError
from sccg_edge.models import build_generator
from sccg_edge.models.loading import save_generator


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    g = build_generator("student-s", ngf=4, n_blocks=2).eval()
    save_generator(g, root / "g.safetensors", "mr2ct", 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(g, (torch.zeros(1, 1, 32, 32),), str(root / "g.onnx"), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "b", 2: "h", 3: "w"}})
    return {"st": root / "g.safetensors", "onnx": root / "g.onnx", "root": root}


def _x(shape: tuple[int, ...] = (2, 1, 32, 32)) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)


def _artifact(name: str, tiny: dict[str, Path]) -> Path:
    if name == "openvino":
        import openvino as ov

        xml = tiny["root"] / "g.xml"
        if not xml.exists():
            ov.save_model(ov.convert_model(str(tiny["onnx"])), str(xml), compress_to_fp16=False)
        return xml
    return tiny["onnx"] if name == "onnxruntime" else tiny["st"]


def test_import_loads_no_runtime() -> None:
    import subprocess

    code = ("import sys, sccg_edge.backends as b; b.available_backends(); "
            "print([m for m in ('openvino', 'onnxruntime', 'tensorrt') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", [n for n in available_backends("cpu") if n != "torch"] + ["torch"])
def test_backend_matches_torch(name: str, tiny: dict[str, Path]) -> None:
    g = build_generator("student-s", ngf=4, n_blocks=2)
    from sccg_edge.models.weights import load_module

    load_module(g, tiny["st"])
    x = _x()
    with torch.no_grad():
        ref = g.eval()(torch.from_numpy(x)).numpy()
    backend = load_backend(name, _artifact(name, tiny), threads=1, direction="mr2ct")
    y = backend(x)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, ref, atol=1e-4)
    assert backend.precision == "fp32"
    # a second shape (OpenVINO recompiles, cached per shape)
    x2 = _x((1, 1, 48, 64))
    with torch.no_grad():
        np.testing.assert_allclose(backend(x2), g(torch.from_numpy(x2)).numpy(), atol=1e-4)


@pytest.mark.parametrize("bad, msg", [
    (np.zeros((1, 1, 32, 32), np.float64), "float32"),
    (np.zeros((1, 32, 32), np.float32), "(B, 1, H, W)"),
    (np.zeros((1, 3, 32, 32), np.float32), "(B, 1, H, W)"),
    (np.full((1, 1, 32, 32), np.nan, np.float32), "NaN"),
    ([[0.0]], "numpy array"),
])
def test_input_validation(bad: object, msg: str, tiny: dict[str, Path]) -> None:
    backend = load_backend("torch", tiny["st"])
    with pytest.raises(InputError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        backend(bad)  # type: ignore[arg-type]


def test_unknown_backend_lists_available(tiny: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="unknown backend 'tflite'.*available here for cpu: .*torch"):
        load_backend("tflite", tiny["st"])


@pytest.mark.skipif("tensorrt" in available_backends("cuda"), reason="TensorRT is installed here")
def test_tensorrt_missing_names_extra(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"not an engine")
    with pytest.raises((MissingDependencyError, ConfigError)) as info:
        load_backend("tensorrt", engine, device="cuda")
    if isinstance(info.value, MissingDependencyError):
        assert "sccg-edge[tensorrt]" in str(info.value) and "available here" in str(info.value)


def test_wrong_artifact_kind(tiny: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="load it with the 'torch' backend"):
        load_backend("onnxruntime", tiny["st"])
    with pytest.raises(InputError, match="loads .xml/.onnx"):
        load_backend("openvino", tiny["st"])
    with pytest.raises(InputError, match="not found"):
        load_backend("onnxruntime", tmp_path / "missing.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot load"):
        load_backend("onnxruntime", broken)


def test_torch_options(tiny: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="fp16 torch inference needs --device cuda"):
        load_backend("torch", tiny["st"], precision="fp16")
    with pytest.raises(ConfigError, match="supports precision"):
        load_backend("torch", tiny["st"], precision="int4")
    bf16 = load_backend("torch", tiny["st"], precision="bf16")
    fp32 = load_backend("torch", tiny["st"])
    x = _x((1, 1, 32, 32))
    assert bf16.precision == "bf16"
    np.testing.assert_allclose(bf16(x), fp32(x), atol=0.1)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            load_backend("torch", tiny["st"], device="cuda")


def test_backend_for_artifact(tiny: dict[str, Path]) -> None:
    assert backend_for_artifact("a/m.onnx") == "onnxruntime"
    assert backend_for_artifact("m.xml") == "openvino"
    assert backend_for_artifact("m.engine") == "tensorrt" and backend_for_artifact("m.plan") == "tensorrt"
    assert backend_for_artifact(tiny["st"]) == "torch"
    assert backend_for_artifact(tiny["root"]) == "torch"
    assert backend_for_artifact("teacher") == "torch"
    with pytest.raises(InputError, match="cannot tell"):
        backend_for_artifact(tiny["root"] / "x.pt")


def test_available_backends() -> None:
    cpu = available_backends("cpu")
    assert "torch" in cpu and "tensorrt" not in cpu
    if not torch.cuda.is_available():
        assert available_backends("cuda") == []


def test_torch_backend_runs_a_module_in_memory_and_keeps_its_mode() -> None:
    """Validation during training runs the live generator through the torch backend: eval for the call only."""
    torch.manual_seed(0)
    g = build_generator("student-s", ngf=4, n_blocks=1, norm="batch").train()
    x = _x()
    backend = load_backend("torch", g)
    y = backend(x)
    assert g.training  # back in training mode after the call
    with torch.no_grad():
        np.testing.assert_allclose(y, g.eval()(torch.from_numpy(x)).numpy(), atol=1e-6)  # computed in eval mode
    assert backend.artifact_path is None and backend.device == "cpu" and backend.precision == "fp32"


def test_torch_backend_threads_apply_to_its_calls_only(tiny: dict[str, Path]) -> None:
    before = torch.get_num_threads()
    backend = load_backend("torch", tiny["st"], threads=1)
    backend(_x())
    assert torch.get_num_threads() == before
