"""Counts multiply-accumulates (MACs) and parameters of a model with forward hooks.

Conventions (those of common counters such as thop/ptflops for convs):
  * Conv2d: ``N * C_out * H_out * W_out * (C_in / groups) * kh * kw`` (bias not counted).
  * ConvTranspose2d: ``N * C_in * H_in * W_in * (C_out / groups) * kh * kw`` (every input pixel is scattered
    through the whole kernel).
  * Linear: ``output.numel() * in_features``.
  * Norm layers (only with ``include_norm=True``): one MAC per output element.
Activations, padding, resizing and additions are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

_NORMS = (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm, nn.LayerNorm)


@dataclass(frozen=True)
class ModelCost:
    """MACs of one forward pass at a given input shape, and the parameter count."""

    macs: int
    params: int


def _layer_macs(module: nn.Module, inp: torch.Tensor, out: torch.Tensor, include_norm: bool) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return out.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.ConvTranspose2d):
        kh, kw = module.kernel_size
        return inp.numel() * (module.out_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    if include_norm and isinstance(module, _NORMS):
        return out.numel()
    return 0


def count_macs(model: nn.Module, input_shape: tuple[int, ...] = (1, 1, 512, 512), *,
               include_norm: bool = False) -> ModelCost:
    """Runs one forward pass on zeros and sums the MACs of every counted layer.

    Args:
        model: any module taking one tensor.
        input_shape: shape of that tensor, batch included (MACs scale with the batch).
        include_norm: also count one MAC per element of norm-layer outputs.

    Returns:
        The model's cost. The model's train/eval mode is restored afterwards.
    """
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += _layer_macs(module, inputs[0], output, include_norm)

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        with torch.no_grad():
            model(torch.zeros(input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return ModelCost(macs=int(total), params=int(params))


def format_macs(n: float) -> str:
    """Formats a MAC count with an SI prefix and one decimal, e.g. 195_300_000_000 -> "195.3 GMAC"."""
    for unit, scale in (("TMAC", 1e12), ("GMAC", 1e9), ("MMAC", 1e6), ("KMAC", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} MAC"
