"""Fidelity of a benchmarked artifact: against ground truth, against the FP32 teacher, and relative to its FP32 source.

All metrics come from :func:`sccg_edge.metrics.score.score` on the paper's 0..255 scale; a benchmark averages PSNR
over the slices where it is finite (an artifact that reproduces its reference exactly scores ``inf`` agreement).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sccg_edge.config import DataConfig
from sccg_edge.data.slices import SliceSet, load_splits, resolve_data_root
from sccg_edge.metrics.score import score

KEYS = ("psnr", "ssim", "mae", "iou")


def load_test_slices(size: int, data: str | None = None, limit: int = 4) -> tuple[SliceSet, str]:
    """Up to ``limit`` slices of the test split (spread along the head; 0: all) fitted to ``size``, and a description
    of the data: the real shared pairs when present, else the embedded phantom, or ``data`` when given."""
    cfg = DataConfig(root=data or "", size=size)
    _, description = resolve_data_root(cfg)
    splits = load_splits(cfg)
    test = splits.get("test") or splits.get("val") or splits["train"]
    return test.spread(limit), description


def _scores(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    full = score(pred, ref, skip_inf=True)
    return {k: full[k] for k in KEYS}


def fidelity_record(pred: np.ndarray, gt: np.ndarray, teacher_ref: np.ndarray | None,
                    source_ref: np.ndarray | None) -> dict[str, Any]:
    """Metrics of one artifact's outputs ``pred`` for one direction.

    Args:
        pred: the artifact's outputs (N, 1, H, W) in [-1, 1].
        gt: ground truth, same shape.
        teacher_ref: the FP32 teacher's outputs on the same inputs (agreement), or None.
        source_ref: the FP32 source model's outputs (the model this artifact was made from), or None.

    Returns:
        ``psnr, ssim, mae, iou`` vs ground truth; ``agree_psnr, agree_ssim, agree_mae`` vs the teacher;
        ``d_psnr, d_ssim, d_mae`` = artifact minus FP32 source (both against ground truth).
    """
    rec: dict[str, Any] = _scores(pred, gt)
    if teacher_ref is not None:
        agree = _scores(pred, teacher_ref)
        rec.update({f"agree_{k}": agree[k] for k in ("psnr", "ssim", "mae")})
    if source_ref is not None:
        src = _scores(source_ref, gt)
        rec.update({f"d_{k}": rec[k] - src[k] for k in ("psnr", "ssim", "mae")})
    return rec
