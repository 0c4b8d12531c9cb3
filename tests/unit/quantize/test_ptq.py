from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from sccg_edge.config import QuantConfig
from sccg_edge.errors import ConfigError, InputError
from sccg_edge.quantize import quantize_artifact


def _fp32_ops(path: Path) -> dict[str, str]:
    """Op type -> element type of its first input, from shape inference."""
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    types = {v.name: v.type.tensor_type.elem_type for v in list(model.graph.value_info) + list(model.graph.input)}
    return {n.name: types.get(n.input[0]) if n.input else None for n in model.graph.node}


def test_fp16_onnx_keeps_norm_tanh_and_last_conv_in_fp32(tiny_generator: Path, tiny_data: Path,
                                                         tmp_path: Path) -> None:
    cfg = QuantConfig(mode="fp16", target="tensorrt", size=32, data=str(tiny_data), val_max_slices=4)
    card = quantize_artifact(tiny_generator, "mr2ct", cfg, tmp_path / "fp16")
    path = tmp_path / "fp16" / "model.onnx"
    graph = onnx.load(str(path)).graph
    in_type = _fp32_ops(path)
    fp32 = onnx.TensorProto.FLOAT
    for node in graph.node:
        if node.op_type in ("InstanceNormalization", "Tanh"):
            assert in_type[node.name] == fp32, node.name
    assert card["precision_per_group"]["groups"]["head"] == {"int8": 0, "fp16": 0, "fp32": 1}
    assert card["precision_per_group"]["convs"]["fp16"] > 10
    assert graph.input[0].type.tensor_type.elem_type == fp32
    assert card["fidelity"]["agreement_psnr"] > 45
    assert (tmp_path / "fp16" / "config.yaml").is_file() and (tmp_path / "fp16" / "card.md").is_file()
    assert not (tmp_path / "fp16" / "source-fp32.onnx").exists()
    # the card says what the fidelity was measured on: the synthetic phantom, and on how many slices
    assert card["data"].startswith("SYNTHETIC") and "validation split (4 slices" in card["data"]
    assert "SYNTHETIC" in (tmp_path / "fp16" / "card.md").read_text()


def test_qdq_onnx_has_per_channel_weights_and_runs(tiny_generator: Path, tiny_data: Path, tmp_path: Path) -> None:
    cfg = QuantConfig(mode="int8", target="onnx", size=32, data=str(tiny_data), val_max_slices=4)
    card = quantize_artifact(tiny_generator, "mr2ct", cfg, tmp_path / "qdq")
    model = onnx.load(str(tmp_path / "qdq" / "model.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 10 and ops.count("DequantizeLinear") > 10
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    producers = {o: n for n in model.graph.node for o in n.output}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert convs[0].input[1] in inits  # the stem keeps its float weights
    conv = convs[1]
    dq = producers[conv.input[1]]
    assert dq.op_type == "DequantizeLinear"
    assert inits[dq.input[1]].size == inits[dq.input[0]].shape[0] > 1  # one scale per output channel
    assert inits[dq.input[0]].dtype == np.int8
    makers = {o: n.op_type for n in model.graph.node for o in n.output}  # only convolution inputs are quantized:
    quantized = {makers.get(n.input[0]) for n in model.graph.node if n.op_type == "QuantizeLinear"}
    assert "InstanceNormalization" not in quantized  # no Q/DQ pair right after InstanceNorm (it stays float)
    assert set(card["speed"]["ms"]) == {"onnxruntime int8", "onnxruntime fp32"}
    from sccg_edge.backends import load_backend
    from sccg_edge.backends.cards import onnx_metadata

    # the graph level the file ran fastest at here is measured, recorded in the file, and used by the backend
    chosen = card["method"]["onnxruntime_graph_level"]["chosen"]
    assert set(card["method"]["onnxruntime_graph_level"]["ms_per_slice"]) == {"extended", "all-no-nhwc"}
    assert onnx_metadata(tmp_path / "qdq" / "model.onnx")["ort_graph_level"] == chosen
    backend = load_backend("onnxruntime", tmp_path / "qdq" / "model.onnx")
    assert backend.graph_level == chosen and backend.describe()["graph_level"] == chosen
    want = "ORT_ENABLE_EXTENDED" if chosen == "extended" else "ORT_ENABLE_ALL"
    assert backend.session.get_session_options().graph_optimization_level.name == want
    assert onnx_metadata(tmp_path / "qdq" / "model.onnx")["direction"] == "mr2ct"  # the card's stamp kept both
    # the first and last convolutions (stem, head) stay FP32, every other one is INT8
    assert card["precision_per_group"]["convs"] == {"int8": 16, "fp16": 0, "fp32": 2}
    assert card["precision_per_group"]["groups"]["head"] == {"int8": 0, "fp16": 0, "fp32": 1}
    assert [name.split("/")[1:3] for name in card["method"]["kept_fp32"]] == [["encoder", "stem"], ["head", "head.0"]]
    assert 20 < card["fidelity"]["agreement_psnr"] < 100
    assert card["method"]["calibration_slices"] >= 4
    everything = quantize_artifact(tiny_generator, "mr2ct", replace(cfg, keep_fp32=(), calibrate_method="minmax"),
                                   tmp_path / "qdq-all")
    assert everything["precision_per_group"]["convs"] == {"int8": 18, "fp16": 0, "fp32": 0}
    with pytest.raises(ConfigError, match="keep_fp32"):
        QuantConfig(keep_fp32="tail")


def test_nncf_int8_ir_has_fake_quantize_and_stays_close(tiny_generator: Path, tiny_data: Path,
                                                       tmp_path: Path) -> None:
    from sccg_edge.export.openvino import ir_op_counts

    cfg = QuantConfig(mode="int8", target="openvino", size=32, data=str(tiny_data), val_max_slices=4)
    card = quantize_artifact(tiny_generator, "mr2ct", cfg, tmp_path / "ov8")
    assert ir_op_counts(tmp_path / "ov8" / "model.xml").get("FakeQuantize", 0) > 10
    assert card["precision_per_group"]["convs"]["int8"] == 18
    assert 20 < card["fidelity"]["agreement_psnr"] < 100
    assert abs(card["fidelity"]["psnr_drop"]) < 1.0
    saved = json.loads((tmp_path / "ov8" / "card.json").read_text())
    assert saved["fidelity"]["slices"] == 4


def test_calibration_manifest_is_used_and_checked(tiny_generator: Path, tiny_data: Path, tmp_path: Path) -> None:
    from sccg_edge.data.pairs import list_pairs
    from sccg_edge.data.splits import split_records, write_manifest

    splits = split_records(list_pairs(tiny_data))
    bad = tmp_path / "leak.json"
    write_manifest(splits["calibration"][:3] + splits["test"][:1], bad, "calibration", root=tiny_data)
    cfg = QuantConfig(mode="int8", target="onnx", size=32, data=str(tiny_data), calibration=str(bad))
    with pytest.raises(InputError, match="held-out"):
        quantize_artifact(tiny_generator, "mr2ct", cfg, tmp_path / "never")
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("kind", ["discriminator", "random"])
def test_non_generator_model_is_refused(kind: str, tiny_data: Path, tmp_path: Path) -> None:
    from sccg_edge.models import PatchDiscriminator
    from sccg_edge.models.weights import save_module

    path = tmp_path / "d.safetensors"
    if kind == "discriminator":
        save_module(PatchDiscriminator(ndf=4), path)
    else:
        path.write_bytes(np.random.default_rng(0).bytes(256))
    with pytest.raises(InputError):
        quantize_artifact(path, "mr2ct", QuantConfig(size=32, data=str(tiny_data)), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_config_values_are_refused() -> None:
    with pytest.raises(ConfigError, match="target"):
        QuantConfig(target="coreml")
    with pytest.raises(ConfigError, match="--qat needs --int8"):
        QuantConfig(mode="fp16", qat=True)


def test_cli_quantize_and_calibrate(tiny_generator: Path, tiny_data: Path, tmp_path: Path, capsys) -> None:
    from sccg_edge.cli import app, main
    from sccg_edge.cli import quantize as cli_quantize

    if "quantize" not in {c.name for c in app.registered_commands}:
        cli_quantize.register(app)
    manifest = tmp_path / "c.json"
    assert main(["calibrate", "--data", str(tiny_data), "--out", str(manifest), "--size", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["slices"] == 4
    args = ["quantize", "--model", str(tiny_generator), "--direction", "mr2ct", "--int8", "--target", "onnx",
            "--size", "32", "--data", str(tiny_data), "--calibration", str(manifest), "--out", str(tmp_path / "q"),
            "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["precision"] == "int8"
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args[:-3], "--target", "coreml", "--out", str(tmp_path / "z")]) == 2
