"""The benchmark suite: which (model, backend, precision, size) cases to run, and running them.

Latency is measured on the mr2ct generator (both directions share one architecture); fidelity is measured for
both directions on a few test slices, for the cases at ``fidelity_size`` only (the slice size the models were
trained at), so that the default run stays within minutes on a small CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sccg_edge.config import SuiteConfig
from sccg_edge.errors import ConfigError
from sccg_edge.models import GENERATOR_PRESETS, build_generator
from sccg_edge.models.loading import load_generator, save_generator, shipped_model_names

UNTRAINED = "untrained (random weights)"
DEFAULT_PRESETS = ("paper", "student-s")


@dataclass
class ModelEntry:
    """A model under test: its torch artifact per direction and how to label it."""

    name: str
    specs: dict[str, Path]
    models: dict[str, Any]
    label: str
    trained: bool
    arch: str
    macs_per_size: dict[int, int] = field(default_factory=dict)
    params: int = 0
    baseline_only: bool = False


def _is_paper_arch(cfg: Any) -> bool:
    return (cfg.arch, cfg.ngf, cfg.n_blocks, cfg.block) == ("resnet", 64, 9, "plain")


def resolve_models(cfg: SuiteConfig, cache: Path) -> list[ModelEntry]:
    """Models to run: given specs, else shipped models, else untrained presets; plus the paper baseline."""
    names = list(cfg.models) or shipped_model_names() or list(DEFAULT_PRESETS)
    entries = [_entry(n, cache, cfg.seed, untrained=(n in GENERATOR_PRESETS and not _is_spec(n))) for n in names]
    seen: set[str] = set()
    for i, e in enumerate(entries):
        if e.name in seen:
            e.name = f"{e.name}#{i}"
        seen.add(e.name)
    if cfg.paper_baseline and not any(_is_paper_arch(e.models["mr2ct"].config) for e in entries):
        base = _entry("paper", cache, cfg.seed, untrained=True)
        base.baseline_only = True
        base.label = f"paper architecture FP32 latency baseline, {UNTRAINED}"
        entries.append(base)
    return entries


def _is_spec(name: str) -> bool:
    return Path(name).exists() or name in shipped_model_names()


def _entry(name: str, cache: Path, seed: int, untrained: bool) -> ModelEntry:
    specs, models = {}, {}
    for i, direction in enumerate(("mr2ct", "ct2mr")):
        if untrained:
            torch.manual_seed(seed + i)
            model = build_generator(name).eval()
            path = cache / slug(name) / f"g_{direction}.safetensors"
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                save_generator(model, path, direction, 256)
        else:
            loaded = load_generator(name, direction)
            model, path = loaded.model, Path(name)
        specs[direction], models[direction] = path, model
    gcfg = models["mr2ct"].config
    arch = f"{gcfg.arch} ngf{gcfg.ngf} {gcfg.n_blocks}x{gcfg.block}"
    label = f"{arch}, {UNTRAINED}" if untrained else arch
    return ModelEntry(name=display_name(name), specs=specs, models=models, label=label, trained=not untrained,
                      arch=arch)


def display_name(spec: str) -> str:
    """Short name of a model spec: a path's folder or file stem, else the name itself."""
    path = Path(spec)
    if not path.exists():
        return str(spec)
    return path.stem if path.is_file() else path.name


def slug(name: str) -> str:
    """``name`` as a file-name-safe folder name (at most 60 characters)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name))[-60:]


@dataclass(frozen=True)
class Case:
    model: str
    backend: str
    precision: str
    size: int


def build_cases(cfg: SuiteConfig, entries: list[ModelEntry], backends: list[str]) -> list[Case]:
    """Every model x backend x precision x size, minus what the config leaves out for heavy/baseline models."""
    precisions, sizes = cfg.precisions, cfg.sizes
    cases = []
    for e in entries:
        for size in sizes:
            heavy = e.macs_per_size.get(size, 0) > cfg.heavy_gmac * 1e9
            for backend in backends:
                for precision in precisions:
                    if e.baseline_only and precision != "fp32":
                        continue
                    if heavy and precision != "fp32" and size > cfg.heavy_lowp_max_size:
                        continue
                    cases.append(Case(e.name, backend, precision, size))
    return cases


def teacher_name(entries: list[ModelEntry]) -> str:
    """The FP32 reference for agreement: "teacher" if present, else the paper-architecture model, else the first."""
    for e in entries:
        if e.name == "teacher":
            return e.name
    for e in entries:
        if _is_paper_arch(e.models["mr2ct"].config) and not e.baseline_only:
            return e.name
    return entries[0].name


def check_sizes(cfg: SuiteConfig) -> None:
    """Refuse sizes the generators cannot take and iteration counts that time nothing."""
    for s in cfg.sizes:
        if s < 8 or s % 4:
            raise ConfigError(f"sizes must be positive multiples of 4 (>= 8), got '{s}'")
    if cfg.iters < 1 or cfg.warmup < 0 or cfg.heavy_iters < 1 or cfg.heavy_warmup < 0:
        raise ConfigError("iters must be >= 1 and warmup >= 0")


def random_input(size: int, batch: int = 1, seed: int = 0) -> np.ndarray:
    """A seeded batch (B, 1, S, S) of uniform noise in [-1, 1]: the timing input (latency does not depend on it)."""
    return (np.random.default_rng(seed).random((batch, 1, size, size), dtype=np.float32) * 2 - 1)
