"""Pixel losses: plain L1 and the paper's L1 weighted per pixel by a discriminator patch map."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def l1(fake: Tensor, real: Tensor) -> Tensor:
    """Mean absolute error ``mean(|fake - real|)``, in float32 (also under bf16 autocast)."""
    return (fake.float() - real.float()).abs().mean()


def discriminator_weights(d_map: Tensor, size: tuple[int, int], eps: float = 1e-6) -> Tensor:
    """Per-pixel weights from a patch map: ``ReLU(bilinear_upsample(d_map))``, mean 1 per image, no gradient.

    Args:
        d_map: (B, 1, h, w) raw discriminator scores.
        size: (H, W) of the images to weight.
        eps: an image whose mean weight is at most ``eps`` (all patches scored <= 0) gets uniform weights 1.

    Returns:
        (B, 1, H, W) weights whose mean over each image is 1.
    """
    w = F.relu(F.interpolate(d_map.detach().float(), size=size, mode="bilinear", align_corners=False))
    mean = w.mean(dim=(1, 2, 3), keepdim=True)
    return torch.where(mean > eps, w / mean.clamp_min(eps), torch.ones_like(w))


def weighted_pixel_l1(fake: Tensor, real: Tensor, d_map: Tensor, eps: float = 1e-6, floor: float = 0.0) -> Tensor:
    """L1 between a generated and a paired real image, weighted per pixel by the discriminator.

    Which map: pass ``d_map = D_target(fake)``, the target-domain discriminator's patch map on the GENERATED
    image (the same forward pass the adversarial term uses). With LSGAN targets (real 1, fake 0), a high score
    means D judges that region realistic. Those are exactly the regions where the adversarial loss has stopped
    pushing, and where a generator can produce plausible-looking but anatomically wrong content (the failure
    mode that matters for synthetic CT); the weighted L1 anchors them to the paired ground truth. Regions that
    D still flags as fake (scores <= 0, removed by the ReLU) are left to the adversarial term. The weights are
    detached (no gradient reaches D through this loss) and normalised to mean 1 per image, so the loss scale,
    and hence lambda = 100, does not drift as D's scores drift; if every weight of an image is 0 the image falls
    back to plain L1. A constant positive map gives exactly ``l1(fake, real)``.

    Args:
        fake: (B, C, H, W) generated image.
        real: (B, C, H, W) paired real image of the target domain.
        d_map: (B, 1, h, w) discriminator patch map on ``fake``; upsampled bilinearly to (H, W).
        eps: threshold for the uniform fallback and floor of the normaliser.
        floor: share of uniform weight mixed into the D weights (0: the paper's loss, 1: plain L1).

    Returns:
        A scalar tensor ``mean(w * |fake - real|)``.
    """
    if fake.shape != real.shape:
        raise ValueError(f"fake {tuple(fake.shape)} and real {tuple(real.shape)} must have the same shape")
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"floor must be in [0, 1], got {floor}")
    w = discriminator_weights(d_map, (int(fake.shape[-2]), int(fake.shape[-1])), eps)
    w = (floor + (1.0 - floor) * w).to(fake.dtype)
    return (w * (fake - real).abs()).mean()
