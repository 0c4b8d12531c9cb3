"""Inference backends: torch, ONNX Runtime, OpenVINO and TensorRT behind one small interface.

Every model run of the package goes through a :class:`Backend`, PyTorch included (the torch backend is the FP32
reference). Importing this package imports no inference runtime; each backend imports its own when it is built.
"""

from __future__ import annotations

from sccg_edge.backends.apply import Run, run_batched, run_fitted
from sccg_edge.backends.base import (
    BACKENDS,
    PRECISIONS,
    Backend,
    available_backends,
    backend_for_artifact,
    backend_names,
    load_backend,
    open_artifact,
)
from sccg_edge.backends.runtimes import import_runtime, runtime_installed

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "Backend",
    "Run",
    "available_backends",
    "backend_for_artifact",
    "backend_names",
    "import_runtime",
    "load_backend",
    "open_artifact",
    "run_batched",
    "run_fitted",
    "runtime_installed",
]
