"""Inference backends: torch, ONNX Runtime, OpenVINO and TensorRT behind one small interface.

Importing this package imports no inference runtime; each backend imports its own when it is built.
"""

from __future__ import annotations

from sccg_edge.backends.base import (
    BACKENDS,
    PRECISIONS,
    Backend,
    available_backends,
    backend_for_artifact,
    load_backend,
    runtime_installed,
)

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "Backend",
    "available_backends",
    "backend_for_artifact",
    "load_backend",
    "runtime_installed",
]
