"""Image-quality metrics (PSNR, SSIM, MAE, IoU) on the paper's 0..255 scale and in HU, per image and per folder.

See :mod:`sccg_edge.metrics.image` for the exact definitions and :mod:`sccg_edge.metrics.folders` for file reading.
The one scorer of model outputs on the paper's scale, used by every stage, is :mod:`sccg_edge.metrics.score`.
"""

from __future__ import annotations

from sccg_edge.metrics.folders import compare_folders, read_image
from sccg_edge.metrics.image import (
    BODY_MASK_HU,
    BONE_HU,
    HEAD_MASK_THRESHOLD,
    HU_CLIP,
    HU_DATA_RANGE,
    UINT8_IOU_THRESHOLD,
    MetricInputError,
    body_mask_from_hu,
    head_mask_from_uint8,
    image_metrics,
    iou,
    iou_label,
    mae,
    psnr,
    ssim,
    summarize,
)

__all__ = [
    "BODY_MASK_HU",
    "BONE_HU",
    "HEAD_MASK_THRESHOLD",
    "HU_CLIP",
    "HU_DATA_RANGE",
    "UINT8_IOU_THRESHOLD",
    "MetricInputError",
    "body_mask_from_hu",
    "compare_folders",
    "head_mask_from_uint8",
    "image_metrics",
    "iou",
    "iou_label",
    "mae",
    "psnr",
    "read_image",
    "ssim",
    "summarize",
]
