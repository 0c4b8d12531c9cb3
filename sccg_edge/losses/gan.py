"""Least-squares GAN (LSGAN) losses on raw discriminator scores (real target 1, fake target 0)."""

from __future__ import annotations

from torch import Tensor


def lsgan_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Discriminator loss ``0.5 * (mean((d_real - 1)^2) + mean(d_fake^2))``.

    Args:
        d_real: discriminator scores on real images, any shape (e.g. a (B, 1, h, w) patch map).
        d_fake: scores on generated images (detach the generator output before calling D).

    Returns:
        A scalar tensor.
    """
    return 0.5 * ((d_real - 1).pow(2).mean() + d_fake.pow(2).mean())


def lsgan_g_loss(d_fake: Tensor) -> Tensor:
    """Generator loss ``mean((d_fake - 1)^2)``: pushes the scores on generated images towards 'real'."""
    return (d_fake - 1).pow(2).mean()
