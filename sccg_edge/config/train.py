"""Configuration of ``sccg-edge train`` (the scCycleGAN teacher) and ``sccg-edge cv`` (its cross-validation)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sccg_edge.config.bounds import COUNT_MAX, THREADS_MAX, WIDTH_MAX, bounded
from sccg_edge.config.data import DataConfig
from sccg_edge.config.loader import C, load_config, normalize
from sccg_edge.errors import ConfigError


@dataclass(frozen=True)
class ModelConfig:
    """Generator (both directions share it) and discriminator."""

    generator: str = "paper"  # a preset name from sccg_edge.models (paper, paper-flat, student-s, ...)
    ngf: int = bounded(0, 1, WIDTH_MAX, off=True)  # 0: the preset's width
    n_blocks: int = bounded(0, 1, 64, off=True)  # 0: the preset's residual block count
    ndf: int = bounded(64, 1, WIDTH_MAX)  # discriminator width (the paper's 64-128-256-512)

    def overrides(self) -> dict[str, int]:
        """Width/depth overrides of the generator preset for ``build_generator`` (0 keeps the preset's value)."""
        return {k: v for k, v in (("ngf", self.ngf), ("n_blocks", self.n_blocks)) if v}

    def __post_init__(self) -> None:
        normalize(self)


@dataclass(frozen=True)
class LossConfig:
    """The hybrid loss of the paper plus CycleGAN's cycle term. lambda_pix = 0 trains unpaired."""

    lambda_adv: float = 1.0
    lambda_pix: float = 100.0
    lambda_str: float = 10.0
    lambda_cyc: float = 10.0
    lambda_idt: float = 0.0
    pix_floor: float = bounded(0.0, 0.0, 1.0)  # uniform share of the pixel-loss weights (0: the paper's D weights only; 1: plain L1)
    paired: bool = True  # pairs are co-registered; False disables the pixel loss and shuffles the pairing
    lambda_ssim: float = 0.0  # weight of (1 - SSIM) beside the pixel L1 (Zhao et al. 2017); paired data only
    conditional_d: bool = False  # pix2pix's conditional discriminator: D sees (input, output) stacked, not the
    #                              output alone (paired data only; the paper's D is unconditional)

    def __post_init__(self) -> None:
        normalize(self)


@dataclass(frozen=True)
class OptimConfig:
    """Adam and its schedule."""

    lr: float = bounded(1e-4, 0.0, 1.0, lo_open=True)
    beta1: float = bounded(0.5, 0.0, 1.0, hi_open=True)
    beta2: float = bounded(0.999, 0.0, 1.0, hi_open=True)
    batch_size: int = bounded(8, 1, 4096)
    epochs: int = bounded(200, 1, COUNT_MAX)
    schedule: str = "constant"  # constant | linear (decay to 0 over the second half) | cosine
    warmup_steps: int = 0

    def __post_init__(self) -> None:
        normalize(self)


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``sccg-edge train`` needs. ``recipe`` names the packaged YAML it started from."""

    recipe: str = "paper"
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "none"  # none | bf16 (CUDA, or CPUs with AVX512-BF16/AMX) | fp16 (CUDA only)
    threads: int = bounded(0, 0, THREADS_MAX)  # torch CPU threads (0: torch's default)
    save_every_steps: int = 0  # also checkpoint every N steps inside an epoch (0: only at epoch ends)
    max_steps: int = 0  # stop after this many optimisation steps in total (0: no limit)
    max_minutes: float = 0.0  # stop (after checkpointing) once this much wall time has passed (0: no limit)
    val_max_slices: int = 0  # validate on at most this many slices (0: all of the validation split)
    val_every: int = bounded(1, 1, COUNT_MAX)  # validate (and pick the best checkpoint) every N epochs and after the last one
    budget_minutes: float = 0.0  # a time budget for the whole run (over every resume): training stops when it is
    #                              spent and the learning-rate schedule runs over it instead of over the epochs
    budget_clock: str = "wall"  # wall | cpu: what the budget counts; cpu = CPU time of the training process (all its
    #                             threads), which other work on a shared machine does not eat into
    ema: float = bounded(0.0, 0.0, 1.0, hi_open=True)  # decay of an exponential moving average of the generator weights (e.g. 0.999; 0: off); when
    #                   on, validation, the best checkpoint's choice and shipped/evaluated models use the average
    channels_last: bool = False  # NHWC memory layout for the networks and batches (faster convs on some CPUs/GPUs)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        normalize(self)


@dataclass(frozen=True)
class CvConfig:
    """What ``sccg-edge cv`` runs: a recipe with overrides, over ``folds`` patient folds, each for a budget."""

    recipe: str = "cpu"
    folds: int = bounded(4, 2, 1000)
    budget_minutes: float = bounded(30.0, 0.0, lo_open=True)
    out: str = ""
    data: str = ""  # empty: the shared pairs when present, else the embedded phantom
    only: tuple[int, ...] = ()  # train and score only these folds (the report covers every finished fold)
    report_only: bool = False  # train nothing: score finished folds not yet scored, and write the report
    students: tuple[str, ...] = ()  # student presets distilled from each fold's teacher (on the fold's training
    #                                 patients) and scored beside it on the fold's test patients
    student_budget_minutes: float = bounded(10.0, 0.0, lo_open=True)  # per student and fold, on the teacher's budget clock
    student_overrides: dict[str, Any] = field(default_factory=dict)  # --student-set key=value of distill-cpu
    overrides: dict[str, Any] = field(default_factory=dict)  # --set key=value of the recipe

    def __post_init__(self) -> None:
        normalize(self)
        if self.folds < 2:
            raise ConfigError(f"--folds {self.folds}: cross-validation needs at least 2 folds")
        if not (self.budget_minutes > 0 and math.isfinite(self.budget_minutes)):
            raise ConfigError(f"--budget-minutes {self.budget_minutes}: give a positive number of minutes per fold")
        bad = [k for k in self.only if not 0 <= k < self.folds]
        if bad:
            raise ConfigError(f"--only {bad}: folds are numbered 0..{self.folds - 1}")
        reserved = {"data.train_patients", "data.val_patients", "data.test_patients", "budget_minutes"}
        clash = sorted(reserved & set(self.overrides))
        if clash:
            raise ConfigError(f"--set {', '.join(clash)}: cross-validation sets these itself per fold")


def load_recipe(name_or_path: str, cls: type[C] = TrainConfig,  # type: ignore[assignment]
                overrides: dict[str, Any] | None = None) -> C:
    """A config from a packaged recipe name or a YAML path (by default a :class:`TrainConfig`), with overrides."""
    return load_config(name_or_path, cls, overrides)
