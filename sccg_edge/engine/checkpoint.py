"""Training checkpoints that load without unpickling: safetensors for tensors, JSON for the rest, written atomically.

A checkpoint is a folder::

    <name>/weights/<module>.safetensors   one file per network (g_mr2ct, g_ct2mr, d_ct, d_mr)
    <name>/optim.safetensors              optimizer tensors (exp_avg, exp_avg_sq, step), keyed "<opt>/<param>/<key>"
    <name>/state.json                     epoch, step, best metric, optimizer hyper-parameters, RNG-free state
    <name>/config.yaml                    the resolved run config

The folder is written under a temporary name and renamed into place, so a run killed at any moment leaves the
previous checkpoint intact. Nothing here calls ``torch.load``; ``safetensors`` and ``json`` cannot run code. The
weights themselves are written by :mod:`sccg_edge.models.weights`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from sccg_edge.errors import InputError
from sccg_edge.models.weights import load_module, save_module
from sccg_edge.utils.fs import atomic_dir, atomic_write_text


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
