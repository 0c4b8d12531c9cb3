"""Configuration of ``sccg-edge bench`` (:class:`SuiteConfig`) and ``sccg-edge quant-table``
(:class:`QuantTableConfig`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sccg_edge.config.bounds import COUNT_MAX, SIZE_MAX, THREADS_MAX, bounded
from sccg_edge.config.loader import apply_overrides, load_config, normalize
from sccg_edge.errors import ConfigError

DEFAULT_VARIANTS = ("ov-fp16", "ov-int8", "qdq-int8", "ov-int8-budget@0.3", "ov-int8-budget@0.05", "ov-int8-qat",
                    "qdq-int8-qat")


@dataclass(frozen=True)
class SuiteConfig:
    """What to benchmark (a YAML suite such as ``benchmarks/cpu.yaml``, flags override it)."""

    models: tuple[str, ...] = ()  # empty: shipped models, else untrained presets paper,student-s
    backends: tuple[str, ...] = ()  # empty: every backend available on the device
    precisions: tuple[str, ...] = ("fp32", "fp16", "int8")
    sizes: tuple[int, ...] = bounded((512, 256), 16, SIZE_MAX, multiple=4)
    device: str = "cpu"
    threads: int = bounded(0, 0, THREADS_MAX)  # 0: all usable cores
    warmup: int = 3
    iters: int = bounded(10, 1, COUNT_MAX)
    heavy_gmac: float = 20.0  # cases above this many GMAC per run use heavy_warmup / heavy_iters
    heavy_warmup: int = 1
    heavy_iters: int = bounded(3, 1, COUNT_MAX)
    heavy_lowp_max_size: int = 256  # heavy models: non-fp32 precisions only at sizes <= this
    fidelity_size: int = bounded(256, 16, SIZE_MAX, multiple=4, off=True)  # fidelity only at this size (0: none)
    fidelity_slices: int = bounded(0, 0, COUNT_MAX)  # test slices per direction for fidelity (0: every test slice)
    calib_slices: int = 16
    paper_baseline: bool = True  # always time the paper architecture in fp32
    data: str = ""
    seed: int = 0
    tta: str = "none"  # "flip": every case is also timed and scored with flip test-time averaging (tta_flip_*)

    def __post_init__(self) -> None:
        normalize(self)
        if self.tta not in ("none", "flip"):
            raise ConfigError(f"tta must be none or flip, got {self.tta!r}")


def load_suite_config(path: str | Path | None = None, **overrides: Any) -> SuiteConfig:
    """A SuiteConfig from a YAML file (e.g. benchmarks/cpu.yaml) and keyword overrides (None values ignored)."""
    cfg = load_config(str(path), SuiteConfig) if path else SuiteConfig()
    return apply_overrides(cfg, {k: v for k, v in overrides.items() if v is not None}, source="command line")


@dataclass(frozen=True)
class QuantTableConfig:
    """What the quantization table holds: variants (see :mod:`sccg_edge.bench.quant_table`) and directions."""

    variants: tuple[str, ...] = DEFAULT_VARIANTS
    directions: tuple[str, ...] = ("mr2ct", "ct2mr")
    size: int = bounded(256, 16, SIZE_MAX, multiple=4)  # static input size of every artifact (the size the shipped models were trained at)
    data: str = ""  # paired data folder (empty: the shared real pairs, else the embedded phantom)
    qat_steps: int = 300
    threads: int = bounded(0, 0, THREADS_MAX)  # CPU threads for timing (0: runtime default)
    warmup: int = 3
    iters: int = bounded(10, 1, COUNT_MAX)

    def __post_init__(self) -> None:
        normalize(self)
