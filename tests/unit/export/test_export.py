from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from sccg_edge.backends import load_backend
from sccg_edge.config import ExportConfig, ExportProfile, load_profile, profile_names
from sccg_edge.errors import ConfigError, InputError, MissingDependencyError
from sccg_edge.export.onnx import check_onnx_parity, export_onnx
from sccg_edge.export.openvino import to_openvino
from sccg_edge.models import build_generator


@pytest.fixture(scope="module")
def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_generator("student-s", ngf=4).eval()


def test_onnx_export_is_checked_static_and_matches_torch(tiny_model, tmp_path: Path) -> None:
    path = export_onnx(tiny_model, tmp_path / "m.onnx", 32)
    graph = onnx.load(str(path)).graph
    assert graph.input[0].name == "input" and graph.output[0].name == "output"
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == [1, 1, 32, 32]
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1, 32, 32)).astype(np.float32)
    assert check_onnx_parity(tiny_model, path, x) < 1e-4
    with pytest.raises(ValueError, match="multiples of 4"):
        export_onnx(tiny_model, tmp_path / "bad.onnx", 30)


def test_onnx_dynamic_batch_runs_a_batch(tiny_model, tmp_path: Path) -> None:
    path = export_onnx(tiny_model, tmp_path / "d.onnx", 32, dynamic_batch=True)
    x = np.random.default_rng(1).uniform(-1, 1, (3, 1, 32, 32)).astype(np.float32)
    assert load_backend("onnxruntime", path, threads=1)(x).shape == (3, 1, 32, 32)
    assert check_onnx_parity(tiny_model, path, x) < 1e-4


def test_openvino_fp32_and_fp16_ir_agree(tiny_model, tmp_path: Path) -> None:
    import openvino as ov

    src = export_onnx(tiny_model, tmp_path / "m.onnx", 32)
    x = np.random.default_rng(2).uniform(-1, 1, (1, 1, 32, 32)).astype(np.float32)
    core = ov.Core()
    outs = {}
    for half in (False, True):
        xml = to_openvino(src, tmp_path / f"m{int(half)}.xml", compress_to_fp16=half)
        outs[half] = core.compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]
    ref = load_backend("onnxruntime", src, threads=1)(x)
    assert np.abs(outs[False] - ref).max() < 1e-4
    assert 0 < np.abs(outs[True] - ref).max() < 0.05
    assert (tmp_path / "m1.bin").stat().st_size < 0.7 * (tmp_path / "m0.bin").stat().st_size


def test_shipped_profiles_load_and_bad_ones_are_refused(tmp_path: Path) -> None:
    names = profile_names()
    assert {"rtx-tensorrt-int8", "rtx-tensorrt-fp16", "i7-openvino-int8", "cpu-openvino-fp32",
            "cpu-onnxruntime-int8"} <= set(names)
    prof = load_profile("rtx-tensorrt-int8")
    assert prof.format == "tensorrt" and prof.sizes == (512, 256) and prof.dynamic_batch
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: onnx\nbogus: 1\n")
    with pytest.raises(ConfigError, match="bogus"):
        load_profile(bad)
    with pytest.raises(ConfigError, match="unknown export profile"):
        load_profile("nope")
    with pytest.raises(ConfigError, match="format"):
        ExportProfile(format="coreml")


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed")
def test_tensorrt_missing_names_the_extra(tmp_path: Path) -> None:
    from sccg_edge.export.tensorrt import build_engine

    with pytest.raises(MissingDependencyError, match=r"sccg-edge\[tensorrt\]"):
        build_engine(tmp_path / "m.onnx", tmp_path / "m.engine", ExportProfile(format="tensorrt"))


def test_cli_export_writes_artifact_and_card(tiny_generator: Path, tiny_data: Path, tmp_path: Path, capsys) -> None:
    from sccg_edge.cli import app, main
    from sccg_edge.cli import export as cli_export

    if "export" not in {c.name for c in app.registered_commands}:
        cli_export.register(app)
    out = tmp_path / "art"
    args = ["export", "--model", str(tiny_generator), "--direction", "mr2ct", "--format", "openvino", "--size", "32",
            "--data", str(tiny_data), "--out", str(out), "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["onnx_parity_max_abs"] < 1e-4 and result["fidelity"]["agreement_psnr"] > 60
    assert {"model.xml", "model.bin", "config.yaml", "card.json", "card.md"} <= {p.name for p in out.iterdir()}
    assert main(args) == 2 and "already exists" in capsys.readouterr().err
    assert main([*args[:5], "--format", "tflite", "--out", str(tmp_path / "x")]) == 2


def test_export_refuses_quantized_profile_from_a_generator(tiny_generator: Path, tmp_path: Path) -> None:
    from sccg_edge.export import export_artifact

    with pytest.raises(ConfigError, match="sccg-edge quantize"):
        export_artifact(tiny_generator, ExportConfig("mr2ct", load_profile("i7-openvino-int8")), tmp_path / "o")
    with pytest.raises(InputError):
        export_artifact(tmp_path / "missing.safetensors", ExportConfig("mr2ct", ExportProfile(sizes=(32,))),
                        tmp_path / "o")
