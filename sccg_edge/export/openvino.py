"""ONNX file or torch generator -> OpenVINO IR (.xml + .bin), optionally with FP16-compressed weights."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import torch

from sccg_edge.backends import import_runtime

_PURPOSE = "converting to OpenVINO IR"


def to_openvino(onnx_or_model: Any, xml_path: Path, compress_to_fp16: bool = False, size: int = 0) -> Path:
    """Convert and save an OpenVINO IR.

    Args:
        onnx_or_model: an ``.onnx`` path, an ``openvino.Model`` or a torch module (then ``size`` gives the static
            example input 1x1xSxS).
        xml_path: output ``.xml``; the ``.bin`` is written beside it.
        compress_to_fp16: store weights as FP16 (inference still runs in the device's precision unless hinted).
        size: example input size for a torch module.

    Returns:
        ``xml_path``.
    """
    ov = import_runtime("openvino", _PURPOSE)
    xml_path = Path(xml_path)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(onnx_or_model, (str, Path)):
        model = ov.convert_model(str(onnx_or_model))
    elif isinstance(onnx_or_model, ov.Model):
        model = onnx_or_model
    else:
        example = torch.zeros(1, 1, size, size)
        model = ov.convert_model(onnx_or_model, example_input=example, input=[(1, 1, size, size)])
    ov.save_model(model, str(xml_path), compress_to_fp16=compress_to_fp16)
    return xml_path


def ir_op_counts(model_or_xml: Any) -> dict[str, int]:
    """Node count per op type of an OpenVINO model or IR file."""
    ov = import_runtime("openvino", _PURPOSE)
    model = ov.Core().read_model(str(model_or_xml)) if isinstance(model_or_xml, (str, Path)) else model_or_xml
    return dict(Counter(op.get_type_name() for op in model.get_ops()))
