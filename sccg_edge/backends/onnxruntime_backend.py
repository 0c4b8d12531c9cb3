"""ONNX Runtime backend: CPUExecutionProvider (or CUDAExecutionProvider) on an ``.onnx`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.backends.base import BACKENDS, Backend, check_precision, require_file
from sccg_edge.backends.cards import GRAPH_LEVEL_KEY
from sccg_edge.backends.inspect import onnx_precision
from sccg_edge.backends.runtimes import import_runtime
from sccg_edge.errors import ConfigError, InputError

#: ONNX Runtime graph optimisation levels a session can run at: "all" (every optimisation, the NCHWc layout of
#: float convolutions), "extended" (no layout passes: fused INT8 convolutions stay NCHW) and "all-no-nhwc" (every
#: optimisation except the NHWC transposes ONNX Runtime wraps around fused INT8 convolutions)
GRAPH_LEVELS = ("all", "extended", "all-no-nhwc")


@BACKENDS.register("onnxruntime")
class OnnxRuntimeBackend(Backend):
    """An ``InferenceSession`` with ``threads`` intra-op threads and one inter-op thread, at the graph optimisation
    level recorded in the file by ``quantize`` (measured there), else "all" for float graphs and "extended" for
    Q/DQ INT8 graphs.

    Options:
        precision: label to record; by default guessed from the graph (int8 when it holds quantize nodes).
        graph_level: one of :data:`GRAPH_LEVELS`, overriding the recorded / default level.
    """

    name = "onnxruntime"

    def __init__(self, artifact: str | Path, device: str = "cpu", threads: int = 0, direction: str | None = None,
                 precision: str | None = None, graph_level: str | None = None) -> None:
        super().__init__(artifact, device=device, threads=threads, direction=direction)
        ort = import_runtime("onnxruntime", "the 'onnxruntime' backend")
        path = require_file(self.artifact_path, (".onnx",), self.name)
        if device == "gpu":
            raise ConfigError("the onnxruntime backend runs on cpu or cuda")
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ConfigError("ONNX Runtime has no CUDAExecutionProvider here (install onnxruntime-gpu on a "
                                  "machine with CUDA); use --device cpu")
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        try:
            graph = onnx_precision(path)
        except Exception:  # noqa: BLE001 - an unreadable file: the session below says why
            graph = "fp32"
        # Q/DQ INT8 graphs: ENABLE_ALL's layout pass wraps every fused QLinearConv in NHWC transposes, which made INT8
        # slower than FP32; EXTENDED keeps the fused NCHW kernels (benchmarks/results/2026-12-04_ort_int8), and ALL
        # without the NHWC pass also keeps the NCHWc float kernels of the FP32 stem and head, faster for some models
        recorded = self.recorded.get(GRAPH_LEVEL_KEY)  # read from the file's metadata with the rest (base class)
        level = graph_level or (recorded if recorded in GRAPH_LEVELS else "extended" if graph == "int8" else "all")
        if level not in GRAPH_LEVELS:
            raise ConfigError(f"unknown ONNX Runtime graph level '{level}'; choose one of: {', '.join(GRAPH_LEVELS)}")
        self.graph_level = level
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED if level == "extended" else \
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        disabled = {"disabled_optimizers": ["NhwcTransformer"]} if level == "all-no-nhwc" else {}
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers, **disabled)
        except Exception as err:  # noqa: BLE001 - onnxruntime raises untyped errors for unreadable models
            raise InputError(f"ONNX Runtime cannot load this model ({str(err).splitlines()[0]})", path) from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
        self.precision = check_precision(precision, ("fp32", "fp16", "bf16", "int8"), self.name) if precision \
            else graph

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "graph_level": self.graph_level}

    @classmethod
    def supports(cls, device: str) -> bool:
        if device == "cpu":
            return True
        if device == "cuda":
            ort = import_runtime("onnxruntime", "the 'onnxruntime' backend")
            return "CUDAExecutionProvider" in ort.get_available_providers()
        return False

    def _infer(self, x: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {self.input_name: x.astype(self.input_dtype, copy=False)})[0]
        return np.asarray(out, dtype=np.float32)
