"""PatchGAN discriminator of the paper (pix2pix/CycleGAN ``NLayerDiscriminator`` with 3 layers).

Layers (all 4x4 kernels, padding 1):

====  ========  ======  =========================
conv  channels  stride  then
====  ========  ======  =========================
1     ndf       2       LeakyReLU(0.2)
2     2*ndf     2       norm, LeakyReLU(0.2)
3     4*ndf     2       norm, LeakyReLU(0.2)
4     8*ndf     1       norm, LeakyReLU(0.2)
5     1         1       (raw patch scores; no sigmoid, the LSGAN loss takes them as they are)
====  ========  ======  =========================

Receptive field of one output score: 70x70 input pixels (walking back from the output:
1 -> 4 -> 7 -> 16 -> 34 -> 70 with kernels 4 and strides 1, 1, 2, 2, 2).

Output size: each stride-2 layer maps n -> floor(n / 2) (for n >= 2; exact for even n) and each stride-1 layer
maps n -> n - 1, so an H x W input gives an (H//8 - 2) x (W//8 - 2) patch map for H, W multiples of 8:
64 -> 6, 256 -> 30, 512 -> 62. Inputs smaller than 24 pixels give an empty map and are rejected.
"""

from __future__ import annotations

from torch import Tensor, nn

from sccg_edge.models.blocks import make_norm

RECEPTIVE_FIELD = 70


def patch_map_size(size: int) -> int:
    """Side of the patch map the discriminator gives for an input side ``size``."""
    for _ in range(3):
        size = (size + 2 - 4) // 2 + 1
    return size - 2


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN: (B, in_ch, H, W) -> (B, 1, H//8 - 2, W//8 - 2) raw realness scores."""

    def __init__(self, in_ch: int = 1, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        bias = norm != "batch"
        self.layers = nn.Sequential(
            nn.Conv2d(in_ch, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, stride=2, padding=1, bias=bias),
            make_norm(norm, ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, stride=2, padding=1, bias=bias),
            make_norm(norm, ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, stride=1, padding=1, bias=bias),
            make_norm(norm, ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, stride=1, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:  # (B, in_ch, H, W) -> (B, 1, H//8 - 2, W//8 - 2)
        h, w = int(x.shape[-2]), int(x.shape[-1])
        if patch_map_size(h) < 1 or patch_map_size(w) < 1:
            raise ValueError(f"discriminator input is {h}x{w}; it needs at least 24x24 pixels")
        return self.layers(x)
