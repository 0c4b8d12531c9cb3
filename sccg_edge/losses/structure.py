"""Structural consistency on spatially-correlative (SC) maps.

For a query location q, its SC map is the cosine similarity of q's feature vector with every location of the
k x k patch around q. MR and CT of one head have different intensities but the same anatomy, so these maps agree
between an input and a faithful translation even where the intensities do not; the loss compares them.

The default features (:class:`LocalDescriptor`) are fixed, not learned, and need no download: at each pixel, the
3x3 neighbourhood minus its mean plus Sobel gradients, at scales 1 and 2. Every filter sums to zero, so an
intensity map ``a * x + b`` scales each descriptor by ``a`` and leaves every cosine, hence every SC map, unchanged,
for a < 0 too (dark bone in MR, bright in CT). Learned features can be passed as ``features`` (e.g. the generator's
encoder), or VGG16 features from a user-supplied weights file (:func:`make_structure_features`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn

from sccg_edge.errors import ConfigError, InputError

FeatureFn = Callable[[Tensor], Tensor]


class LocalDescriptor(nn.Module):
    """Fixed local descriptors: (B, C, H, W) image -> (B, C * 11 * len(scales), H, W) zero-mean-filter responses."""

    def __init__(self, scales: tuple[int, ...] = (1, 2)) -> None:
        super().__init__()
        self.scales = scales
        centred = torch.eye(9).reshape(9, 1, 3, 3) - 1.0 / 9.0  # pixel minus the 3x3 mean, one filter per position
        sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4.0
        filters = torch.cat([centred, sobel_x.reshape(1, 1, 3, 3), sobel_x.t().reshape(1, 1, 3, 3)])
        self.register_buffer("filters", filters, persistent=False)  # (11, 1, 3, 3)

    def _at_scale(self, x: Tensor, scale: int) -> Tensor:
        b, c, h, w = x.shape
        y = F.avg_pool2d(x, scale) if scale > 1 else x
        y = F.conv2d(F.pad(y.reshape(b * c, 1, *y.shape[-2:]), (1, 1, 1, 1), mode="replicate"), self.filters)
        y = y.reshape(b, c * self.filters.shape[0], *y.shape[-2:])
        return F.interpolate(y, size=(h, w), mode="nearest") if scale > 1 else y

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self._at_scale(x, s) for s in self.scales], dim=1)


def grid_locations(height: int, width: int, patch_size: int = 7, stride: int | None = None,
                   device: torch.device | str | None = None) -> Tensor:
    """Query locations on a regular grid, far enough from the border for a full patch.

    Returns:
        (N, 2) long tensor of (row, col); ``stride`` defaults to ``patch_size``.
    """
    r, step = patch_size // 2, stride or patch_size
    if height < patch_size or width < patch_size:
        raise ValueError(f"feature map {height}x{width} is smaller than the SC patch {patch_size}x{patch_size}")
    rows = torch.arange(r, height - r, step, device=device)
    cols = torch.arange(r, width - r, step, device=device)
    return torch.cartesian_prod(rows, cols)


def random_locations(height: int, width: int, num: int, patch_size: int = 7,
                     generator: torch.Generator | None = None) -> Tensor:
    """``num`` query locations drawn uniformly (with replacement) from the interior; reproducible with ``generator``.

    Draw them once per step and pass them to :func:`structure_loss` so source and generated maps use the same ones.

    Returns:
        (num, 2) long tensor of (row, col) on the CPU.
    """
    r = patch_size // 2
    if height < patch_size or width < patch_size:
        raise ValueError(f"feature map {height}x{width} is smaller than the SC patch {patch_size}x{patch_size}")
    rows = torch.randint(r, height - r, (num,), generator=generator)
    cols = torch.randint(r, width - r, (num,), generator=generator)
    return torch.stack([rows, cols], dim=1)


def self_similarity_maps(feat: Tensor, locations: Tensor, patch_size: int = 7, eps: float = 1e-8) -> Tensor:
    """Cosine similarity of each query's feature vector with every location of its k x k patch.

    Args:
        feat: (B, C, H, W) features.
        locations: (N, 2) long (row, col) queries at least ``patch_size // 2`` from every border.
        patch_size: odd k.
        eps: norm floor; an all-zero feature vector (a flat region) has similarity 0 with everything.

    Returns:
        (B, N, k*k) SC maps, differentiable w.r.t. ``feat``.
    """
    b, c, h, w = feat.shape
    r = patch_size // 2
    fn = F.normalize(feat, dim=1, eps=eps).flatten(2)  # (B, C, H*W)
    loc = locations.to(feat.device)
    dy, dx = torch.meshgrid(torch.arange(-r, r + 1, device=feat.device),
                            torch.arange(-r, r + 1, device=feat.device), indexing="ij")
    nb_rows = loc[:, :1] + dy.reshape(1, -1)  # (N, k*k)
    nb_cols = loc[:, 1:] + dx.reshape(1, -1)
    if int(nb_rows.min()) < 0 or int(nb_cols.min()) < 0 or int(nb_rows.max()) >= h or int(nb_cols.max()) >= w:
        raise ValueError(f"SC query locations must lie at least {r} pixels inside the {h}x{w} feature map")
    query = fn[:, :, loc[:, 0] * w + loc[:, 1]]  # (B, C, N)
    neigh = fn[:, :, (nb_rows * w + nb_cols).reshape(-1)].reshape(b, c, *nb_rows.shape)  # (B, C, N, k*k)
    return torch.einsum("bcn,bcnk->bnk", query, neigh)


def structure_loss(src: Tensor, gen: Tensor, features: FeatureFn | None = None, *, patch_size: int = 7,
                   stride: int | None = None, locations: Tensor | None = None, distance: str = "l1") -> Tensor:
    """Structural-consistency loss between the SC maps of a source image and its translation.

    Args:
        src: (B, C, H, W) input image of the generator (e.g. real MR).
        gen: (B, C', H, W) generated image (e.g. synthetic CT); the loss is differentiable w.r.t. it.
        features: image -> (B, D, h, w) features; default :class:`LocalDescriptor` (scales 1 and 2). It must
            accept both ``src`` and ``gen`` and give maps of the same size.
        patch_size: odd side k of the patch around each query.
        stride: grid step for the default query locations (default ``patch_size``).
        locations: (N, 2) queries in feature-map coordinates, e.g. from :func:`random_locations`; overrides the grid.
        distance: "l1" (mean |S_src - S_gen|) or "cosine" (mean of 1 - cos between each query's two maps).

    Returns:
        A scalar tensor; 0 when both images have the same local structure.
    """
    if patch_size < 3 or patch_size % 2 == 0:
        raise ConfigError(f"SC patch_size must be an odd integer >= 3, got {patch_size}")
    if distance not in ("l1", "cosine"):
        raise ConfigError(f"unknown SC distance '{distance}'; choose one of: l1, cosine")
    fn = features if features is not None else _default_descriptor(src.device)
    # Always in float32: under bf16 autocast the cosine self-similarities lose most of their precision (measured on
    # real 128x128 pairs: loss 0.38 instead of 0.68, gradient cosine 0.53 to the float32 one), which made bf16
    # training diverge.
    with torch.autocast(device_type=src.device.type, enabled=False):
        return _sc_distance(fn, src.float(), gen.float(), patch_size, stride, locations, distance)


def _sc_distance(fn: FeatureFn, src: Tensor, gen: Tensor, patch_size: int, stride: int | None,
                 locations: Tensor | None, distance: str) -> Tensor:
    f_src, f_gen = fn(src), fn(gen)
    if f_src.shape[-2:] != f_gen.shape[-2:]:
        raise ValueError(f"source features {tuple(f_src.shape)} and generated {tuple(f_gen.shape)} differ in size")
    if locations is None:
        locations = grid_locations(int(f_src.shape[-2]), int(f_src.shape[-1]), patch_size, stride, f_src.device)
    s_src = self_similarity_maps(f_src, locations, patch_size)
    s_gen = self_similarity_maps(f_gen, locations, patch_size)
    if distance == "l1":
        return (s_src - s_gen).abs().mean()
    return (1 - F.cosine_similarity(s_src, s_gen, dim=-1, eps=1e-8)).mean()


_DESCRIPTORS: dict[str, LocalDescriptor] = {}


def _default_descriptor(device: torch.device) -> LocalDescriptor:
    key = str(device)
    if key not in _DESCRIPTORS:
        _DESCRIPTORS[key] = LocalDescriptor().to(device)
    return _DESCRIPTORS[key]


def make_structure_features(kind: str = "local", weights_path: str | Path | None = None) -> FeatureFn:
    """Builds a feature function for :func:`structure_loss`.

    Args:
        kind: "local" (fixed :class:`LocalDescriptor`) or "vgg16" (VGG16 up to relu3_3, frozen).
        weights_path: for "vgg16", a local state-dict file (``.pth``/``.pt`` or ``.safetensors``) with torchvision
            VGG16 keys (``features.N.weight``); nothing is ever downloaded.

    Returns:
        A callable image -> features.
    """
    if kind == "local":
        return LocalDescriptor()
    if kind == "vgg16":
        if weights_path is None:
            raise ConfigError("structure features 'vgg16' need a local weights file (weights_path); sccg-edge does "
                              "not download weights. Pass the torchvision VGG16 state dict, or use kind='local'")
        return load_vgg16_features(Path(weights_path))
    raise ConfigError(f"unknown structure features '{kind}'; choose one of: local, vgg16")


_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256)  # torchvision VGG16 ``features`` up to relu3_3


class _Vgg16Features(nn.Module):
    """Frozen VGG16 layers up to relu3_3: (B, C, H, W) in [-1, 1] -> (B, 256, H/4, W/4)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                in_ch = int(v)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = (x.mean(dim=1, keepdim=True) + 1) / 2 if x.shape[1] != 3 else (x + 1) / 2
        return self.features((x - self.mean) / self.std)


def load_vgg16_features(path: Path) -> nn.Module:
    """Loads frozen VGG16 (to relu3_3) weights from a local state-dict file with torchvision key names."""
    if not path.is_file():
        raise InputError("VGG16 weights file not found; pass an existing local file (nothing is downloaded)", path)
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise InputError(f"cannot read VGG16 weights ({exc}); give a torch or safetensors state dict", path) from None
    model = _Vgg16Features()
    wanted = model.features.state_dict().keys()
    sub = {k: state[f"features.{k}"] if f"features.{k}" in state else state.get(k) for k in wanted}
    missing = [k for k, v in sub.items() if v is None]
    if missing:
        raise InputError(f"not a VGG16 state dict: missing {', '.join('features.' + k for k in missing[:3])}", path)
    try:
        model.features.load_state_dict(sub)
    except RuntimeError as exc:
        raise InputError(f"VGG16 weights do not fit: {str(exc).splitlines()[-1].strip()}", path) from None
    return model.eval().requires_grad_(False)


__all__ = [
    "LocalDescriptor",
    "grid_locations",
    "load_vgg16_features",
    "make_structure_features",
    "random_locations",
    "self_similarity_maps",
    "structure_loss",
]
