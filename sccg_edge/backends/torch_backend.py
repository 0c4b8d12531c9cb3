"""Eager (optionally ``torch.compile``-d) PyTorch generator as a backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.backends.base import BACKENDS, Backend, check_precision
from sccg_edge.errors import ConfigError, InputError


def _direction_from_file(path: Path) -> str | None:
    """The direction recorded in a generator .safetensors file's metadata, if any."""
    if not (path.is_file() and path.suffix == ".safetensors"):
        return None
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            return (fh.metadata() or {}).get("direction")
    except (SafetensorError, OSError, ValueError):
        return None


@BACKENDS.register("torch")
class TorchBackend(Backend):
    """A generator loaded with :func:`sccg_edge.models.loading.load_generator`.

    Options:
        precision: "fp32" (default), "fp16" (CUDA only) or "bf16".
        compile: wrap the model in ``torch.compile``.
    """

    name = "torch"

    def __init__(self, artifact: str | Path, device: str = "cpu", threads: int = 0, direction: str | None = None,
                 precision: str = "fp32", compile: bool = False) -> None:
        super().__init__(artifact, device=device, threads=threads, direction=direction)
        import torch

        from sccg_edge.models.loading import load_generator

        check_precision(precision, ("fp32", "fp16", "bf16"), self.name)
        if device == "gpu":
            raise ConfigError("the torch backend runs on cpu or cuda; 'gpu' is OpenVINO's GPU plugin")
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("the torch backend was asked for CUDA but torch sees no CUDA device here; "
                              "use --device cpu")
        if precision == "fp16" and device == "cpu":
            raise ConfigError("fp16 torch inference needs --device cuda; on CPU use fp32 or bf16")
        direction = direction or _direction_from_file(Path(artifact))
        if direction is None:
            raise InputError("the torch backend needs a direction (mr2ct or ct2mr) for this model", artifact)
        self.direction = direction
        if threads:
            torch.set_num_threads(threads)
        loaded = load_generator(artifact, direction)
        self.loaded = loaded
        self.input_size, self.ct_window = loaded.size, loaded.ct_window
        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        self.torch_device = torch.device(device)
        model = loaded.model.to(self.torch_device, dtype=self.dtype).eval()
        self.model: Any = torch.compile(model) if compile else model
        self.precision = precision
        self.compiled = bool(compile)

    @classmethod
    def supports(cls, device: str) -> bool:
        if device == "cpu":
            return True
        if device == "cuda":
            import torch

            return bool(torch.cuda.is_available())
        return False

    def _infer(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            t = torch.from_numpy(x).to(self.torch_device, dtype=self.dtype)
            y = self.model(t)
            return y.float().cpu().numpy()

    def synchronize(self) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
