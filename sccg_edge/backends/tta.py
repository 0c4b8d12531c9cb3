"""Test-time augmentation around any inference callable (a Backend, a translator function).

``flip``: the mean of the prediction and the left-right mirrored prediction of the mirrored input. Heads are
roughly left-right symmetric, so this averages out some of a generator's asymmetric errors at twice the inference
cost; ``sccg-edge evaluate --tta flip`` and the cross-validation report measure what it buys.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sccg_edge.errors import ConfigError

TTA_MODES = ("none", "flip")

Infer = Callable[[np.ndarray], np.ndarray]  # (N, C, H, W) float32 -> (N, C, H, W) float32


def with_tta(fn: Infer, mode: str = "none") -> Infer:
    """``fn`` itself for "none"; for "flip", ``0.5 * (fn(x) + mirror(fn(mirror(x))))``."""
    if mode not in TTA_MODES:
        raise ConfigError(f"unknown test-time augmentation {mode!r}; choose one of: {', '.join(TTA_MODES)}")
    if mode == "none":
        return fn

    def flipped(x: np.ndarray) -> np.ndarray:
        mirrored = np.ascontiguousarray(x[..., ::-1])
        return 0.5 * (np.asarray(fn(x)) + np.asarray(fn(mirrored))[..., ::-1])

    return flipped
