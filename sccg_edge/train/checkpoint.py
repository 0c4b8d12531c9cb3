"""Checkpoints that load without unpickling: safetensors for tensors, JSON for the rest, written atomically.

A checkpoint is a folder::

    <name>/weights/<module>.safetensors   one file per network (g_mr2ct, g_ct2mr, d_ct, d_mr)
    <name>/optim.safetensors              optimizer tensors (exp_avg, exp_avg_sq, step), keyed "<opt>/<param>/<key>"
    <name>/state.json                     epoch, step, best metric, optimizer hyper-parameters, RNG-free state
    <name>/config.yaml                    the resolved run config

The folder is written under a temporary name and renamed into place, so a run killed at any moment leaves the
previous checkpoint intact. Nothing here calls ``torch.load``; ``safetensors`` and ``json`` cannot run code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from sccg_edge.errors import InputError
from sccg_edge.utils.fs import atomic_dir, atomic_write_text


def save_module(module: torch.nn.Module, path: Path, dtype: torch.dtype | None = None,
                metadata: dict[str, str] | None = None) -> None:
    """Save a module's state_dict as safetensors (optionally cast floating tensors to ``dtype``)."""
    from safetensors.torch import save_file

    tensors = {}
    for key, value in module.state_dict().items():
        value = value.detach().cpu()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = value.contiguous()
    save_file(tensors, str(path), metadata=metadata)


def load_module(module: torch.nn.Module, path: Path) -> dict[str, str]:
    """Load safetensors weights into ``module`` (cast to its dtypes); returns the file's metadata.

    Raises:
        InputError: the file is missing, not a safetensors file, or does not match the module's layers.
    """
    from safetensors import SafetensorError, safe_open

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


def _optim_to_tensors(name: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for pid, pstate in state["state"].items():
        for key, value in pstate.items():
            value = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{name}/{pid}/{key}"] = value.detach().cpu().contiguous()
    return tensors, {"param_groups": state["param_groups"]}


def _optim_from_tensors(name: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                        meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    prefix = f"{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, field = key[len(prefix):].split("/", 1)
            state.setdefault(int(pid), {})[field] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(folder: Path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    state: dict[str, Any], config_yaml: str) -> None:
    """Write a complete checkpoint folder atomically (replacing an older one of the same name)."""
    from safetensors.torch import save_file

    with atomic_dir(Path(folder), replace=True) as tmp:
        (tmp / "weights").mkdir()
        for name, module in modules.items():
            save_module(module, tmp / "weights" / f"{name}.safetensors")
        all_tensors: dict[str, torch.Tensor] = {}
        optim_meta: dict[str, Any] = {}
        for name, opt in optimizers.items():
            tensors, meta = _optim_to_tensors(name, opt)
            all_tensors.update(tensors)
            optim_meta[name] = meta
        if all_tensors:
            save_file(all_tensors, str(tmp / "optim.safetensors"))
        atomic_write_text(tmp / "state.json", json.dumps({**state, "optimizers": optim_meta}, indent=2))
        atomic_write_text(tmp / "config.yaml", config_yaml)


def load_checkpoint(folder: Path, modules: dict[str, torch.nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer] | None = None) -> dict[str, Any]:
    """Load a checkpoint folder written by :func:`save_checkpoint`; returns its state dict."""
    from safetensors.torch import load_file

    folder = Path(folder)
    state_file = folder / "state.json"
    if not state_file.is_file():
        raise InputError("not a checkpoint folder (state.json is missing); point to a run's checkpoints/last", folder)
    try:
        state = json.loads(state_file.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"state.json is corrupt ({err}); resume from checkpoints/best or start afresh",
                         state_file) from None
    for name, module in modules.items():
        load_module(module, folder / "weights" / f"{name}.safetensors")
    if optimizers:
        tensors = load_file(str(folder / "optim.safetensors")) if (folder / "optim.safetensors").exists() else {}
        for name, opt in optimizers.items():
            _optim_from_tensors(name, opt, tensors, state["optimizers"][name])
    return state
