"""Fidelity of an artifact: against ground truth, against the FP32 teacher, and relative to its FP32 source.

All metrics are on the paper's 0..255 scale (model output in [-1, 1] mapped by ``(y + 1) * 127.5``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sccg_edge.backends.base import Backend

DIRECTIONS = ("mr2ct", "ct2mr")


@dataclass
class TestSlices:
    """Paired test slices (N, 1, S, S) float32 in [-1, 1] and where they come from."""

    ct: np.ndarray
    mr: np.ndarray
    names: list[str]
    source: str

    def pair(self, direction: str) -> tuple[np.ndarray, np.ndarray]:
        """(input, ground truth) of ``direction``."""
        return (self.mr, self.ct) if direction == "mr2ct" else (self.ct, self.mr)


def load_test_slices(size: int, data: str | None = None, limit: int = 4) -> TestSlices:
    """Up to ``limit`` slices of the test split (spread along the head) fitted to ``size``.

    Uses the real shared pairs when present, else the embedded phantom, or ``data`` when given.
    """
    from sccg_edge.config import DataConfig
    from sccg_edge.train.slices import load_splits, resolve_data_root

    cfg = DataConfig(root=data or "", size=size)
    _, description = resolve_data_root(cfg)
    splits = load_splits(cfg)
    test = splits.get("test") or splits.get("val") or splits["train"]
    n = len(test)
    idx = np.unique(np.linspace(0, n - 1, num=min(limit, n)).round().astype(int)) if limit else np.arange(n)
    return TestSlices(ct=test.ct[idx].numpy(), mr=test.mr[idx].numpy(), names=[test.names[i] for i in idx],
                      source=description)


def translate_all(backend: Backend, src: np.ndarray, batch: int = 1) -> np.ndarray:
    """Run ``backend`` over ``src`` (N, 1, H, W) in batches of ``batch``."""
    outs = [backend(np.ascontiguousarray(src[i:i + batch])) for i in range(0, len(src), batch)]
    return np.concatenate(outs, axis=0)


def to_255(arr: np.ndarray) -> np.ndarray:
    """(N, 1, H, W) in [-1, 1] -> (N, H, W) float64 on 0..255 (clipped)."""
    return np.clip((np.asarray(arr, dtype=np.float64)[:, 0] + 1.0) * 127.5, 0.0, 255.0)


def mean_metrics(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Mean PSNR/SSIM/MAE/IoU over slices of two (N, 1, H, W) arrays in [-1, 1], on 0..255."""
    from sccg_edge.metrics import image_metrics

    rows = [image_metrics(p, g, scale="uint8") for p, g in zip(to_255(pred), to_255(gt))]
    out = {}
    for key in ("psnr", "ssim", "mae", "iou"):
        vals = np.array([r[key] for r in rows], dtype=np.float64)
        out[key] = float(np.inf) if np.isinf(vals).all() else float(np.mean(vals[np.isfinite(vals)]))
    return out


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
    rec: dict[str, Any] = dict(mean_metrics(pred, gt))
    if teacher_ref is not None:
        agree = mean_metrics(pred, teacher_ref)
        rec.update({f"agree_{k}": agree[k] for k in ("psnr", "ssim", "mae")})
    if source_ref is not None:
        src = mean_metrics(source_ref, gt)
        rec.update({f"d_{k}": rec[k] - src[k] for k in ("psnr", "ssim", "mae")})
    return rec


def combine_directions(per_direction: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Flatten {"mr2ct": rec, "ct2mr": rec} into ``sct_*`` / ``smr_*`` keys plus their means as ``mean_*``."""
    prefix = {"mr2ct": "sct", "ct2mr": "smr"}
    flat: dict[str, Any] = {}
    for direction, rec in per_direction.items():
        flat.update({f"{prefix[direction]}_{k}": v for k, v in rec.items()})
    keys = set.intersection(*(set(r) for r in per_direction.values())) if per_direction else set()
    for key in sorted(keys):
        flat[f"mean_{key}"] = float(np.mean([per_direction[d][key] for d in per_direction]))
    return flat
