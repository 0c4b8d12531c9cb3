"""What bare ``sccg-edge quantize --int8`` does: the default student, both directions, the fastest INT8 target here.

:func:`quantize_directions` runs the quantize verb once per direction into ``OUT/<direction>/``.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

from sccg_edge.config import QuantConfig
from sccg_edge.errors import InputError
from sccg_edge.quantize.artifact import quantize_artifact

DEFAULT_MODEL = "student-s"  # the default student (distill's default preset), shipped with the package
DIRECTIONS = ("mr2ct", "ct2mr")


def fastest_int8_target(device: str = "cpu") -> tuple[str, str]:
    """The INT8 target expected to run fastest here, and why.

    On a CPU, OpenVINO's INT8 IR: it ran fastest of every runtime and precision for each shipped student in the
    project's CPU benchmarks (``benchmarks/results/2026-12-05_cpu``: student-ps 1.8 ms at 256 against 7.8 ms for
    ONNX Runtime INT8), while ONNX Runtime INT8 gains at most 14 % on its own FP32 for the students
    (``2026-12-05_ort_int8``). With CUDA and TensorRT installed, the Q/DQ ONNX that TensorRT builds its INT8 engine
    from.
    """
    if device == "cuda" and importlib.util.find_spec("tensorrt") is not None:
        return "tensorrt", "CUDA and TensorRT are here: TensorRT builds its INT8 engine from the Q/DQ ONNX"
    if importlib.util.find_spec("openvino") is not None:
        return "openvino", ("on a CPU OpenVINO INT8 ran fastest of every runtime and precision in the project's "
                            "CPU benchmarks (benchmarks/results/2026-12-05_cpu)")
    return "onnx", "OpenVINO is not installed here: Q/DQ ONNX for ONNX Runtime"


def default_out(model: str, mode: str, target: str, root: Path = Path("runs")) -> Path:
    """``runs/quantize-<model>-<mode>-<target>-<timestamp>`` (model names reduced to their last path part)."""
    name = Path(str(model)).name.replace(".safetensors", "") or "model"
    return root / time.strftime(f"quantize-{name}-{mode}-{target}-%Y%m%d-%H%M%S")


def quantize_directions(model: str | Path, directions: tuple[str, ...] | list[str], cfg: QuantConfig,
                        out: Path) -> dict[str, Any]:
    """Quantize ``model`` once per direction into ``out/<direction>/`` (each an artifact folder with its card).

    Raises:
        InputError: ``out`` exists and is not empty, or an unknown direction.
    """
    out = Path(out)
    bad = [d for d in directions if d not in DIRECTIONS]
    if bad:
        raise InputError(f"unknown direction {bad[0]!r}; give mr2ct, ct2mr or both")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("already exists; choose a new --out folder", out)
    out.mkdir(parents=True, exist_ok=True)
    results = {d: quantize_artifact(model, d, cfg, out / d) for d in directions}
    return {"out": str(out), "model": str(model), "directions": results}
