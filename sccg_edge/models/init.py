"""CycleGAN's weight initialisation: convolutions normal(0, 0.02) with zero bias, BatchNorm weights normal(1, 0.02)."""

from __future__ import annotations

from torch import nn


def init_weights(m: nn.Module) -> None:
    """Initialise one module in place; use as ``net.apply(init_weights)``."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
