"""Fidelity-budgeted INT8: NNCF accuracy control keeps the most sensitive layers in FP32 until the PSNR drop
against ground truth on the validation split is within the budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.backends import import_runtime
from sccg_edge.backends.inspect import higher_precision_layers
from sccg_edge.config import QuantConfig
from sccg_edge.data.slices import SliceSet
from sccg_edge.export import to_openvino
from sccg_edge.metrics.score import capped_psnr
from sccg_edge.quantize.calibration import CalibrationSet
from sccg_edge.quantize.ptq import nncf_preset


def psnr_validation_fn(compiled: Any, items: Any) -> tuple[float, list[float]]:
    """Mean PSNR (0..255, capped at 100 dB) of a compiled OpenVINO model's outputs vs ground truth over (input, gt)
    pairs; the per-pair values beside it (NNCF's validation function)."""
    scores = [capped_psnr(np.asarray(compiled(x)[0]), gt) for x, gt in items]
    return float(np.mean(scores)), scores


def quantize_openvino_budget(onnx_path: Path, calib: CalibrationSet, val: SliceSet, direction: str, xml: Path,
                             cfg: QuantConfig) -> dict[str, Any]:
    """``nncf.quantize_with_accuracy_control`` with an absolute PSNR budget of ``cfg.max_psnr_drop`` dB on ``val``."""
    import nncf

    ov = import_runtime("openvino", "fidelity-budgeted INT8 quantization")
    model = ov.convert_model(str(onnx_path))
    src, gt = val.pair(direction)
    pairs = [(src[i:i + 1], gt[i:i + 1]) for i in range(len(src))]
    quantized = nncf.quantize_with_accuracy_control(
        model, calib.to_nncf(), nncf.Dataset(pairs), psnr_validation_fn, max_drop=cfg.max_psnr_drop,
        drop_type=nncf.DropType.ABSOLUTE, preset=nncf_preset(cfg), subset_size=min(cfg.subset_size, len(calib)))
    to_openvino(quantized, xml)
    return {"tool": f"nncf {nncf.__version__} quantize_with_accuracy_control", "max_psnr_drop": cfg.max_psnr_drop,
            "metric": "PSNR vs ground truth (0..255) on the validation split",
            "kept_higher_precision": higher_precision_layers(xml)}
