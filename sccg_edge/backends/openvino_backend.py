"""OpenVINO backend: an IR (``.xml``) or an ``.onnx`` file compiled for the input's static shape."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.backends.base import BACKENDS, Backend, check_precision, require_file
from sccg_edge.backends.runtimes import import_runtime
from sccg_edge.errors import ConfigError, InputError
from sccg_edge.utils.fs import cache_dir

_HINTS = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}
_CAPABILITY = {"fp16": "FP16", "bf16": "BF16"}
_PURPOSE = "the 'openvino' backend"


def ir_precision(model: Any) -> tuple[str, str]:
    """(precision, weights) of an OpenVINO model: "int8" when it has FakeQuantize ops, else by constant type.

    It lives here rather than in :mod:`.inspect` so that loading an IR imports no ``onnx`` (a faster start-up).
    """
    types = {op.get_type_name() for op in model.get_ops()}
    weights = {str(op.get_output_element_type(0)) for op in model.get_ops() if op.get_type_name() == "Constant"}
    weight_kind = "fp16" if any("f16" in w and "bf16" not in w for w in weights) else "fp32"
    if "FakeQuantize" in types or any(w in ("<Type: 'int8_t'>", "<Type: 'uint8_t'>", "i8", "u8") for w in weights):
        return "int8", weight_kind
    return weight_kind, weight_kind


@BACKENDS.register("openvino")
class OpenVinoBackend(Backend):
    """A model read by ``ov.Core`` and compiled with the LATENCY hint, once per input shape.

    Options:
        precision: inference precision hint "fp32" (default), "fp16" or "bf16" (refused when the device lacks it).
        extra_config: more OpenVINO properties for ``compile_model``.
        cache: keep compiled models in ``<cache folder>/openvino`` (``$SCCG_CACHE_DIR`` or ``~/.cache/sccg-edge``),
            so that the next start compiles the same model and shape in about half the time (OpenVINO's model
            caching; a folder that cannot be written is skipped). Off by default: ``convert`` and ``serve`` turn
            it on for the artifact they run again and again, not bench or quantize for their throwaway files.
    """

    name = "openvino"

    def __init__(self, artifact: str | Path, device: str = "cpu", threads: int = 0, direction: str | None = None,
                 precision: str = "fp32", extra_config: dict[str, Any] | None = None, cache: bool = False) -> None:
        super().__init__(artifact, device=device, threads=threads, direction=direction)
        ov = import_runtime("openvino", _PURPOSE)
        self.path = require_file(self.artifact_path, (".xml", ".onnx"), self.name)
        check_precision(precision, ("fp32", "fp16", "bf16"), self.name)
        if device == "cuda":
            raise ConfigError("OpenVINO does not run on CUDA; use --device cpu (or gpu for an Intel GPU)")
        self.core = ov.Core()
        self.ov_device = device.upper()
        if self.ov_device not in self.core.available_devices:
            raise ConfigError(f"OpenVINO has no {self.ov_device} device here (devices: "
                              f"{', '.join(self.core.available_devices)})")
        if precision != "fp32":
            caps = list(self.core.get_property(self.ov_device, "OPTIMIZATION_CAPABILITIES"))
            if _CAPABILITY[precision] not in caps:
                raise ConfigError(f"this {self.ov_device} does not support {precision} inference in OpenVINO "
                                  f"(capabilities: {', '.join(caps)}); use fp32")
        self.config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": _HINTS[precision]}
        if self.threads and self.ov_device == "CPU":
            self.config["INFERENCE_NUM_THREADS"] = self.threads
        self.config.update(extra_config or {})
        if cache and self.ov_device == "CPU":
            self._use_cache()
        model = self._model = self._read()  # read once; reshaped and compiled per input shape
        kind, self.weights_precision = ir_precision(model)
        self.precision = "int8" if kind == "int8" else (precision if precision != "fp32" else kind)
        self.inference_precision = _HINTS[precision]
        self._compiled: dict[tuple[int, ...], Any] = {}

    def _use_cache(self) -> None:
        folder = cache_dir() / "openvino"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                self.core.set_property({"CACHE_DIR": str(folder)})
        except (OSError, RuntimeError):  # a read-only home: compile every time, as without the cache
            pass

    def _read(self) -> Any:
        try:
            return self.core.read_model(str(self.path))
        except RuntimeError as err:
            raise InputError(f"OpenVINO cannot read this model ({_reason(err)}): its .xml and .bin are corrupt, "
                             "truncated or from different exports; re-export it (sccg-edge export / quantize)",
                             self.path) from None

    @classmethod
    def supports(cls, device: str) -> bool:
        if device == "cpu":
            return True
        if device == "gpu":
            return "GPU" in import_runtime("openvino", _PURPOSE).Core().available_devices
        return False

    def request_for(self, shape: tuple[int, ...]) -> Any:
        """The infer request of the model compiled for ``shape`` (compiled on first use, then cached)."""
        if shape not in self._compiled:
            model = self._model
            try:
                model.reshape({model.input(0): list(shape)})
            except RuntimeError as err:
                raise InputError(f"this model cannot take input shape {list(shape)} "
                                 f"({str(err).splitlines()[0]})", self.path) from None
            try:
                compiled = self.core.compile_model(model, self.ov_device, self.config)
            except RuntimeError as err:
                raise InputError(f"OpenVINO cannot compile this model ({_reason(err)}): its weights (.bin) are "
                                 "corrupt or do not match the .xml; re-export it", self.path) from None
            self._compiled[shape] = compiled.create_infer_request()
        return self._compiled[shape]

    def prepare(self, shape: tuple[int, ...]) -> None:
        self.request_for(tuple(shape))

    def _infer(self, x: np.ndarray) -> np.ndarray:
        request = self.request_for(tuple(x.shape))
        request.infer({0: x})
        return np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)


def _reason(err: BaseException) -> str:
    """The informative line of an OpenVINO error (its first line is only 'Exception from src/...cpp:84')."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("Exception from", "Check '")) and not ln.endswith(".cpp")]
    return (useful or lines or [type(err).__name__])[-1][:200]
