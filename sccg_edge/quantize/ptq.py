"""Post-training INT8: NNCF on OpenVINO IR, and explicitly quantized Q/DQ ONNX through ONNX Runtime.

NNCF, OpenVINO and ONNX Runtime are imported inside the functions that use them (heavy optional runtimes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.backends import import_runtime
from sccg_edge.backends.cards import GRAPH_LEVEL_KEY, record_in_onnx
from sccg_edge.backends.inspect import in_groups, onnx_conv_names
from sccg_edge.backends.speed import time_interleaved
from sccg_edge.config import QuantConfig
from sccg_edge.export import to_openvino
from sccg_edge.quantize.calibration import CalibrationSet

#: the operators a Q/DQ INT8 ONNX quantizes (everything else runs in float between them)
QDQ_OPS = ("Conv", "ConvTranspose")


def nncf_preset(cfg: QuantConfig) -> Any:
    """The NNCF quantization preset of ``cfg.preset`` (performance: symmetric; mixed: asymmetric activations)."""
    import nncf

    return nncf.QuantizationPreset.MIXED if cfg.preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE


def quantize_openvino_int8(onnx_path: Path, calib: CalibrationSet, xml: Path, cfg: QuantConfig) -> dict[str, Any]:
    """NNCF post-training quantization of the FP32 ONNX's OpenVINO model; writes the INT8 IR to ``xml``."""
    import nncf

    ov = import_runtime("openvino", "INT8 quantization for OpenVINO")
    model = ov.convert_model(str(onnx_path))
    quantized = nncf.quantize(model, calib.to_nncf(), preset=nncf_preset(cfg),
                              subset_size=min(cfg.subset_size, len(calib)))
    to_openvino(quantized, xml)
    return {"tool": f"nncf {nncf.__version__} quantize", "preset": cfg.preset, "subset_size": len(calib)}


def quantize_onnx_qdq(onnx_path: Path, calib: CalibrationSet, dst: Path, cfg: QuantConfig) -> dict[str, Any]:
    """Q/DQ ONNX: per-channel symmetric INT8 weights, per-tensor INT8 activations (runs on ORT and TensorRT).

    The FP32 graph is first pre-processed (shape inference and constant folding) so that the InstanceNorm scale
    and bias and the reflection-pad sizes are initializers. The convolutions of the layer groups in
    ``cfg.keep_fp32`` get no Q/DQ nodes. Default: the output convolution before tanh (quantizing the last layer's
    input to 8 bits per tensor costs most of the SSIM on the reference student: SSIM drop 0.012 with it, 0.004
    without it, minmax calibration) and the stem, whose one or four input channels make ONNX Runtime's INT8
    convolution about 2x slower than its FP32 one (student-ps), as is common practice for image-to-image networks.

    Only convolutions get Q/DQ nodes (:data:`QDQ_OPS`): InstanceNorm, reflection Pad and ReLU stay in float between
    a convolution's DequantizeLinear and the next one's QuantizeLinear. Quantizing them as well (ONNX Runtime's
    default) only adds Q/DQ pairs around float kernels (benchmarks/results/2026-12-04_ort_int8). The graph
    optimisation level the file runs fastest at here is measured and recorded in it
    (:func:`record_fastest_graph_level`). Activations stay symmetric INT8 (S8S8), which TensorRT needs and which
    ran as fast as U8S8 on ONNX Runtime.
    """
    import_runtime("onnxruntime", "Q/DQ INT8 quantization")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    pre = Path(dst).with_name(Path(dst).stem + ".pre.onnx")
    quant_pre_process(str(onnx_path), str(pre), skip_symbolic_shape=True)
    excluded = [name for name in onnx_conv_names(pre) if in_groups(name, cfg.keep_fp32)]
    quantize_static(str(pre), str(dst), calib.data_reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=methods[cfg.calibrate_method], nodes_to_exclude=excluded,
                    op_types_to_quantize=list(QDQ_OPS),
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    pre.unlink(missing_ok=True)
    level = record_fastest_graph_level(Path(dst), cfg.size, cfg.speed_rounds)
    return {"tool": "onnxruntime.quantization.quantize_static", "format": "QDQ", "per_channel": True,
            "activations": "int8 per-tensor symmetric", "weights": "int8 per-channel symmetric",
            "calibrate_method": cfg.calibrate_method, "kept_fp32": excluded, "quantized_ops": list(QDQ_OPS),
            **({"onnxruntime_graph_level": level} if level else {})}


def record_fastest_graph_level(path: Path, size: int, rounds: int) -> dict[str, Any] | None:
    """Time a Q/DQ ONNX at ONNX Runtime's "extended" and "all-no-nhwc" graph levels on this CPU (interleaved, the
    runtime's default threads) and record the faster in the file, where the onnxruntime backend reads it.

    Which is faster depends on the model: "extended" runs the float stem and head convolutions unblocked, "all-no-nhwc"
    in the NCHWc layout with reorders around them (measured: student-s and -xs faster at "extended", student-ps at
    "all-no-nhwc"; benchmarks/results/2026-12-05_ort_int8). None (nothing recorded) when ``rounds`` is 0.
    """
    if rounds <= 0:
        return None
    from sccg_edge.backends.onnxruntime_backend import OnnxRuntimeBackend

    runs = {level: OnnxRuntimeBackend(path, graph_level=level) for level in ("extended", "all-no-nhwc")}
    x = np.random.default_rng(0).uniform(-1, 1, (1, 1, size, size)).astype(np.float32)
    ms = time_interleaved(runs, x, rounds=rounds)
    best = min(ms, key=lambda k: ms[k])
    del runs
    record_in_onnx(path, GRAPH_LEVEL_KEY, best)
    return {"chosen": best, "ms_per_slice": ms}
