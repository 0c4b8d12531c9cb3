"""Generators: the scCycleGAN teacher and the edge students, built from one frozen config.

``arch="resnet"`` is CycleGAN's ResNet generator (7x7 stem, ``n_down`` stride-2 downsamplings, ``n_blocks``
residual blocks, ``n_down`` upsamplings, 7x7 head + tanh). ``arch="flat"`` is the paper's text read literally:
the same without down/upsampling, every block at full resolution (about 5x the MACs of "resnet").

Submodule names are stable (``encoder.stem``, ``encoder.down{i}``, ``blocks.block{i}``, ``decoder.up{i}``,
``head``) so checkpoints and distillation layer pairs can refer to them.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from sccg_edge.config.bounds import WIDTH_MAX, Bounds, check_value
from sccg_edge.errors import ConfigError
from sccg_edge.models.blocks import (
    NORMS,
    PADDINGS,
    MobileResnetBlock,
    ResnetBlock,
    down_block,
    make_norm,
    padded_conv,
    up_block,
)
from sccg_edge.registry import Registry

_CHOICES: dict[str, tuple[str, ...]] = {
    "arch": ("resnet", "flat", "unet"),
    "norm": NORMS,
    "block": ("plain", "mobile"),
    "upsample": ("transpose", "resize"),
    "padding": PADDINGS,
}
#: Upper limits of the integer fields: far above any preset, low enough that no config asks for an absurd network.
_MAXIMA = {"ngf": WIDTH_MAX, "n_blocks": 64, "n_down": 6, "in_ch": 16, "out_ch": 16, "shuffle": 8}


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that defines a generator's architecture.

    Attributes:
        arch: "resnet" (CycleGAN ResNet generator), "flat" (no down/upsampling; needs ``n_down=0``) or "unet" (the
            resnet layout with pix2pix's U-Net skips: each upsampling and the head also see the encoder feature of
            their resolution, concatenated; layer names and feature widths stay those of "resnet").
        ngf: width of the stem; each downsampling doubles it.
        n_blocks: number of residual blocks.
        n_down: number of stride-2 downsamplings (and matching upsamplings).
        norm: "instance" (affine=False), "batch" or "none".
        block: "plain" (two 3x3 convs) or "mobile" (depthwise 3x3 -> norm -> ReLU -> pointwise 1x1 -> norm).
        upsample: "transpose" (ConvTranspose2d) or "resize" (nearest x2 then 3x3 conv).
        padding: "reflect" or "zero" for the stride-1 convs.
        in_ch: input channels.
        out_ch: output channels.
        shuffle: space-to-depth factor s: the input is folded into ``in_ch * s**2`` channels at 1/s of its size
            (PixelUnshuffle), the whole network runs there, and the head's ``out_ch * s**2`` channels are unfolded
            back (PixelShuffle) before tanh. 1: off. With s = 2 no layer runs at full resolution, where small-channel
            layers are memory-bound on a CPU; both ops export as ONNX SpaceToDepth / DepthToSpace.
    """

    arch: str = "resnet"
    ngf: int = 64
    n_blocks: int = 9
    n_down: int = 2
    norm: str = "instance"
    block: str = "plain"
    upsample: str = "transpose"
    padding: str = "reflect"
    in_ch: int = 1
    out_ch: int = 1
    shuffle: int = 1

    def __post_init__(self) -> None:
        for name, choices in _CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise ConfigError(f"generator {name}={value!r} is not valid; choose one of: {', '.join(choices)}")
        for name in ("ngf", "n_blocks", "n_down", "in_ch", "out_ch", "shuffle"):
            value = getattr(self, name)
            minimum = 0 if name in ("n_blocks", "n_down") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(f"generator {name}={value!r} must be an integer >= {minimum}")
            check_value(value, Bounds(minimum, _MAXIMA[name]), name, "generator config")
        if self.arch == "flat" and self.n_down != 0:
            raise ConfigError(f"generator arch='flat' has no downsampling, but n_down={self.n_down}; set n_down=0")

    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return self.shuffle * 2**self.n_down

    def to_dict(self) -> dict[str, Any]:
        """Returns the config as a plain dict (YAML/JSON friendly)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GeneratorConfig:
        """Builds a config from a mapping; unknown keys raise ConfigError naming the valid ones."""
        valid = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in valid:
                raise ConfigError(f"unknown generator config key '{key}'; valid keys: {', '.join(valid)}")
        return cls(**dict(data))


def _exporting() -> bool:
    return bool(torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export())


class Generator(nn.Module):
    """Image-to-image generator: (B, in_ch, H, W) in [-1, 1] -> (B, out_ch, H, W) in [-1, 1]."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        bias = c.norm != "batch"
        enc: OrderedDict[str, nn.Module] = OrderedDict()
        s2 = c.shuffle**2
        enc["stem"] = nn.Sequential(*([nn.PixelUnshuffle(c.shuffle)] if c.shuffle > 1 else []),
                                    padded_conv(c.in_ch * s2, c.ngf, 7, c.padding, bias=bias),
                                    make_norm(c.norm, c.ngf), nn.ReLU(inplace=True))
        for i in range(c.n_down):
            enc[f"down{i}"] = down_block(c.ngf * 2**i, c.ngf * 2 ** (i + 1), c.norm)
        self.encoder = nn.Sequential(enc)

        width = c.ngf * 2**c.n_down
        block_cls = ResnetBlock if c.block == "plain" else MobileResnetBlock
        self.blocks = nn.Sequential(
            OrderedDict((f"block{i}", block_cls(width, c.norm, c.padding)) for i in range(c.n_blocks)))

        skip = 2 if c.arch == "unet" else 1  # U-Net: the encoder feature of the same resolution is concatenated
        dec: OrderedDict[str, nn.Module] = OrderedDict()
        for i in range(c.n_down):
            w_in = c.ngf * 2 ** (c.n_down - i)
            dec[f"up{i}"] = up_block(w_in * skip, w_in // 2, c.norm, c.upsample, c.padding)
        self.decoder = nn.Sequential(dec)
        self.head = nn.Sequential(padded_conv(c.ngf * skip, c.out_ch * s2, 7, c.padding),
                                  *([nn.PixelShuffle(c.shuffle)] if c.shuffle > 1 else []), nn.Tanh())

    def check_input_size(self, height: int, width: int) -> None:
        """Raises ValueError unless height and width are multiples of ``shuffle * 2**n_down``."""
        m = self.config.size_multiple
        if height % m or width % m:
            raise ValueError(f"generator input is {height}x{width}, but height and width must be multiples of {m} "
                             f"(shuffle * 2**n_down with shuffle={self.config.shuffle}, n_down={self.config.n_down})"
                             "; pad or crop the image")

    def forward(self, x: Tensor) -> Tensor:  # (B, in_ch, H, W) in [-1, 1] -> (B, out_ch, H, W) in [-1, 1]
        if not _exporting():
            self.check_input_size(int(x.shape[-2]), int(x.shape[-1]))
        if self.config.arch != "unet":
            return self.head(self.decoder(self.blocks(self.encoder(x))))
        return self.forward_features(x, keep=False)[0]

    def forward_features(self, x: Tensor, keep: bool = True) -> tuple[Tensor, dict[str, Tensor]]:
        """Runs the generator and returns named intermediate features for distillation.

        Returns:
            ``(out, feats)`` where feats has "stem", "down{i}", "enc" (encoder output, (B, ngf*2**n_down, H/2**n_down,
            W/2**n_down)), "block{i}" after each residual block, "up{i}" and "dec" (decoder output, before the head).
        """
        if not _exporting():
            self.check_input_size(int(x.shape[-2]), int(x.shape[-1]))
        feats: dict[str, Tensor] = {}
        skips: list[Tensor] = []  # encoder features, full resolution first (U-Net only)
        unet = self.config.arch == "unet"
        for name, module in self.encoder.named_children():
            x = module(x)
            skips.append(x)
            if keep:
                feats[name] = x
        feats["enc"] = x
        for name, module in self.blocks.named_children():
            x = module(x)
            if keep:
                feats[name] = x
        for name, module in self.decoder.named_children():
            x = module(torch.cat([x, skips.pop()], dim=1) if unet else x)
            if keep:
                feats[name] = x
        feats["dec"] = x
        return self.head(torch.cat([x, skips.pop()], dim=1) if unet else x), feats


GENERATOR_PRESETS: Registry[GeneratorConfig] = Registry("generator preset")
GENERATOR_PRESETS.register("paper")(GeneratorConfig())
GENERATOR_PRESETS.register("paper-flat")(GeneratorConfig(arch="flat", n_down=0))
# A teacher candidate of the recipe study: U-Net skips (pix2pix) over a deeper, shorter resnet trunk, so detail does not
# have to pass through the bottleneck and most of the compute runs at 1/16 resolution.
GENERATOR_PRESETS.register("unet")(GeneratorConfig(arch="unet", ngf=32, n_down=4, n_blocks=3))
# Students: "mobile" blocks won the latency check (torch CPU, 2 threads, 512x512, median of 6): ngf16/6 blocks
# mobile 125 ms (2.1 GMAC) vs plain 190 ms (8.9 GMAC); ngf8/4 blocks mobile 41 ms vs plain 53 ms.
# "student-s-plain" is kept for INT8 comparisons (dense 3x3 convs quantize better than depthwise ones).
GENERATOR_PRESETS.register("student-s")(GeneratorConfig(ngf=16, n_blocks=6, block="mobile"))
GENERATOR_PRESETS.register("student-s-plain")(GeneratorConfig(ngf=16, n_blocks=6, block="plain"))
GENERATOR_PRESETS.register("student-xs")(GeneratorConfig(ngf=8, n_blocks=4, block="mobile"))
# "student-ps": student-s's widths one octave lower, behind a 2x2 space-to-depth fold, so no layer runs at full
# resolution: 0.89 GMAC at 512 (9 blocks) vs student-s's 2.08. Latency check (OpenVINO FP32, 512x512, 1 thread,
# median of 10, a loaded 2-core Xeon): the same layout with 6 blocks 19 ms vs student-s 81 ms and student-xs 39 ms.
GENERATOR_PRESETS.register("student-ps")(GeneratorConfig(ngf=16, n_blocks=9, block="mobile", shuffle=2))


def resolve_generator_config(spec: str | GeneratorConfig | Mapping[str, Any], **overrides: Any) -> GeneratorConfig:
    """Turns a preset name, a config or a dict into a GeneratorConfig, with optional field overrides.

    Args:
        spec: a name in ``GENERATOR_PRESETS``, a ``GeneratorConfig`` or a dict for ``GeneratorConfig.from_dict``.
        **overrides: fields to replace, e.g. ``ngf=8`` for a tiny test model.

    Returns:
        The resolved config.
    """
    if isinstance(spec, GeneratorConfig):
        config = spec
    elif isinstance(spec, str):
        config = GENERATOR_PRESETS.get(spec)
    elif isinstance(spec, Mapping):
        config = GeneratorConfig.from_dict(spec)
    else:
        raise ConfigError(f"a generator is given by a preset name, a GeneratorConfig or a dict, not {type(spec).__name__}")
    if overrides:
        config = GeneratorConfig.from_dict({**config.to_dict(), **overrides})
    return config


def build_generator(spec: str | GeneratorConfig | Mapping[str, Any], **overrides: Any) -> Generator:
    """Builds a generator from a preset name, a config or a dict (see ``resolve_generator_config``)."""
    return Generator(resolve_generator_config(spec, **overrides))
