"""The optional inference runtimes: whether each is installed, and importing one with an error that names its extra.

OpenVINO, ONNX Runtime and TensorRT are imported only here and in the modules that run them, inside the functions
that need them (``import sccg_edge`` and ``sccg-edge --help`` load none; tests/unit/test_lean_import.py holds it).
Export and quantize import them through :func:`import_runtime` as well, so there is one helper per runtime.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from sccg_edge.errors import MissingDependencyError

# name -> (python module that must import, extra that installs it)
RUNTIME_PACKAGES: dict[str, tuple[str, str]] = {
    "torch": ("torch", "torch"),
    "onnxruntime": ("onnxruntime", "onnxruntime"),
    "openvino": ("openvino", "openvino"),
    "tensorrt": ("tensorrt", "tensorrt"),
}


def runtime_installed(name: str) -> bool:
    """Whether the python package behind runtime ``name`` can be imported (without importing it)."""
    module = RUNTIME_PACKAGES[name][0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def import_runtime(name: str, purpose: str) -> Any:
    """``import <name>`` (openvino, onnxruntime, tensorrt), or a MissingDependencyError naming the extra.

    Args:
        name: a key of :data:`RUNTIME_PACKAGES`.
        purpose: what needs it, for the message ("the 'openvino' backend", "converting to OpenVINO IR").
    """
    module, extra = RUNTIME_PACKAGES[name]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module, extra, purpose) from None


def openvino_cpu_capabilities() -> list[str]:
    """Inference precisions the local OpenVINO CPU plugin reports (e.g. ["FP32", "BF16", "INT8"])."""
    ov = import_runtime("openvino", "reading OpenVINO's CPU capabilities")
    return [str(c) for c in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
