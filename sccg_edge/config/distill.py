"""Configuration of ``sccg-edge distill``: frozen dataclasses read with :func:`sccg_edge.config.load_recipe`.

Load with ``load_recipe("distill", cls=DistillConfig, overrides=...)`` (packaged recipe) or a YAML path. Layer
pairs for feature distillation are a list of ``"student_layer:teacher_layer"`` items, e.g.
``[enc:enc, block2:block4, block5:block8]``; an empty list disables them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sccg_edge.config.bounds import THREADS_MAX, WIDTH_MAX, bounded
from sccg_edge.config.data import DataConfig
from sccg_edge.config.loader import CHOICES, load_config, normalize
from sccg_edge.config.train import OptimConfig
from sccg_edge.errors import ConfigError

DIRECTION_CHOICES = ("both", "mr2ct", "ct2mr")


@dataclass(frozen=True)
class StudentConfig:
    """The student generator: a preset (student-s, student-ps, student-xs, ...) and optional overrides."""

    preset: str = "student-s"
    ngf: int = bounded(0, 1, WIDTH_MAX, off=True)  # 0: the preset's width
    n_blocks: int = bounded(0, 1, 64, off=True)  # 0: the preset's residual block count

    def overrides(self) -> dict[str, int]:
        """Non-zero width/depth overrides for ``build_generator``."""
        return {k: v for k, v in (("ngf", self.ngf), ("n_blocks", self.n_blocks)) if v}

    def __post_init__(self) -> None:
        normalize(self)


@dataclass(frozen=True)
class DistillLossConfig:
    """Weights of the distillation terms (0 switches a term off)."""

    lambda_out: float = 100.0  # L1(student(x), teacher(x))
    lambda_gt: float = 50.0  # L1(student(x), y) on co-registered pairs (needs paired: true)
    lambda_feat: float = 10.0  # feature distillation on feature_pairs through learned 1x1 adapters
    feature_pairs: tuple[str, ...] = ("enc:enc",)  # "student_layer:teacher_layer" items (names from
    #                                                 Generator.forward_features)
    feat_distance: str = "mse"  # mse | l1
    lambda_adv: float = 0.0  # LSGAN adversarial term; D starts from the teacher's D when the teacher run has one
    ndf: int = bounded(64, 1, WIDTH_MAX)  # width of a fresh discriminator (a teacher's D keeps its own width)
    lambda_str: float = 0.0  # SC structure loss between the input and the student's translation
    paired: bool = True  # pairs are co-registered (enables lambda_gt)

    def __post_init__(self) -> None:
        normalize(self)


@dataclass(frozen=True)
class DistillConfig:
    """Everything ``sccg-edge distill`` needs. ``teacher`` is the teacher model spec recorded for resuming."""

    recipe: str = "distill"
    teacher: str = ""  # model spec: shipped name, model folder or teacher run folder
    directions: str = "both"  # both | mr2ct | ct2mr
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "none"  # none | bf16 (CUDA, or CPUs with AVX512-BF16/AMX) | fp16 (CUDA only)
    threads: int = bounded(0, 0, THREADS_MAX)
    save_every_steps: int = 0
    max_steps: int = 0
    max_minutes: float = 0.0
    budget_minutes: float = 0.0  # a time budget over every resume; the learning-rate schedule runs over it (as train)
    budget_clock: str = "wall"  # wall | cpu (CPU time of the process, all threads)
    val_max_slices: int = 0
    student: StudentConfig = field(default_factory=StudentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: DistillLossConfig = field(default_factory=DistillLossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        normalize(self)
        if self.directions not in DIRECTION_CHOICES:
            raise ConfigError(f"'directions' must be one of {', '.join(DIRECTION_CHOICES)}, got {self.directions!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"'device' must be one of auto, cpu, cuda, got {self.device!r}")
        if self.amp not in CHOICES["amp"]:
            raise ConfigError(f"'amp' must be one of {', '.join(CHOICES['amp'])}, got {self.amp!r}")
        if self.budget_clock not in ("wall", "cpu"):
            raise ConfigError(f"'budget_clock' must be wall or cpu, got {self.budget_clock!r}")
        if self.loss.feat_distance not in ("mse", "l1"):
            raise ConfigError(f"'loss.feat_distance' must be mse or l1, got {self.loss.feat_distance!r}")

    @property
    def direction_list(self) -> list[str]:
        """The directions to distil, in a fixed order."""
        return ["mr2ct", "ct2mr"] if self.directions == "both" else [self.directions]


def load_distill_config(name_or_path: str = "distill", overrides: dict[str, Any] | None = None) -> DistillConfig:
    """A :class:`DistillConfig` from a packaged recipe name or YAML path (e.g. a run's config.yaml)."""
    return load_config(name_or_path, DistillConfig, overrides)
