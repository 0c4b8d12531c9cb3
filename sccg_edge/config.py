"""Run configuration: frozen dataclasses, YAML recipes, ``--set key=value`` overrides, and a resolved dump.

A recipe is a YAML file whose keys mirror the dataclasses below. Unknown keys and wrong types are refused with a
:class:`ConfigError` that names the key, the file and the accepted values; nothing is silently ignored. The resolved
configuration is written as ``config.yaml`` beside every checkpoint, so a run can always be reproduced.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sccg_edge.errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    """Where the paired slices come from and how they are prepared."""

    root: str = ""  # empty: the shared real pairs when present, else the embedded synthetic phantom
    size: int = 256  # slices are fitted to size x size (the paper: 512)
    crop: int = 0  # random training crop (0: train on whole slices); validation always uses whole slices
    flip: bool = True  # random left-right flips (heads are roughly symmetric)
    affine: float = 0.0  # random joint zoom/rotation/shift of each training pair: 0 off; a: zoom 1 +- a,
    #                       rotation +- 100*a degrees, shift +- a/2 of the slice (validation is never augmented)
    ct_window: str = "brain"  # HU window used to map DICOM CT to [0, 1] (PNG pairs are already windowed)
    register: str = "none"  # none | rigid | affine: register each pair's CT onto its MR (mutual information, couch
    #                         removed; sccg_edge/data/register.py) before training, validation and scoring
    train_patients: str = ""  # comma-separated patient ids: a fixed split of your own (empty: the shared data's
    val_patients: str = ""  #   split for the shared pairs, else an automatic 80/10/10 patient split); every
    test_patients: str = ""  #   patient of the data must be named in exactly one of the three


@dataclass(frozen=True)
class ModelConfig:
    """Generator (both directions share it) and discriminator."""

    generator: str = "paper"  # a preset name from sccg_edge.models (paper, paper-flat, student-s, ...)
    ngf: int = 0  # 0: the preset's width
    n_blocks: int = 0  # 0: the preset's residual block count
    ndf: int = 64  # discriminator width (the paper's 64-128-256-512)


@dataclass(frozen=True)
class LossConfig:
    """The hybrid loss of the paper plus CycleGAN's cycle term. lambda_pix = 0 trains unpaired."""

    lambda_adv: float = 1.0
    lambda_pix: float = 100.0
    lambda_str: float = 10.0
    lambda_cyc: float = 10.0
    lambda_idt: float = 0.0
    pix_floor: float = 0.0  # uniform share of the pixel-loss weights (0: the paper's D weights only; 1: plain L1)
    paired: bool = True  # pairs are co-registered; False disables the pixel loss and shuffles the pairing
    lambda_ssim: float = 0.0  # weight of (1 - SSIM) beside the pixel L1 (Zhao et al. 2017); paired data only
    conditional_d: bool = False  # pix2pix's conditional discriminator: D sees (input, output) stacked, not the
    #                              output alone (paired data only; the paper's D is unconditional)


@dataclass(frozen=True)
class OptimConfig:
    """Adam and its schedule."""

    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 8
    epochs: int = 200
    schedule: str = "constant"  # constant | linear (decay to 0 over the second half) | cosine
    warmup_steps: int = 0


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``sccg-edge train`` needs. ``recipe`` names the packaged YAML it started from."""

    recipe: str = "paper"
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "none"  # none | bf16 (CUDA, or CPUs with AVX512-BF16/AMX) | fp16 (CUDA only)
    threads: int = 0  # torch CPU threads (0: torch's default)
    save_every_steps: int = 0  # also checkpoint every N steps inside an epoch (0: only at epoch ends)
    max_steps: int = 0  # stop after this many optimisation steps in total (0: no limit)
    max_minutes: float = 0.0  # stop (after checkpointing) once this much wall time has passed (0: no limit)
    val_max_slices: int = 0  # validate on at most this many slices (0: all of the validation split)
    val_every: int = 1  # validate (and pick the best checkpoint) every N epochs and after the last one
    budget_minutes: float = 0.0  # a time budget for the whole run (over every resume): training stops when it is
    #                              spent and the learning-rate schedule runs over it instead of over the epochs
    budget_clock: str = "wall"  # wall | cpu: what the budget counts; cpu = CPU time of the training process (all its
    #                             threads), which other work on a shared machine does not eat into
    ema: float = 0.0  # decay of an exponential moving average of the generator weights (e.g. 0.999; 0: off); when
    #                   on, validation, the best checkpoint's choice and shipped/evaluated models use the average
    channels_last: bool = False  # NHWC memory layout for the networks and batches (faster convs on some CPUs/GPUs)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


CHOICES: dict[str, tuple[str, ...]] = {
    "device": ("auto", "cpu", "cuda"),
    "amp": ("none", "bf16", "fp16"),
    "optim.schedule": ("constant", "linear", "cosine"),
    "data.register": ("none", "rigid", "affine"),
    "budget_clock": ("wall", "cpu"),
}


def recipe_names() -> list[str]:
    """Names of the packaged recipes (``sccg_edge/recipes/*.yaml``)."""
    return sorted(p.name[:-5] for p in resources.files("sccg_edge.recipes").iterdir() if p.name.endswith(".yaml"))


def load_recipe(name_or_path: str, cls: type = TrainConfig, overrides: dict[str, Any] | None = None) -> Any:
    """Build a config from a packaged recipe name or a YAML path, then apply dotted overrides."""
    import yaml

    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError("recipe file not found; give a packaged recipe name "
                              f"({', '.join(recipe_names())}) or a YAML path", path)
        text, source = path.read_text(), str(path)
    else:
        res = resources.files("sccg_edge.recipes") / f"{name_or_path}.yaml"
        if not res.is_file():
            raise ConfigError(f"unknown recipe '{name_or_path}'; choose one of: {', '.join(recipe_names())}")
        text, source = res.read_text(), f"recipe '{name_or_path}'"
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{source} is not valid YAML{where}: {problem}; fix the file or pass a packaged recipe "
                          f"({', '.join(recipe_names())})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} must be a mapping of keys to values, not {type(raw).__name__}")
    cfg = from_dict(cls, raw, source)
    return apply_overrides(cfg, overrides or {}, source="command line")


def from_dict(cls: type, raw: dict[str, Any], source: str, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a nested dict, refusing unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"{source}: unknown key '{dotted}'; valid keys here: {', '.join(sorted(names))}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{dotted}' must be a mapping, got {value!r}")
            kwargs[key] = from_dict(hint, value, source, prefix=f"{dotted}.")
        else:
            kwargs[key] = _coerce(value, hint, dotted, source)
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, dotted: str, source: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        hint = next(h for h in typing.get_args(hint) if h is not type(None))
    if hint is str and isinstance(value, int) and not isinstance(value, bool):  # YAML reads a bare id "33" as int
        value = str(value)
    if hint is float and isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    ok = (
        (hint is bool and isinstance(value, bool))
        or (hint is int and isinstance(value, int) and not isinstance(value, bool))
        or (hint is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (hint is str and isinstance(value, str))
    )
    if not ok:
        raise ConfigError(f"{source}: '{dotted}' must be {hint.__name__}, got {value!r} ({type(value).__name__})")
    value = float(value) if hint is float else value
    if dotted in CHOICES and value not in CHOICES[dotted]:
        raise ConfigError(f"{source}: '{dotted}' must be one of {', '.join(CHOICES[dotted])}, got {value!r}")
    return value


def apply_overrides(cfg: Any, overrides: dict[str, Any], source: str = "overrides") -> Any:
    """Return ``cfg`` with dotted keys replaced (``{"optim.lr": 2e-4}``), type-checked like a recipe."""
    data = to_dict(cfg)
    for dotted, value in overrides.items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"{source}: unknown key '{dotted}'")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"{source}: unknown key '{dotted}'; valid keys here: {', '.join(sorted(node))}")
        node[parts[-1]] = value
    return from_dict(type(cfg), data, source)


def parse_set(items: list[str]) -> dict[str, Any]:
    """Parse ``--set key=value`` items; values are read as YAML scalars (``1e-4``, ``true``, ``cosine``)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got '{item}'")
        key, text = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(text)
    return out


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of a config dataclass."""
    return dataclasses.asdict(cfg)


def dump_yaml(cfg: Any, path: Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    import yaml

    from sccg_edge.utils.fs import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))
