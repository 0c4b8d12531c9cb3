"""Find and load a generator by name or path, without unpickling anything.

A *model spec* is one of:

* a shipped model name (``teacher``, ``student-s``, ...): ``sccg_edge/weights/<name>/``;
* a model folder holding ``g_mr2ct.safetensors`` / ``g_ct2mr.safetensors`` (self-describing: each file's metadata
  carries its generator config and preprocessing);
* a training run folder (its ``checkpoints/best``, else ``checkpoints/last``) or a checkpoint folder;
* a single generator ``.safetensors`` file written by :func:`save_generator`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from sccg_edge.config.bounds import SIZE_MAX, Bounds, check_value
from sccg_edge.config.loader import CHOICES, load_config
from sccg_edge.config.train import TrainConfig
from sccg_edge.errors import ConfigError, InputError
from sccg_edge.models.generator import Generator, GeneratorConfig, build_generator, resolve_generator_config
from sccg_edge.models.weights import load_module, read_metadata, save_module
from sccg_edge.utils.budget import check_allocation, format_bytes

DIRECTION_KEYS = {"mr2ct": "g_mr2ct", "ct2mr": "g_ct2mr"}
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")


@dataclass
class LoadedGenerator:
    """A generator in eval mode with what is needed to feed it."""

    model: Generator
    config: GeneratorConfig
    direction: str
    size: int = 256  # the slice size it was trained at
    ct_window: str = "brain"
    source: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def shipped_models_root() -> Path:
    """Folder of the weights that ship inside the package."""
    return Path(str(resources.files("sccg_edge") / "weights"))


def shipped_model_names() -> list[str]:
    root = shipped_models_root()
    return sorted(p.name for p in root.iterdir() if (p / "g_mr2ct.safetensors").exists()) if root.exists() else []


def save_generator(model: Generator, path: Path, direction: str, size: int, ct_window: str = "brain",
                   extra: dict[str, Any] | None = None, half: bool = False) -> None:
    """Write a self-describing generator file (weights + config + preprocessing in the safetensors metadata)."""
    meta = {"generator_config": json.dumps(model.config.to_dict()), "direction": direction, "size": str(size),
            "ct_window": ct_window, "format": "sccg-edge-generator-v1"}
    meta.update({k: str(v) for k, v in (extra or {}).items()})
    save_module(model, Path(path), dtype=torch.float16 if half else None, metadata=meta)


def _weights_file(spec: str | Path, direction: str) -> Path:
    key = DIRECTION_KEYS[direction]
    path = Path(spec)
    if not path.exists():
        shipped = shipped_models_root() / str(spec)
        if shipped.is_dir():
            path = shipped
        else:
            names = ", ".join(shipped_model_names()) or "none installed"
            raise InputError(f"no such model file, folder or shipped model name (shipped models: {names})", spec)
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise InputError("pickled checkpoints are refused because loading them can run arbitrary code; "
                             "convert the weights to .safetensors", path)
        return path
    # In a run or checkpoint folder the weight average (``<key>_ema``, TrainConfig.ema) is the model when present.
    for folder in (path, path / "checkpoints" / "best" / "weights", path / "checkpoints" / "last" / "weights",
                   path / "weights"):
        for name in ((f"{key}.safetensors",) if folder == path else (f"{key}_ema.safetensors", f"{key}.safetensors")):
            if (folder / name).is_file():
                return folder / name
    raise InputError(f"no {key}.safetensors found here; give a model folder, a run folder or a .safetensors file",
                     path)


def _config_from_run(weights: Path) -> dict[str, Any] | None:
    """For checkpoint weights (<ckpt>/weights/g.safetensors), the generator and data config of its config.yaml."""
    cfg_file = weights.parent.parent / "config.yaml"
    if not cfg_file.is_file():
        return None
    cfg = load_config(str(cfg_file), TrainConfig)
    gcfg = resolve_generator_config(cfg.model.generator, **cfg.model.overrides())
    return {"generator_config": gcfg.to_dict(), "size": cfg.data.size, "ct_window": cfg.data.ct_window}


_SLICE_SIZE = Bounds(16, SIZE_MAX, multiple=4)


def _info_from_metadata(meta: dict[str, str], weights: Path) -> dict[str, Any]:
    """Generator config, size and CT window from a generator file's metadata, each checked (InputError if not)."""
    try:
        gdict = json.loads(meta["generator_config"])
    except ValueError as err:
        raise InputError(f"its metadata 'generator_config' is not valid JSON ({err}); the file is damaged: re-save "
                         "the generator with sccg-edge (train, distill or ship)", weights) from None
    if not isinstance(gdict, dict):
        raise InputError("its metadata 'generator_config' is not a JSON object; re-save the generator", weights)
    size = meta.get("size", "256")
    try:
        size = int(size)
    except ValueError:
        raise InputError(f"its metadata 'size' {size!r} is not an integer; re-save the generator", weights) from None
    check_value(size, _SLICE_SIZE, "size", f"{weights} metadata")
    window = meta.get("ct_window", "brain")
    if window not in CHOICES["data.ct_window"]:
        raise InputError(f"its metadata 'ct_window' {window!r} is not one of {', '.join(CHOICES['data.ct_window'])}; "
                         "re-save the generator", weights)
    return {"generator_config": gdict, "size": size, "ct_window": window}


def _check_fits(gcfg: GeneratorConfig, weights: Path) -> None:
    """Refuse, before building it, a generator that the weights file cannot hold or the memory budget cannot."""
    with torch.device("meta"):  # shapes only: nothing is allocated
        n_params = sum(p.numel() for p in Generator(gcfg).parameters())
    check_allocation(4 * n_params, f"a generator of {n_params:,} parameters", weights)
    held = weights.stat().st_size
    if 2 * n_params > held:  # FP16 storage is the smallest sccg-edge writes
        raise InputError(f"its config describes a generator of {n_params:,} parameters, but the file holds only "
                         f"{format_bytes(held)} ({format_bytes(2 * n_params)} needed even as FP16): the config does "
                         "not belong to these weights; re-save the generator", weights)


def load_generator(spec: str | Path, direction: str) -> LoadedGenerator:
    """Load the generator of ``direction`` ("mr2ct" or "ct2mr") from a model spec (see module docs)."""
    if direction not in DIRECTION_KEYS:
        raise InputError(f"unknown direction '{direction}'; use mr2ct or ct2mr")
    weights = _weights_file(spec, direction)
    meta = read_metadata(weights)
    if meta is None:
        raise InputError("not a safetensors generator file", weights)
    if "generator_config" in meta:
        info = _info_from_metadata(meta, weights)
        if meta.get("direction") and meta["direction"] != direction:
            raise InputError(f"this file holds the {meta['direction']} generator, not {direction}", weights)
    else:
        info = _config_from_run(weights)
        if info is None:
            raise InputError("this safetensors file carries no generator config and has no run config.yaml beside "
                             "it; it is not a sccg-edge generator", weights)
    try:
        gcfg = GeneratorConfig.from_dict(info["generator_config"])
    except (ConfigError, TypeError) as err:
        raise InputError(f"its generator config is not usable ({err}); re-save the generator with sccg-edge "
                         "(train, distill or ship)", weights) from None
    _check_fits(gcfg, weights)
    model = build_generator(gcfg)
    load_module(model, weights)
    model.eval()
    return LoadedGenerator(model=model, config=gcfg, direction=direction, size=int(info["size"]),
                           ct_window=str(info["ct_window"]), source=weights, meta=meta)
