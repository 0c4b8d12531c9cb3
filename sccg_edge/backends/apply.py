"""Running a backend (or any callable of the same contract) over many slices.

``Run`` is the contract of :class:`~sccg_edge.backends.base.Backend`: a batch (B, 1, H, W) float32 in [-1, 1] in, the
translated batch out. :func:`run_batched` feeds N slices through it in batches; :func:`run_fitted` runs one [0, 1]
slice of any size at the model's own size and puts the result back on the slice's grid.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sccg_edge.data.transforms import fit_to_size, model_to_unit, restore_from_fit, unit_to_model

Run = Callable[[np.ndarray], np.ndarray]  # (B, 1, H, W) float32 in [-1, 1] -> (B, 1, H, W) float32 in [-1, 1]


def run_batched(run: Run, x: np.ndarray, batch: int = 1) -> np.ndarray:
    """``run`` over slices ``x`` (N, 1, H, W) in batches of ``batch`` (exported artifacts take a batch of 1)."""
    outs = [run(np.ascontiguousarray(x[i:i + batch], dtype=np.float32)) for i in range(0, len(x), batch)]
    return np.concatenate(outs, axis=0)


def run_fitted(run: Run, unit: np.ndarray, size: int) -> np.ndarray:
    """One (H, W) slice in [0, 1] through ``run`` at ``size`` x ``size``, returned in [0, 1] on the input grid.

    The slice is resized and padded to the model's size (:func:`~sccg_edge.data.transforms.fit_to_size`) and the
    output is mapped back, so it overlays the input exactly.
    """
    fitted, info = fit_to_size(unit, size)
    y = run(np.ascontiguousarray(unit_to_model(fitted)[None, None], dtype=np.float32))[0, 0]
    return restore_from_fit(model_to_unit(y), info).clip(0.0, 1.0)
