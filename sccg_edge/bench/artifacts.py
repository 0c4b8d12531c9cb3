"""Produce the artifact a benchmark case needs (ONNX, OpenVINO IR, INT8) into a cache folder, on the fly.

The real converters live in :mod:`sccg_edge.export` and :mod:`sccg_edge.quantize`; they are imported lazily. When
they are absent, fp32 ONNX and fp32/fp16-weight OpenVINO IRs are made here with ``torch.onnx.export`` and
``openvino.convert_model``; INT8 and TensorRT engines need those modules, else the case is "unsupported".
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.errors import MissingDependencyError


class Unsupported(Exception):
    """A benchmark case that cannot run here; the message says why (recorded, not raised to the user)."""


def _optional(module: str, attr: str) -> Any | None:
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


def export_onnx_file(model: Any, path: Path, size: int) -> Path:
    """FP32 ONNX of ``model`` for (1, 1, size, size): sccg_edge.export when present, else torch.onnx.export."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    export = _optional("sccg_edge.export.onnx", "export_onnx")
    if export is not None:
        try:
            return Path(export(model, path, size=size))
        except MissingDependencyError as err:
            raise Unsupported(str(err)) from None
    import torch

    x = torch.zeros(1, 1, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (x,), str(path), dynamo=False, opset_version=17, input_names=["x"],
                          output_names=["y"])
    return path


def openvino_ir(onnx_path: Path, xml_path: Path, compress_to_fp16: bool) -> Path:
    """OpenVINO IR of an ONNX file: sccg_edge.export.openvino when present, else openvino.convert_model."""
    if xml_path.is_file():
        return xml_path
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    convert = _optional("sccg_edge.export.openvino", "to_openvino")
    if convert is not None:
        try:
            return Path(convert(onnx_path, xml_path, compress_to_fp16=compress_to_fp16))
        except MissingDependencyError as err:
            raise Unsupported(str(err)) from None
    try:
        import openvino as ov
    except ImportError:
        raise Unsupported("openvino is not installed") from None
    ov.save_model(ov.convert_model(str(onnx_path)), str(xml_path), compress_to_fp16=compress_to_fp16)
    return xml_path


def calibration_set(images: np.ndarray) -> Any:
    """Wrap calibration inputs (N, 1, S, S) in [-1, 1] as the quantizer expects (a CalibrationSet when known)."""
    for module in ("sccg_edge.quantize.calibration", "sccg_edge.quantize.calib", "sccg_edge.quantize"):
        cls = _optional(module, "CalibrationSet")
        if cls is None:
            continue
        for factory in ("from_arrays", "from_array", "from_numpy"):
            if hasattr(cls, factory):
                return getattr(cls, factory)(images)
        return cls(images)
    return images


def int8_artifact(kind: str, fp32_path: Path, out: Path, calib_images: np.ndarray) -> Path:
    """INT8 artifact via sccg_edge.quantize.ptq (``kind``: "openvino" or "onnxruntime")."""
    if out.is_file():
        return out
    name = "quantize_openvino_int8" if kind == "openvino" else "quantize_onnx_qdq"
    func = _optional("sccg_edge.quantize.ptq", name)
    if func is None:
        raise Unsupported(f"int8 needs sccg_edge.quantize.ptq.{name}, which is not available")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = func(fp32_path, calibration_set(calib_images), out)
    except MissingDependencyError as err:
        raise Unsupported(str(err)) from None
    except (TypeError, AttributeError) as err:
        raise Unsupported(f"{name} could not be called ({type(err).__name__}: {err})") from None
    path = Path(result) if isinstance(result, (str, Path)) else out
    if not path.is_file():
        raise Unsupported(f"{name} wrote no file at {path}")
    return path


def tensorrt_engine(onnx_path: Path, out: Path, precision: str) -> Path:
    """TensorRT engine via sccg_edge.export.tensorrt.build_engine (only on a CUDA machine with TensorRT)."""
    if out.is_file():
        return out
    build = _optional("sccg_edge.export.tensorrt", "build_engine")
    if build is None:
        raise Unsupported("no TensorRT engine builder (sccg_edge.export.tensorrt.build_engine) is available")
    try:
        return Path(build(onnx_path, out, precision=precision))
    except MissingDependencyError as err:
        raise Unsupported(str(err)) from None


def case_artifact(backend: str, precision: str, device: str, torch_spec: Path, model: Any, size: int,
                  folder: Path, calib_images: np.ndarray | None) -> tuple[Path, dict[str, Any], str]:
    """(artifact path, backend options, note) for one case; raises :class:`Unsupported`."""
    onnx = folder / f"fp32-{size}.onnx"
    if backend == "torch":
        if precision == "int8":
            raise Unsupported("torch int8 is not benchmarked; use the openvino or onnxruntime int8 artifacts")
        if precision == "fp16" and device != "cuda":
            raise Unsupported("torch fp16 needs CUDA; on CPU use bf16")
        return torch_spec, {"precision": precision}, ""
    if backend == "onnxruntime":
        if precision in ("fp16", "bf16"):
            raise Unsupported(f"ONNX Runtime {precision} is not benchmarked (no fast half kernels on CPU)")
        fp32 = export_onnx_file(model, onnx, size)
        if precision == "int8":
            return int8_artifact("onnxruntime", fp32, folder / f"int8-qdq-{size}.onnx", _need(calib_images)), {}, ""
        return fp32, {}, ""
    if backend == "openvino":
        return _openvino_case(precision, model, size, folder, onnx, calib_images)
    if backend == "tensorrt":
        if precision == "bf16":
            raise Unsupported("TensorRT bf16 is not benchmarked")
        fp32 = export_onnx_file(model, onnx, size)
        return tensorrt_engine(fp32, folder / f"{precision}-{size}.engine", precision), {"precision": precision}, ""
    raise Unsupported(f"unknown backend {backend}")


def _need(calib: np.ndarray | None) -> np.ndarray:
    if calib is None or len(calib) == 0:
        raise Unsupported("int8 needs calibration slices and none were loaded")
    return calib


def _openvino_case(precision: str, model: Any, size: int, folder: Path, onnx: Path,
                   calib: np.ndarray | None) -> tuple[Path, dict[str, Any], str]:
    fp32 = export_onnx_file(model, onnx, size)
    if precision == "fp32":
        return openvino_ir(fp32, folder / f"fp32-{size}.xml", False), {}, ""
    if precision == "int8":
        ir = openvino_ir(fp32, folder / f"fp32-{size}.xml", False)
        return int8_artifact("openvino", ir, folder / f"int8-{size}.xml", _need(calib)), {}, ""
    ir = openvino_ir(fp32, folder / f"fp16-{size}.xml", True)
    import openvino as ov

    caps = list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    hint = precision.upper()
    if hint in caps:
        return ir, {"precision": precision}, ""
    if precision == "bf16":
        raise Unsupported(f"this CPU has no BF16 in OpenVINO (capabilities: {', '.join(caps)})")
    return ir, {}, "fp16 weights, computed in f32 (this CPU has no FP16 compute in OpenVINO)"
