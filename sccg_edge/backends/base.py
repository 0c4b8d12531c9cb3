"""The inference-backend contract: one small interface, one module per runtime, a registry of names.

A backend wraps one artifact (a generator spec for torch, an ``.onnx`` file, an OpenVINO ``.xml`` IR, a TensorRT
``.engine``) and maps a batch of slices ``(B, 1, H, W)`` float32 in [-1, 1] to translated slices of the same shape.
Importing this module imports no inference runtime: each backend imports its runtime when it is built.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sccg_edge.backends.cards import artifact_file, artifact_metadata
from sccg_edge.backends.runtimes import RUNTIME_PACKAGES, runtime_installed
from sccg_edge.errors import ConfigError, InputError, MissingDependencyError
from sccg_edge.registry import Registry

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
DEVICES = ("cpu", "cuda", "gpu")


class Backend(abc.ABC):
    """One loaded artifact on one device; call it on a batch of slices.

    Attributes:
        name: registry name of the backend.
        precision: best-known numeric precision of the artifact ("fp32", "fp16", "bf16" or "int8").
        artifact_path: the file or folder loaded (None for an in-memory model).
        device: "cpu", "cuda" or "gpu" (OpenVINO's GPU plugin).
        threads: CPU threads asked for (0: the runtime's default).
    """

    name: ClassVar[str] = ""

    def __init__(self, artifact: Any, device: str = "cpu", threads: int = 0,
                 direction: str | None = None) -> None:
        if device not in DEVICES:
            raise ConfigError(f"unknown device '{device}'; use one of: {', '.join(DEVICES)}")
        if int(threads) < 0:
            raise ConfigError(f"threads must be >= 0 (0: the runtime's default), got {threads}")
        self.artifact_path: Path | None = Path(artifact) if isinstance(artifact, (str, Path)) else None
        self.device = device
        self.threads = int(threads)
        self.direction = direction
        self.precision = "fp32"
        meta = self.recorded = artifact_metadata(self.artifact_path)  # what export/quantize recorded, if anything
        self.input_size: int | None = int(meta["size"]) if meta.get("size") else None  # static S of (1, 1, S, S)
        self.ct_window: str | None = meta.get("ct_window")  # CT window the source model was trained with
        recorded = meta.get("direction")
        if recorded and direction and str(recorded) != direction:
            raise InputError(f"holds the {recorded} generator (recorded in {meta['recorded_in']}) but --direction "
                             f"{direction} was asked for; use --direction {recorded}, or an artifact exported for "
                             f"{direction}", self.artifact_path)
        if self.direction is None and recorded:
            self.direction = str(recorded)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Translate ``x`` (B, 1, H, W) float32 in [-1, 1]; returns (B, 1, H, W) float32."""
        _check_input(x)
        y = np.asarray(self._infer(x))
        if y.shape != x.shape:
            raise InputError(f"the {self.name} artifact returned shape {y.shape} for input {x.shape}; it was "
                             "probably exported for another slice size", self.artifact_path)
        return y.astype(np.float32, copy=False)

    @abc.abstractmethod
    def _infer(self, x: np.ndarray) -> np.ndarray:
        """Run the runtime on a validated input."""

    def synchronize(self) -> None:
        """Wait for queued device work (no-op on CPU)."""

    def prepare(self, shape: tuple[int, ...]) -> None:
        """Get ready for inputs of ``shape`` ahead of the first call (runtimes that compile per shape do it here)."""

    @classmethod
    def supports(cls, device: str) -> bool:
        """Whether this backend can run on ``device`` here (its runtime assumed installed)."""
        return device == "cpu"

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary of this backend."""
        return {"backend": self.name, "artifact": str(self.artifact_path) if self.artifact_path else None,
                "device": self.device, "threads": self.threads, "precision": self.precision}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.artifact_path}, device={self.device}, precision={self.precision})"


def _check_input(x: Any) -> None:
    if not isinstance(x, np.ndarray):
        raise InputError(f"backends take a numpy array, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise InputError(f"backends take float32 input, got {x.dtype}; convert with x.astype(np.float32)")
    if x.ndim != 4 or x.shape[1] != 1:
        raise InputError(f"backends take a batch of shape (B, 1, H, W), got {x.shape}")
    if x.size == 0:
        raise InputError(f"empty input of shape {x.shape}")
    if not np.isfinite(x).all():
        raise InputError("input holds NaN or infinite values")


BACKENDS: Registry[type[Backend]] = Registry("backend")


def ensure_registered(name: str | None = None) -> None:
    """Import the module of backend ``name`` (every backend module when None), which registers its class in
    :data:`BACKENDS`.

    This is the one import circle of the package (base -> a backend module -> base): the registry is filled on first
    use, so that importing :mod:`sccg_edge.backends` loads no backend module and no runtime, and loading one backend
    imports only its own runtime (an OpenVINO or ONNX Runtime conversion starts without importing torch).
    """
    if name == "onnxruntime":
        from sccg_edge.backends import onnxruntime_backend
    elif name == "openvino":
        from sccg_edge.backends import openvino_backend
    else:
        from sccg_edge.backends import (
            onnxruntime_backend,
            openvino_backend,
            tensorrt_backend,
            torch_backend,
        )


def backend_names() -> list[str]:
    """Every registered backend name (installed here or not)."""
    ensure_registered()
    return BACKENDS.names()


def available_backends(device: str = "cpu") -> list[str]:
    """Backends whose runtime is installed here and can run on ``device``."""
    ensure_registered()
    return [n for n in BACKENDS.names() if runtime_installed(n) and BACKENDS.get(n).supports(device)]


def missing_runtime(name: str, device: str = "cpu") -> MissingDependencyError:
    """The error for a backend whose runtime is not installed: names the extra and the available backends."""
    package, extra = RUNTIME_PACKAGES[name]
    err = MissingDependencyError(package, extra, f"the '{name}' backend")
    avail = ", ".join(available_backends(device)) or "none"
    err.args = (f"{err.args[0]}. Backends available here for {device}: {avail}",)
    return err


def load_backend(name: str, artifact: Any, device: str = "cpu", threads: int = 0,
                 direction: str | None = None, **options: Any) -> Backend:
    """Build backend ``name`` on ``artifact``.

    Args:
        name: "torch", "onnxruntime", "openvino" or "tensorrt".
        artifact: what the backend loads (see :func:`backend_for_artifact`); for torch also a generator module in
            memory (a model being trained or evaluated), run on the device it is on.
        device: "cpu", "cuda" or "gpu".
        threads: CPU threads (0: runtime default).
        direction: "mr2ct" or "ct2mr" (needed by torch when the spec holds both generators).
        **options: backend-specific, e.g. ``precision="fp16"``, ``compile=True`` (torch).

    Raises:
        ConfigError: unknown backend name or option.
        MissingDependencyError: the runtime is not installed (the message names the extra).
        InputError: the artifact is missing or of the wrong kind.
    """
    ensure_registered(name)
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend '{name}'; choose one of: {', '.join(BACKENDS.names())} "
                          f"(available here for {device}: {', '.join(available_backends(device)) or 'none'})")
    cls = BACKENDS.get(name)
    if not runtime_installed(name):
        raise missing_runtime(name, device)
    if name != "torch" and isinstance(artifact, (str, Path)):
        artifact = artifact_file(Path(artifact)) or artifact  # the folder export / quantize wrote -> its model file
    return cls(artifact, device=device, threads=threads, direction=direction, **options)


def backend_for_artifact(artifact: str | Path) -> str:
    """The backend that loads ``artifact``: .onnx -> onnxruntime, .xml -> openvino, .engine/.plan -> tensorrt, an
    export / quantize folder -> the backend of the model file in it, .safetensors / a model folder / a shipped model
    name -> torch."""
    path = artifact_file(Path(artifact)) or Path(artifact)
    suffix = path.suffix.lower()
    table = {".onnx": "onnxruntime", ".xml": "openvino", ".engine": "tensorrt", ".plan": "tensorrt",
             ".safetensors": "torch"}
    if suffix in table:
        return table[suffix]
    if path.is_dir() or not path.exists() and suffix == "":
        return "torch"
    raise InputError("cannot tell which backend loads this file; give a .onnx, .xml (OpenVINO IR), .engine/.plan "
                     "(TensorRT), .safetensors file or a model folder / shipped model name", path)


#: OpenVINO inference precision hint recorded by ``quantize`` -> the openvino backend's ``precision`` option.
HINT_PRECISION = {"f16": "fp16", "bf16": "bf16"}


def open_artifact(path: str | Path, device: str = "cpu", threads: int = 0, hint: str = "f32") -> Backend:
    """The backend of an exported artifact (by its suffix); an OpenVINO IR computes in the precision ``hint`` asks
    for (the ``inference_precision_hint`` a quantized artifact's card records: f32, f16 or bf16)."""
    name = backend_for_artifact(path)
    options = {"precision": HINT_PRECISION.get(hint, "fp32")} if name == "openvino" else {}
    return load_backend(name, path, device=device, threads=threads, **options)


def require_file(path: Path | None, suffixes: tuple[str, ...], backend: str) -> Path:
    """Check that ``path`` is an existing file with one of ``suffixes`` (helper for the backends)."""
    if path is None or not path.is_file():
        raise InputError(f"the {backend} backend needs an existing {'/'.join(suffixes)} file; not found", path)
    if path.suffix.lower() not in suffixes:
        right = backend_for_artifact(path) if path.suffix.lower() in (".onnx", ".xml", ".engine", ".plan",
                                                                      ".safetensors") else None
        hint = f"; load it with the '{right}' backend" if right else ""
        raise InputError(f"the {backend} backend loads {'/'.join(suffixes)} files, not '{path.suffix}'{hint}", path)
    return path


def check_precision(precision: str, allowed: tuple[str, ...], backend: str) -> str:
    """Validate a precision option against what ``backend`` supports."""
    if precision not in allowed:
        raise ConfigError(f"the {backend} backend supports precision {', '.join(allowed)}; got '{precision}'")
    return precision
