"""Network weights on disk: safetensors only, so loading a file can never run code.

:func:`save_module` / :func:`load_module` write and read one module's ``state_dict``; generator files with their
config in the metadata are :func:`sccg_edge.models.loading.save_generator`'s, and training state (optimizers, step)
around the weights is :mod:`sccg_edge.engine.checkpoint`'s.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from sccg_edge.errors import InputError


def save_module(module: torch.nn.Module, path: Path, dtype: torch.dtype | None = None,
                metadata: dict[str, str] | None = None) -> None:
    """Save a module's state_dict as safetensors (optionally cast floating tensors to ``dtype``)."""
    tensors = {}
    for key, value in module.state_dict().items():
        value = value.detach().cpu()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = value.contiguous()
    save_file(tensors, str(path), metadata=metadata)


def read_metadata(path: Path) -> dict[str, str] | None:
    """The metadata of a safetensors file, or None when the file is missing or not safetensors."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError):
        return None


def tensor_shape(path: Path, key: str) -> list[int]:
    """The shape of tensor ``key`` in a safetensors file, read without loading it."""
    with safe_open(str(path), framework="pt") as fh:
        return list(fh.get_slice(key).get_shape())


def load_module(module: torch.nn.Module, path: Path) -> dict[str, str]:
    """Load safetensors weights into ``module`` (cast to its dtypes); returns the file's metadata.

    Raises:
        InputError: the file is missing, not a safetensors file, or does not match the module's layers.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("weights file not found", path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(f"not a readable safetensors weights file ({err}); re-export it or point to the "
                         "right file (pickled .pt/.pth checkpoints are refused on purpose)", path) from None
    own = module.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    bad_shape = sorted(k for k in set(own) & set(tensors) if own[k].shape != tensors[k].shape)
    if missing or unexpected or bad_shape:
        detail = "; ".join(f"{label}: {', '.join(keys[:4])}{' ...' if len(keys) > 4 else ''}"
                           for label, keys in (("missing", missing), ("unexpected", unexpected),
                                               ("wrong shape", bad_shape)) if keys)
        raise InputError(f"weights do not fit this network ({detail}); check the model config that goes with "
                         "these weights", path)
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()})
    return metadata
