"""Eager (optionally ``torch.compile``-d) PyTorch generator as a backend: the FP32 reference of every other one.

It loads a model spec (shipped name, model or run folder, generator ``.safetensors``) with
:func:`sccg_edge.models.loading.load_generator`, or wraps a generator module already in memory (one being trained or
evaluated), which it runs on the module's own device and dtype, in eval mode for the call only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sccg_edge.backends.base import BACKENDS, Backend, check_precision
from sccg_edge.errors import ConfigError, InputError
from sccg_edge.models.loading import load_generator
from sccg_edge.models.weights import read_metadata

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@BACKENDS.register("torch")
class TorchBackend(Backend):
    """A generator run by PyTorch.

    Options:
        precision: "fp32" (default), "fp16" (CUDA only) or "bf16".
        compile: wrap the model in ``torch.compile``.
    """

    name = "torch"

    def __init__(self, artifact: str | Path | nn.Module, device: str = "cpu", threads: int = 0,
                 direction: str | None = None, precision: str = "fp32", compile: bool = False) -> None:
        super().__init__(artifact, device=device, threads=threads, direction=direction)
        check_precision(precision, ("fp32", "fp16", "bf16"), self.name)
        self.precision = precision
        self.compiled = bool(compile)
        if isinstance(artifact, nn.Module):
            self._wrap(artifact)
            return
        if device == "gpu":
            raise ConfigError("the torch backend runs on cpu or cuda; 'gpu' is OpenVINO's GPU plugin")
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("the torch backend was asked for CUDA but torch sees no CUDA device here; "
                              "use --device cpu")
        if precision == "fp16" and device == "cpu":
            raise ConfigError("fp16 torch inference needs --device cuda; on CPU use fp32 or bf16")
        path = Path(artifact)
        recorded = (read_metadata(path) or {}).get("direction") if path.suffix == ".safetensors" else None
        direction = direction or recorded
        if direction is None:
            raise InputError("the torch backend needs a direction (mr2ct or ct2mr) for this model", artifact)
        self.direction = direction
        loaded = load_generator(artifact, direction)
        self.loaded = loaded
        self.input_size, self.ct_window = loaded.size, loaded.ct_window
        self.source = loaded.source
        self.dtype = DTYPES[precision]
        self.torch_device = torch.device(device)
        model = loaded.model.to(self.torch_device, dtype=self.dtype).eval()
        self.model: Any = torch.compile(model) if compile else model

    def _wrap(self, module: nn.Module) -> None:
        """Run ``module`` as it is: on its device, in its dtype."""
        param = next(module.parameters(), None)
        self.torch_device = param.device if param is not None else torch.device("cpu")
        self.dtype = param.dtype if param is not None else torch.float32
        self.device = "cuda" if self.torch_device.type == "cuda" else "cpu"
        self.loaded = None
        self.source = None
        self.model = module

    @classmethod
    def supports(cls, device: str) -> bool:
        if device == "cpu":
            return True
        return device == "cuda" and bool(torch.cuda.is_available())

    def _infer(self, x: np.ndarray) -> np.ndarray:
        with self._threads(), self._eval(), torch.inference_mode():
            t = torch.from_numpy(x).to(self.torch_device, dtype=self.dtype)
            return self.model(t).float().cpu().numpy()

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        """``threads`` intra-op threads for this call only, so a library caller's own torch setting is kept."""
        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    @contextlib.contextmanager
    def _eval(self) -> Iterator[None]:
        """Eval mode for the call; a module in training goes back to training mode afterwards."""
        was_training = self.model.training
        self.model.eval()
        try:
            yield
        finally:
            self.model.train(was_training)

    def synchronize(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()
