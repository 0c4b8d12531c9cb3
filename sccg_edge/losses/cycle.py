"""CycleGAN cycle-consistency and identity losses (plain L1; the weights are the caller's)."""

from __future__ import annotations

from torch import Tensor


def cycle_loss(rec: Tensor, real: Tensor) -> Tensor:
    """Cycle loss ``mean(|G_BA(G_AB(a)) - a|)``; ``rec`` is the reconstruction of ``real``."""
    return (rec - real).abs().mean()


def identity_loss(idt: Tensor, real: Tensor) -> Tensor:
    """Identity loss ``mean(|G_AB(b) - b|)``; ``idt`` is a generator's output on an image of its target domain."""
    return (idt - real).abs().mean()
