"""The export stage: a generator -> ONNX, OpenVINO IR or a TensorRT engine, driven by YAML profiles in ``export/``.

The verb is :func:`export_artifact`; :func:`export_onnx`, :func:`to_openvino` and :func:`build_engine` are the single
conversions it is made of (quantize and bench build their artifacts with them). Importing this package imports no
runtime; each conversion imports its own (openvino, tensorrt) when it runs.
"""

from __future__ import annotations

from sccg_edge.export.artifacts import default_out, export_artifact
from sccg_edge.export.onnx import check_onnx_parity, export_onnx, onnx_op_counts
from sccg_edge.export.openvino import ir_op_counts, to_openvino
from sccg_edge.export.tensorrt import build_engine

__all__ = ["build_engine", "check_onnx_parity", "default_out", "export_artifact", "export_onnx", "ir_op_counts",
           "onnx_op_counts", "to_openvino"]
