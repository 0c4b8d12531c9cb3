"""Export-friendly building blocks for the generators.

Only ops that ONNX (opset 17+), OpenVINO and TensorRT all take without plugins are used: Conv2d,
ConvTranspose2d, InstanceNorm2d (affine=False, no running stats, as in CycleGAN), BatchNorm2d, ReLU,
ReflectionPad2d / zero padding, nearest Upsample by 2 and tensor addition. No block has data-dependent
control flow.
"""

from __future__ import annotations

from torch import Tensor, nn

from sccg_edge.errors import ConfigError

NORMS = ("instance", "batch", "none")
PADDINGS = ("reflect", "zero")


def make_norm(kind: str, channels: int) -> nn.Module:
    """Builds a normalisation layer.

    Args:
        kind: "instance" (affine=False, track_running_stats=False, CycleGAN's default), "batch" or "none".
        channels: number of feature channels.

    Returns:
        The layer (``nn.Identity`` for "none").
    """
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"unknown norm '{kind}'; choose one of: {', '.join(NORMS)}")


def padded_conv(in_ch: int, out_ch: int, kernel: int, padding: str, *, groups: int = 1, bias: bool = True) -> nn.Module:
    """A stride-1 'same' convolution whose padding is reflection or zeros.

    Args:
        in_ch: input channels.
        out_ch: output channels.
        kernel: odd kernel size.
        padding: "reflect" (``ReflectionPad2d`` then an unpadded conv) or "zero" (the conv pads with zeros).
        groups: conv groups (``in_ch`` for a depthwise conv).
        bias: whether the conv has a bias.

    Returns:
        A module mapping (B, in_ch, H, W) -> (B, out_ch, H, W).
    """
    pad = kernel // 2
    if padding == "reflect":
        if pad == 0:
            return nn.Conv2d(in_ch, out_ch, kernel, groups=groups, bias=bias)
        return nn.Sequential(nn.ReflectionPad2d(pad), nn.Conv2d(in_ch, out_ch, kernel, groups=groups, bias=bias))
    if padding == "zero":
        return nn.Conv2d(in_ch, out_ch, kernel, padding=pad, groups=groups, bias=bias)
    raise ConfigError(f"unknown padding '{padding}'; choose one of: {', '.join(PADDINGS)}")


class ResnetBlock(nn.Module):
    """CycleGAN residual block: x + norm(conv3x3(relu(norm(conv3x3(x)))))."""

    def __init__(self, channels: int, norm: str = "instance", padding: str = "reflect") -> None:
        super().__init__()
        bias = norm != "batch"
        self.body = nn.Sequential(
            padded_conv(channels, channels, 3, padding, bias=bias),
            make_norm(norm, channels),
            nn.ReLU(inplace=True),
            padded_conv(channels, channels, 3, padding, bias=bias),
            make_norm(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, C, H, W)
        return x + self.body(x)


class MobileResnetBlock(nn.Module):
    """Separable residual block: x + norm(pointwise1x1(relu(norm(depthwise_kxk(x)))))."""

    def __init__(self, channels: int, norm: str = "instance", padding: str = "reflect", kernel: int = 3) -> None:
        super().__init__()
        bias = norm != "batch"
        self.body = nn.Sequential(
            padded_conv(channels, channels, kernel, padding, groups=channels, bias=bias),
            make_norm(norm, channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1, bias=bias),
            make_norm(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, C, H, W)
        return x + self.body(x)


def down_block(in_ch: int, out_ch: int, norm: str) -> nn.Sequential:
    """Stride-2 3x3 conv (zero padding 1, as in CycleGAN) + norm + ReLU; halves H and W."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1, bias=norm != "batch"),
        make_norm(norm, out_ch),
        nn.ReLU(inplace=True),
    )


def up_block(in_ch: int, out_ch: int, norm: str, mode: str, padding: str) -> nn.Sequential:
    """Doubles H and W, then norm + ReLU.

    Args:
        in_ch: input channels.
        out_ch: output channels.
        norm: norm kind.
        mode: "transpose" (3x3 ConvTranspose2d, stride 2, padding 1, output_padding 1, as in CycleGAN) or
            "resize" (nearest-neighbour x2 then a 3x3 conv; avoids checkerboard artefacts and maps to Resize).
        padding: padding of the 3x3 conv in "resize" mode.

    Returns:
        A module mapping (B, in_ch, H, W) -> (B, out_ch, 2H, 2W).
    """
    bias = norm != "batch"
    if mode == "transpose":
        up: list[nn.Module] = [nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=1, output_padding=1, bias=bias)]
    elif mode == "resize":
        up = [nn.Upsample(scale_factor=2, mode="nearest"), padded_conv(in_ch, out_ch, 3, padding, bias=bias)]
    else:
        raise ConfigError(f"unknown upsample '{mode}'; choose one of: transpose, resize")
    return nn.Sequential(*up, make_norm(norm, out_ch), nn.ReLU(inplace=True))
