"""The one fidelity scorer: model outputs against ground truth (or against another model), on the paper's scale.

Every stage that scores a model calls this module (train and distill validation, ``evaluate``, the model cards of
``quantize``, ``export`` and ``ship``, ``bench``, ``quant-table``, the review pages and the demo):

* :func:`to_255` is the mapping from the model range [-1, 1] to the paper's 0..255 scale, ``(y + 1) * 127.5``
  clipped to [0, 255] (float64 unless asked otherwise);
* :func:`slice_scores` scores one slice and :func:`score` averages
  :func:`~sccg_edge.metrics.image.image_metrics` (PSNR, SSIM, MAE, IoU@20) over slices, whole slice and, given masks,
  inside them (``head_psnr``, ``head_ssim``, ``head_mae``; :func:`head_masks`);
* :func:`fidelity` scores any :data:`~sccg_edge.backends.apply.Run` (a :class:`~sccg_edge.backends.Backend` or a
  callable) against pairs and against an FP32 reference run on the same inputs;
* :func:`validation_scores` is the per-direction summary (``sct_*``, ``smr_*`` and their mean SSIM as ``score``)
  of training and distillation; :func:`by_direction` flattens any per-direction records the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from sccg_edge.backends.apply import Run, run_batched
from sccg_edge.metrics.image import head_mask_from_uint8, image_metrics, psnr, summarize

if TYPE_CHECKING:
    from sccg_edge.data.slices import SliceSet

DIRECTIONS = ("mr2ct", "ct2mr")
PREFIX = {"mr2ct": "sct", "ct2mr": "smr"}  # synthetic CT from MR, synthetic MR from CT
HEAD_KEYS = ("psnr", "ssim", "mae")
AGREEMENT_CAP_DB = 100.0  # identical outputs have an infinite PSNR; agreement is capped so that it can be averaged


def to_255(x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """Model range [-1, 1] -> the paper's 0..255 scale, ``clip((x + 1) * 127.5, 0, 255)``; shape kept."""
    return np.clip((np.asarray(x, dtype=dtype) + 1.0) * 127.5, 0.0, 255.0)


def image_255(x: np.ndarray) -> np.ndarray:
    """One slice (H, W), (1, H, W) or (1, 1, H, W) in [-1, 1] -> (H, W) float64 on 0..255."""
    arr = np.asarray(x)
    return to_255(arr).reshape(arr.shape[-2:])


def slice_scores(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """PSNR, SSIM, MAE and IoU@20 of one slice against another, both in [-1, 1], on the 0..255 scale."""
    return image_metrics(image_255(pred), image_255(gt), scale="uint8")


def head_masks(ct: np.ndarray, mr: np.ndarray) -> list[np.ndarray]:
    """Head mask of each co-registered pair of (N, 1, S, S) slices in [-1, 1].

    A pair's mask is the union of the largest filled components of its CT and MR above 20/255: it keeps the head and
    drops the scanner couch that the ground-truth CTs show and no MR can predict. The threshold is applied on the
    slices' own float precision, as the committed head metrics were measured.
    """
    masks = []
    for c, m in zip(ct, mr):
        mask = np.zeros(c.shape[-2:], dtype=bool)
        for img in (to_255(c[0], dtype=c.dtype.type), to_255(m[0], dtype=m.dtype.type)):
            if (img > 20).any():
                mask |= head_mask_from_uint8(img)
        masks.append(mask)
    return masks


def score(pred: np.ndarray, gt: np.ndarray, masks: Iterable[np.ndarray] | None = None,
          skip_inf: bool = False) -> dict[str, float]:
    """Mean metrics of predictions vs ground truth, (N, 1, H, W) in [-1, 1] each, on the 0..255 scale.

    Args:
        pred: the model's outputs.
        gt: the ground truth (or the outputs of a reference model, for agreement).
        masks: one boolean (H, W) mask per slice: adds ``head_psnr``, ``head_ssim`` and ``head_mae`` inside them.
        skip_inf: average PSNR over the slices where it is finite (identical slices give ``inf``), ``inf`` when
            every slice is identical; otherwise an ``inf`` stays in the mean.

    Returns:
        ``{"psnr", "ssim", "mae", "iou", "iou_threshold"}`` (+ ``head_*``).
    """
    return score_255([image_255(p) for p in pred], [image_255(t) for t in gt], masks, skip_inf)


def score_255(pred: Iterable[np.ndarray], gt: Iterable[np.ndarray], masks: Iterable[np.ndarray] | None = None,
              skip_inf: bool = False) -> dict[str, float]:
    """:func:`score` of slices already on the 0..255 scale, (H, W) each."""
    pred, gt = list(pred), list(gt)
    rows = [image_metrics(p, t, scale="uint8") for p, t in zip(pred, gt)]
    out = _mean_finite(rows) if skip_inf else summarize(rows)
    if masks is not None:
        head = summarize([image_metrics(p, t, scale="uint8", mask=m) for p, t, m in zip(pred, gt, masks)])
        out.update({f"head_{k}": head[k] for k in HEAD_KEYS})
    return out


def _mean_finite(rows: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for key in rows[0]:
        vals = np.array([r[key] for r in rows], dtype=np.float64)
        out[key] = float(np.inf) if np.isinf(vals).all() else float(np.mean(vals[np.isfinite(vals)]))
    return out


def capped_psnr(pred: np.ndarray, ref: np.ndarray, cap: float = AGREEMENT_CAP_DB) -> float:
    """PSNR (0..255) of one slice against another, capped at ``cap`` dB (identical slices give ``cap``)."""
    return min(psnr(image_255(pred), image_255(ref), 255.0), cap)


def fidelity(run: Run, src: np.ndarray, gt: np.ndarray, reference: Run | None = None) -> dict[str, float]:
    """Fidelity of ``run`` on slices ``src`` against ``gt``, beside its FP32 ``reference`` (batch 1 each).

    Returns:
        ``slices``, ``psnr``/``ssim``/``mae`` vs ground truth; with a reference also its ``fp32_*`` figures,
        ``psnr_drop``/``ssim_drop`` (reference minus ``run``, so a loss is positive) and ``agreement_psnr`` (mean
        capped PSNR between the two outputs).
    """
    out = run_batched(run, src)
    mine = score(out, gt)
    rec = {"slices": len(src), "psnr": mine["psnr"], "ssim": mine["ssim"], "mae": mine["mae"]}
    if reference is not None:
        ref = run_batched(reference, src)
        base = score(ref, gt)
        rec.update({"fp32_psnr": base["psnr"], "fp32_ssim": base["ssim"], "fp32_mae": base["mae"],
                    "psnr_drop": base["psnr"] - mine["psnr"], "ssim_drop": base["ssim"] - mine["ssim"],
                    "agreement_psnr": float(np.mean([capped_psnr(o, r) for o, r in zip(out, ref)]))})
    return rec


def validation_scores(runs: Mapping[str, Run], val: SliceSet, max_slices: int = 0,
                      batch: int = 4) -> dict[str, float]:
    """Metrics of each direction's run on the first ``max_slices`` (0: all) validation slices, prefixed ``sct_`` /
    ``smr_``, and their mean SSIM as ``score`` (what picks a run's best checkpoint)."""
    n = len(val) if not max_slices else min(max_slices, len(val))
    part = val.subset(range(n))
    out: dict[str, float] = {}
    for direction, run in runs.items():
        src, tgt = part.pair(direction)
        out.update({f"{PREFIX[direction]}_{k}": v for k, v in score(run_batched(run, src, batch), tgt).items()})
    out["score"] = sum(out[f"{PREFIX[d]}_ssim"] for d in runs) / len(runs)
    return out


def by_direction(per: Mapping[str, Mapping[str, float]], mean: bool = True) -> dict[str, float]:
    """Flatten ``{"mr2ct": rec, "ct2mr": rec}`` into ``sct_*`` / ``smr_*`` keys (plus ``mean_*`` of the shared keys)."""
    flat: dict[str, float] = {}
    for direction, rec in per.items():
        flat.update({f"{PREFIX[direction]}_{k}": v for k, v in rec.items()})
    keys = set.intersection(*(set(r) for r in per.values())) if per else set()
    if mean:
        for key in sorted(keys):
            flat[f"mean_{key}"] = float(np.mean([per[d][key] for d in per]))
    return flat


