from __future__ import annotations

import pytest
import torch

from sccg_edge.losses import cycle_loss, identity_loss, l1, lsgan_d_loss, lsgan_g_loss, weighted_pixel_l1


def test_lsgan_exact_values() -> None:
    d_real = torch.tensor([1.0, 0.0, 2.0])  # (x-1)^2: 0, 1, 1 -> mean 2/3
    d_fake = torch.tensor([0.0, 1.0, -1.0])  # x^2: 0, 1, 1 -> mean 2/3
    assert lsgan_d_loss(d_real, d_fake).item() == pytest.approx(2 / 3)
    assert lsgan_g_loss(d_fake).item() == pytest.approx((1 + 0 + 4) / 3)
    assert lsgan_d_loss(torch.ones(4), torch.zeros(4)).item() == 0.0


def test_cycle_identity_l1() -> None:
    a, b = torch.tensor([0.0, 1.0]), torch.tensor([1.0, -1.0])
    assert cycle_loss(a, b).item() == pytest.approx(1.5)
    assert identity_loss(a, b).item() == pytest.approx(1.5)
    assert l1(a, a).item() == 0.0


def test_weighted_l1_constant_map_is_plain_l1() -> None:
    fake, real = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    for value in (0.3, 5.0):
        d_map = torch.full((2, 1, 2, 2), value)
        assert weighted_pixel_l1(fake, real, d_map).item() == pytest.approx(l1(fake, real).item(), rel=1e-5)


def test_weighted_l1_all_negative_falls_back_to_uniform() -> None:
    fake, real = torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8)
    assert weighted_pixel_l1(fake, real, -torch.ones(1, 1, 2, 2)).item() == pytest.approx(l1(fake, real).item())


def test_weighted_l1_weights_realistic_half() -> None:
    fake = torch.zeros(1, 1, 8, 8)
    real = torch.zeros(1, 1, 8, 8)
    real[..., :4] = 1.0  # error only in the left half
    d_map = torch.tensor([[[[1.0, -1.0]]]]).expand(1, 1, 8, 2)  # D scores the left half real, the right half fake
    left = weighted_pixel_l1(fake, real, d_map)
    right = weighted_pixel_l1(fake, real[..., [*range(4, 8), *range(4)]], d_map)
    assert left > l1(fake, real) > right


def test_weighted_l1_grad_to_fake_only() -> None:
    fake = torch.rand(1, 1, 8, 8, requires_grad=True)
    d_map = torch.rand(1, 1, 2, 2, requires_grad=True)
    weighted_pixel_l1(fake, torch.rand(1, 1, 8, 8), d_map).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert d_map.grad is None


def test_weighted_l1_floor_mixes_uniform_weights() -> None:
    fake, real = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    d_map = torch.randn(2, 1, 2, 2)
    paper = weighted_pixel_l1(fake, real, d_map)
    assert weighted_pixel_l1(fake, real, d_map, floor=0.0).item() == paper.item()
    assert weighted_pixel_l1(fake, real, d_map, floor=1.0).item() == pytest.approx(l1(fake, real).item(), rel=1e-6)
    half = weighted_pixel_l1(fake, real, d_map, floor=0.5).item()
    assert half == pytest.approx(0.5 * (paper.item() + l1(fake, real).item()), rel=1e-6)
    with pytest.raises(ValueError, match="floor"):
        weighted_pixel_l1(fake, real, d_map, floor=1.5)
