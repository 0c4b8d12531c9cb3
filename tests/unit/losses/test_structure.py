from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sccg_edge.errors import ConfigError, InputError
from sccg_edge.losses import (
    LocalDescriptor,
    grid_locations,
    make_structure_features,
    random_locations,
    self_similarity_maps,
    structure_loss,
)


def _blur(x: torch.Tensor, k: int) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, 1)


@pytest.fixture
def image() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(2, 1, 48, 48)
    x[:, :, 12:36, 16:30] = 1.0
    return _blur(x + 0.3 * torch.randn(x.shape, generator=g), 3)


def test_self_similarity_by_hand() -> None:
    feat = torch.zeros(1, 2, 3, 3)
    feat[0, 0] = 1.0  # every vector (1, 0) ...
    feat[0, :, 0, 0] = torch.tensor([0.0, 2.0])  # ... but the corner, orthogonal
    feat[0, :, 2, 2] = torch.tensor([-3.0, 0.0])  # and the opposite corner, opposite
    maps = self_similarity_maps(feat, torch.tensor([[1, 1]]), patch_size=3)
    assert maps.shape == (1, 1, 9)
    torch.testing.assert_close(maps[0, 0], torch.tensor([0.0, 1, 1, 1, 1, 1, 1, 1, -1]))


def test_intensity_mapping_invariance(image: torch.Tensor) -> None:
    for a, b in [(2.0, 0.5), (0.3, -0.2), (-0.7, 0.1)]:
        assert structure_loss(image, a * image + b).item() < 1e-5


def test_larger_for_shift_and_blur(image: torch.Tensor) -> None:
    affine = structure_loss(image, 2 * image + 0.5).item()
    shifted = structure_loss(image, torch.roll(image, 3, dims=-1)).item()
    blurred = structure_loss(image, _blur(image, 5)).item()
    assert shifted > 0.1 and blurred > 0.1 and affine < 1e-5
    assert structure_loss(image, torch.roll(image, 3, dims=-1), distance="cosine").item() > 0.05


def test_gradient_flows_to_generated(image: torch.Tensor) -> None:
    gen = torch.roll(image, 2, dims=-1).clone().requires_grad_(True)
    structure_loss(image, gen, patch_size=5).backward()
    assert gen.grad is not None and torch.isfinite(gen.grad).all() and gen.grad.abs().sum() > 0


def test_locations() -> None:
    grid = grid_locations(20, 20, patch_size=7)
    assert grid.tolist() == [[3, 3], [3, 10], [10, 3], [10, 10]]
    a = random_locations(32, 40, 50, 5, torch.Generator().manual_seed(1))
    b = random_locations(32, 40, 50, 5, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a[:, 0].min() >= 2 and a[:, 0].max() <= 29 and a[:, 1].max() <= 37
    with pytest.raises(ValueError, match="inside"):
        self_similarity_maps(torch.rand(1, 2, 8, 8), torch.tensor([[0, 4]]), patch_size=3)


def test_custom_features_and_locations(image: torch.Tensor) -> None:
    conv = torch.nn.Conv2d(1, 4, 3, padding=1)
    locs = random_locations(48, 48, 16, 7, torch.Generator().manual_seed(0))
    assert structure_loss(image, image, conv, locations=locs).item() == pytest.approx(0.0, abs=1e-6)
    assert structure_loss(image, image.flip(-1), conv, locations=locs).item() > 0


def test_descriptor_shape_and_options() -> None:
    assert LocalDescriptor()(torch.rand(2, 3, 17, 16)).shape == (2, 3 * 11 * 2, 17, 16)
    with pytest.raises(ConfigError, match="odd"):
        structure_loss(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), patch_size=4)
    with pytest.raises(ConfigError, match="distance"):
        structure_loss(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), distance="l2")


def test_vgg16_needs_local_weights(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not download"):
        make_structure_features("vgg16")
    with pytest.raises(InputError, match="not found"):
        make_structure_features("vgg16", tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"foo": torch.zeros(1)}, bad)
    with pytest.raises(InputError, match="missing features.0.weight"):
        make_structure_features("vgg16", bad)


def test_vgg16_from_local_state_dict(tmp_path) -> None:
    from sccg_edge.losses.structure import _Vgg16Features

    torch.manual_seed(0)
    path = tmp_path / "vgg16.pth"
    torch.save(_Vgg16Features().state_dict(), path)
    fn = make_structure_features("vgg16", path)
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    assert fn(x).shape == (1, 256, 8, 8)
    assert structure_loss(x, x, fn, patch_size=3).item() == pytest.approx(0.0, abs=1e-6)


def test_structure_loss_is_float32_under_bf16_autocast() -> None:
    torch.manual_seed(0)
    src, gen = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)
    ref = structure_loss(src, gen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = structure_loss(src, gen.to(torch.bfloat16))
    assert mixed.dtype == torch.float32
    assert mixed.item() == pytest.approx(ref.item(), rel=1e-2)
