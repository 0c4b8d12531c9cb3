"""Produce the artifact a benchmark case needs (ONNX, OpenVINO IR, INT8, TensorRT engine) into a cache folder.

Every conversion is the project's own, through the public functions of the export and quantize stages
(:func:`sccg_edge.export.export_onnx`, :func:`~sccg_edge.export.to_openvino`, :func:`~sccg_edge.export.build_engine`,
:func:`sccg_edge.quantize.quantize_onnx`), so a benchmarked artifact is exactly what ``sccg-edge export`` /
``sccg-edge quantize`` would ship. A case that cannot run here is raised as :class:`Unsupported` and recorded in the
results with its reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.backends.runtimes import openvino_cpu_capabilities
from sccg_edge.config import ExportProfile, QuantConfig
from sccg_edge.errors import MissingDependencyError
from sccg_edge.export import build_engine, export_onnx, to_openvino
from sccg_edge.quantize import CalibrationSet, quantize_onnx


class Unsupported(Exception):
    """A benchmark case that cannot run here; the message says why (recorded, not raised to the user)."""


def export_onnx_file(model: Any, path: Path, size: int) -> Path:
    """FP32 ONNX of ``model`` for (1, 1, size, size), cached at ``path``."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(model, path, size=size)
    return path


def openvino_ir(onnx_path: Path, xml_path: Path, compress_to_fp16: bool) -> Path:
    """OpenVINO IR of an ONNX file (FP16-compressed weights when asked), cached at ``xml_path``."""
    if not xml_path.is_file():
        xml_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            to_openvino(onnx_path, xml_path, compress_to_fp16=compress_to_fp16)
        except MissingDependencyError as err:
            raise Unsupported(str(err)) from None
    return xml_path


def int8_artifact(kind: str, onnx_path: Path, out: Path, calib_images: np.ndarray) -> Path:
    """INT8 artifact of the FP32 ONNX: NNCF PTQ IR (``kind`` "openvino") or Q/DQ ONNX ("onnxruntime")."""
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    calib = CalibrationSet([x[None] for x in calib_images])
    cfg = QuantConfig(mode="int8", target="openvino" if kind == "openvino" else "onnx",
                      size=int(calib_images.shape[-1]))
    try:
        quantize_onnx(onnx_path, out, cfg, calib)
    except MissingDependencyError as err:
        raise Unsupported(str(err)) from None
    return out


def fp16_onnx(onnx_path: Path, out: Path, size: int) -> Path:
    """FP16 ONNX for TensorRT (InstanceNormalization, the last conv and tanh kept in FP32)."""
    if not out.is_file():
        quantize_onnx(onnx_path, out, QuantConfig(mode="fp16", target="onnx", size=size))
    return out


def tensorrt_engine(onnx_path: Path, out: Path, precision: str, size: int) -> Path:
    """TensorRT engine of an ONNX graph (only on a CUDA machine with TensorRT installed)."""
    if out.is_file():
        return out
    try:
        return Path(build_engine(onnx_path, out, ExportProfile(name=f"bench-{precision}", format="tensorrt",
                                                               precision=precision, sizes=(size,))))
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
        graph = export_onnx_file(model, onnx, size)  # strongly typed: the graph carries the precision
        if precision == "int8":
            graph = int8_artifact("onnxruntime", graph, folder / f"int8-qdq-{size}.onnx", _need(calib_images))
        elif precision == "fp16":
            graph = fp16_onnx(graph, folder / f"fp16-{size}.onnx", size)
        engine = tensorrt_engine(graph, folder / f"{precision}-{size}.engine", precision, size)
        return engine, {"precision": precision}, ""
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
        return int8_artifact("openvino", fp32, folder / f"int8-{size}.xml", _need(calib)), {}, ""
    ir = openvino_ir(fp32, folder / f"fp16-{size}.xml", True)
    caps = openvino_cpu_capabilities()
    hint = precision.upper()
    if hint in caps:
        return ir, {"precision": precision}, ""
    if precision == "bf16":
        raise Unsupported(f"this CPU has no BF16 in OpenVINO (capabilities: {', '.join(caps)})")
    return ir, {}, "fp16 weights, computed in f32 (this CPU has no FP16 compute in OpenVINO)"
