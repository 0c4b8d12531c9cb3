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

from sccg_edge.config.loader import load_config
from sccg_edge.config.train import TrainConfig
from sccg_edge.errors import InputError
from sccg_edge.models.generator import Generator, GeneratorConfig, build_generator, resolve_generator_config
from sccg_edge.models.weights import load_module, read_metadata, save_module

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
        if path.suffix in PICKLE_SUFFIXES:
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


def load_generator(spec: str | Path, direction: str) -> LoadedGenerator:
    """Load the generator of ``direction`` ("mr2ct" or "ct2mr") from a model spec (see module docs)."""
    if direction not in DIRECTION_KEYS:
        raise InputError(f"unknown direction '{direction}'; use mr2ct or ct2mr")
    weights = _weights_file(spec, direction)
    meta = read_metadata(weights)
    if meta is None:
        raise InputError("not a safetensors generator file", weights)
    if "generator_config" in meta:
        info = {"generator_config": json.loads(meta["generator_config"]), "size": int(meta.get("size", 256)),
                "ct_window": meta.get("ct_window", "brain")}
        if meta.get("direction") and meta["direction"] != direction:
            raise InputError(f"this file holds the {meta['direction']} generator, not {direction}", weights)
    else:
        info = _config_from_run(weights)
        if info is None:
            raise InputError("this safetensors file carries no generator config and has no run config.yaml beside "
                             "it; it is not a sccg-edge generator", weights)
    gcfg = GeneratorConfig.from_dict(info["generator_config"])
    model = build_generator(gcfg)
    load_module(model, weights)
    model.eval()
    return LoadedGenerator(model=model, config=gcfg, direction=direction, size=int(info["size"]),
                           ct_window=str(info["ct_window"]), source=weights, meta=meta)
