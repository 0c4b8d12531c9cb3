"""ONNX Runtime backend: CPUExecutionProvider (or CUDAExecutionProvider) on an ``.onnx`` file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sccg_edge.backends.base import BACKENDS, Backend, check_precision, require_file
from sccg_edge.backends.inspect import onnx_precision
from sccg_edge.backends.runtimes import import_runtime
from sccg_edge.errors import ConfigError, InputError


@BACKENDS.register("onnxruntime")
class OnnxRuntimeBackend(Backend):
    """An ``InferenceSession`` with all graph optimisations (EXTENDED for a Q/DQ INT8 graph), ``threads`` intra-op
    threads and one inter-op thread.

    Options:
        precision: label to record; by default guessed from the graph (int8 when it holds quantize nodes).
    """

    name = "onnxruntime"

    def __init__(self, artifact: str | Path, device: str = "cpu", threads: int = 0, direction: str | None = None,
                 precision: str | None = None) -> None:
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
        opts = ort.SessionOptions()
        # Q/DQ INT8 graphs: ENABLE_ALL's layout pass wraps every fused QLinearConv in NHWC transposes, which made INT8
        # slower than FP32; EXTENDED keeps the fused NCHW kernels (benchmarks/results/2026-12-04_ort_int8)
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED if graph == "int8" else \
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        except Exception as err:  # noqa: BLE001 - onnxruntime raises untyped errors for unreadable models
            raise InputError(f"ONNX Runtime cannot load this model ({str(err).splitlines()[0]})", path) from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
        self.precision = check_precision(precision, ("fp32", "fp16", "bf16", "int8"), self.name) if precision \
            else graph

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
