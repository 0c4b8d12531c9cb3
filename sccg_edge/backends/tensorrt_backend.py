"""TensorRT backend: a serialized ``.engine`` run with the TensorRT 10 name-based tensor API on a torch stream.

TensorRT is optional (``pip install 'sccg-edge[tensorrt]'``) and needs an NVIDIA GPU; it is imported lazily.
Buffers are torch CUDA tensors; the engine runs with ``execute_async_v3`` on a dedicated torch CUDA stream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from sccg_edge.backends.base import BACKENDS, Backend, require_file
from sccg_edge.backends.runtimes import import_runtime
from sccg_edge.errors import ConfigError, InputError


@BACKENDS.register("tensorrt")
class TensorRtBackend(Backend):
    """A deserialized TensorRT engine with one input and one output tensor.

    Options:
        precision: label to record ("fp32", "fp16", "bf16" or "int8": the precision it was built with).
    """

    name = "tensorrt"

    def __init__(self, artifact: str | Path, device: str = "cuda", threads: int = 0, direction: str | None = None,
                 precision: str = "fp16") -> None:
        super().__init__(artifact, device=device, threads=threads, direction=direction)
        trt = import_runtime("tensorrt", "the 'tensorrt' backend (NVIDIA GPUs)")
        path = require_file(self.artifact_path, (".engine", ".plan"), self.name)
        if device != "cuda" or not torch.cuda.is_available():
            raise ConfigError("the tensorrt backend needs --device cuda and an NVIDIA GPU that torch can see")
        self.trt = trt
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise InputError("TensorRT cannot deserialize this engine (built by another TensorRT version or "
                             "for another GPU?); rebuild it on this machine", path)
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise InputError(f"expected an engine with one input and one output, got {inputs} -> {outputs}", path)
        self.input_name, self.output_name = inputs[0], outputs[0]
        self.torch_dtypes = {n: self._torch_dtype(self.engine.get_tensor_dtype(n)) for n in names}
        self.stream = torch.cuda.Stream()
        self.precision = precision

    def _torch_dtype(self, trt_dtype: Any) -> Any:
        return torch.from_numpy(np.zeros(1, dtype=self.trt.nptype(trt_dtype))).dtype

    @classmethod
    def supports(cls, device: str) -> bool:
        return device == "cuda" and bool(torch.cuda.is_available())

    def _infer(self, x: np.ndarray) -> np.ndarray:
        ctx = self.context
        src = torch.from_numpy(x).to("cuda", dtype=self.torch_dtypes[self.input_name]).contiguous()
        if not ctx.set_input_shape(self.input_name, tuple(x.shape)):
            raise InputError(f"the engine does not accept input shape {x.shape} (outside its optimisation "
                             "profile); rebuild it for this size", self.artifact_path)
        out_shape = tuple(ctx.get_tensor_shape(self.output_name))
        dst = torch.empty(out_shape, dtype=self.torch_dtypes[self.output_name], device="cuda")
        ctx.set_tensor_address(self.input_name, src.data_ptr())
        ctx.set_tensor_address(self.output_name, dst.data_ptr())
        self.stream.wait_stream(torch.cuda.current_stream())
        if not ctx.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        self.stream.synchronize()
        return dst.float().cpu().numpy()

    def synchronize(self) -> None:
        torch.cuda.synchronize()
