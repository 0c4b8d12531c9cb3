"""Fidelity-budgeted INT8: NNCF accuracy control keeps the most sensitive layers in FP32 until the PSNR drop
against ground truth on the validation split is within the budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.quantize.calibration import CalibrationSet
from sccg_edge.quantize.card import Pair
from sccg_edge.quantize.config import QuantConfig


def psnr_validation_fn(compiled: Any, items: Any) -> tuple[float, list[float]]:
    """Mean PSNR (0..255) of a compiled OpenVINO model's outputs vs ground truth over (input, gt) pairs."""
    from sccg_edge.metrics.image import psnr

    scores = []
    for x, gt in items:
        out = np.asarray(compiled(x)[0])
        a, b = ((np.clip(v, -1.0, 1.0) + 1.0) * 127.5 for v in (out, gt))
        scores.append(min(psnr(a[0, 0], b[0, 0], 255.0), 100.0))
    return float(np.mean(scores)), scores


def higher_precision_layers(xml: Path) -> list[str]:
    """Friendly names of the convolutions whose weights are not INT8 in an IR."""
    from sccg_edge.export.openvino import import_openvino
    from sccg_edge.quantize.card import _CONV_OV, _ov_weight_kind

    model = import_openvino().Core().read_model(str(xml))
    return [op.get_friendly_name() for op in model.get_ordered_ops()
            if op.get_type_name() in _CONV_OV and _ov_weight_kind(op) != "int8"]


def quantize_openvino_budget(onnx_path: Path, calib: CalibrationSet, val: list[Pair], xml: Path,
                             cfg: QuantConfig) -> dict[str, Any]:
    """``nncf.quantize_with_accuracy_control`` with an absolute PSNR budget of ``cfg.max_psnr_drop`` dB."""
    import nncf

    from sccg_edge.export.openvino import import_openvino, to_openvino

    ov = import_openvino()
    model = ov.convert_model(str(onnx_path))
    preset = nncf.QuantizationPreset.MIXED if cfg.preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE
    quantized = nncf.quantize_with_accuracy_control(
        model, calib.to_nncf(), nncf.Dataset(val), psnr_validation_fn, max_drop=cfg.max_psnr_drop,
        drop_type=nncf.DropType.ABSOLUTE, preset=preset, subset_size=min(cfg.subset_size, len(calib)))
    to_openvino(quantized, xml)
    return {"tool": f"nncf {nncf.__version__} quantize_with_accuracy_control", "max_psnr_drop": cfg.max_psnr_drop,
            "metric": "PSNR vs ground truth (0..255) on the validation split",
            "kept_higher_precision": higher_precision_layers(xml)}
