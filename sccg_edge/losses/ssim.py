"""A differentiable SSIM loss that matches the project's SSIM metric.

The metric (:func:`sccg_edge.metrics.image.ssim`) is scikit-image's ``structural_similarity`` with its defaults: a
7x7 *uniform* window, ``K1 = 0.01``, ``K2 = 0.03``, sample covariance (``N / (N - 1)``), and the mean over the
"valid" part of the SSIM map (a border of 3 pixels is left out). This loss computes the same quantity in torch on
images in [-1, 1] (mapped to [0, 1], data range 1, which equals the metric on the 0..255 scale with data range 255),
so ``1 - ssim_index(fake, real)`` is exactly what the whole-slice SSIM figure rewards. Used as the pixel-loss term
``lambda_ssim * (1 - SSIM)`` beside L1, as in Zhao et al., "Loss Functions for Image Restoration with Neural
Networks" (IEEE TCI 2017), who found the mix better than either term alone.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

WIN = 7
K1, K2 = 0.01, 0.03


def ssim_index(fake: Tensor, real: Tensor) -> Tensor:
    """Mean SSIM of (B, C, H, W) images in [-1, 1], per image: returns (B,) in float32.

    Computed in float32 even under bf16 autocast (the variance terms cancel catastrophically in low precision).
    """
    if fake.shape != real.shape:
        raise ValueError(f"fake {tuple(fake.shape)} and real {tuple(real.shape)} must have the same shape")
    if min(fake.shape[-2:]) < WIN:
        raise ValueError(f"SSIM needs images of at least {WIN}x{WIN}, got {tuple(fake.shape[-2:])}")
    x = (fake.float() + 1.0) * 0.5  # (B, C, H, W) in [0, 1]
    y = (real.float() + 1.0) * 0.5
    n = WIN * WIN
    cov_norm = n / (n - 1.0)  # sample covariance, as scikit-image's default

    def mean(t: Tensor) -> Tensor:  # uniform 7x7 window, valid positions only (the metric crops the border)
        return F.avg_pool2d(t, WIN, stride=1)

    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1, c2 = K1**2, K2**2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3))


def ssim_loss(fake: Tensor, real: Tensor) -> Tensor:
    """``1 - SSIM`` averaged over the batch (a scalar in [0, 2]; 0 for identical images)."""
    return 1.0 - ssim_index(fake, real).mean()
