"""What an artifact is made of, read from the file: numeric precision per layer group, and size on disk.

Layer groups follow the generator's module names (``encoder/stem``, ``blocks/block3``, ``decoder/up0``, ``head``),
which the ONNX exporter and OpenVINO keep in node names. ONNX files are read with ``onnx``; OpenVINO IRs with
OpenVINO, imported inside the functions that read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx

from sccg_edge.backends.runtimes import import_runtime

CONV_ONNX = ("Conv", "ConvTranspose")
CONV_OPENVINO = ("Convolution", "GroupConvolution", "ConvolutionBackpropData")
GROUPS = ("head", "encoder", "blocks", "decoder")
QUANT_OPS_ONNX = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvInteger", "MatMulInteger", "QLinearMatMul"}
KINDS = ("int8", "fp16", "fp32")


def layer_group(name: str) -> str:
    """Layer group of a node name: "encoder/stem", "blocks/block3", "decoder/up0", "head", ..."""
    parts = [p for p in name.replace(".", "/").split("/") if p]
    if not parts:
        return "other"
    if parts[0] in ("encoder", "blocks", "decoder") and len(parts) > 1:
        return f"{parts[0]}/{parts[1]}"
    return parts[0] if parts[0] in GROUPS else "other"


def in_groups(name: str, groups: tuple[str, ...] | list[str] | set[str]) -> bool:
    """Whether node ``name`` belongs to one of ``groups`` (whole groups such as "blocks" or members "blocks/block0")."""
    group = layer_group(name)
    return bool({group, group.split("/")[0]} & set(groups))


def onnx_precision(path: Path) -> str:
    """Best guess of an ONNX model's precision from its graph (int8 when it has quantize nodes)."""
    model = onnx.load(str(path), load_external_data=False)
    ops = {node.op_type for node in model.graph.node}
    if ops & QUANT_OPS_ONNX:
        return "int8"
    elem = model.graph.input[0].type.tensor_type.elem_type if model.graph.input else 1
    if elem == onnx.TensorProto.FLOAT16 or any(i.data_type == onnx.TensorProto.FLOAT16
                                                for i in model.graph.initializer):
        return "fp16"
    return "fp32"


def onnx_conv_names(path: Path) -> list[str]:
    """Names of the convolutions of an ONNX file, in graph order."""
    return [n.name for n in onnx.load(str(path)).graph.node if n.op_type in CONV_ONNX]


def onnx_precisions(path: Path) -> dict[str, dict[str, int]]:
    """Per layer group, convs whose weights come from DequantizeLinear (int8), are FP16 (fp16), or FP32."""
    model = onnx.load(str(path))
    producers = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    groups: dict[str, dict[str, int]] = {}
    for node in model.graph.node:
        if node.op_type not in CONV_ONNX:
            continue
        w = node.input[1]
        src = producers.get(w)
        if src is not None and src.op_type == "DequantizeLinear":
            kind = "int8"
        elif w in inits and inits[w].data_type == onnx.TensorProto.FLOAT16:
            kind = "fp16"
        else:
            kind = "fp32"
        groups.setdefault(layer_group(node.name), dict.fromkeys(KINDS, 0))[kind] += 1
    return groups


def _ov_weight_kind(node: Any, depth: int = 5) -> str:
    """int8 / fp16 / fp32 of a convolution's weights, followed back through converts and fake-quantizers."""
    src = node.input_value(1).get_node()
    for _ in range(depth):
        kind = src.get_type_name()
        if kind == "FakeQuantize":
            return "int8"
        if kind == "Constant":
            et = src.get_output_element_type(0).get_type_name()
            return "int8" if et in ("i8", "u8", "i4", "u4") else "fp16" if et == "f16" else "fp32"
        src = src.input_value(0).get_node()
    return "fp32"


def _ir_convs(xml: Path) -> Iterator[tuple[str, str]]:
    """(friendly name, weight kind) of every convolution of an IR, in order."""
    ov = import_runtime("openvino", "reading an OpenVINO IR")
    for op in ov.Core().read_model(str(xml)).get_ordered_ops():
        if op.get_type_name() in CONV_OPENVINO:
            yield op.get_friendly_name(), _ov_weight_kind(op)


def openvino_precisions(xml: Path) -> dict[str, dict[str, int]]:
    """Per layer group, convs whose weights are fake-quantized / int8 (int8), FP16-compressed (fp16) or FP32."""
    groups: dict[str, dict[str, int]] = {}
    for name, kind in _ir_convs(xml):
        groups.setdefault(layer_group(name), dict.fromkeys(KINDS, 0))[kind] += 1
    return groups


def higher_precision_layers(xml: Path) -> list[str]:
    """Friendly names of the convolutions whose weights are not INT8 in an IR."""
    return [name for name, kind in _ir_convs(xml) if kind != "int8"]


def precision_summary(model_file: Path) -> dict[str, Any]:
    """Precision per layer group plus totals for an .onnx or .xml file."""
    model_file = Path(model_file)
    groups = onnx_precisions(model_file) if model_file.suffix == ".onnx" else openvino_precisions(model_file)
    totals = {k: sum(g[k] for g in groups.values()) for k in KINDS}
    return {"convs": totals, "groups": groups}


def size_on_disk(path: str | Path | None) -> int | None:
    """Bytes of an artifact: a file with its OpenVINO ``.bin`` or ONNX external ``.data``, or a whole folder."""
    if path is None:
        return None
    p = Path(path)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    if not p.is_file():
        return None
    files = [p]
    if p.suffix == ".xml" and p.with_suffix(".bin").is_file():
        files.append(p.with_suffix(".bin"))
    if p.suffix == ".onnx":
        files += [f for f in p.parent.glob(p.name + ".data") if f.is_file()]
    return sum(f.stat().st_size for f in files)
