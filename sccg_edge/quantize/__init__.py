"""The quantize stage: calibration sets and FP16 / INT8 (PTQ, fidelity-budgeted, QAT) artifacts with model cards.

The verb is :func:`quantize_artifact`; :func:`quantize_onnx` turns an FP32 ONNX file into one FP16 / INT8 model file
(what bench builds its cases with). Importing this package imports no inference runtime.
"""

from __future__ import annotations

from sccg_edge.quantize.artifact import calibration_set, quantize_artifact, quantize_onnx
from sccg_edge.quantize.calibration import CalibrationSet, read_calibration_manifest, write_calibration_manifest
from sccg_edge.quantize.defaults import DEFAULT_MODEL, default_out, fastest_int8_target, quantize_directions

__all__ = ["DEFAULT_MODEL", "CalibrationSet", "calibration_set", "default_out", "fastest_int8_target",
           "quantize_artifact", "quantize_directions", "quantize_onnx", "read_calibration_manifest", "write_calibration_manifest"]
