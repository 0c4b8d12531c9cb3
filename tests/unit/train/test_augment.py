"""Training-pair augmentation and CPU mixed precision of the trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sccg_edge.config import DataConfig
from sccg_edge.data.slices import SliceSet, make_batch, random_affine
from sccg_edge.engine.parallel import autocast_for
from sccg_edge.errors import ConfigError


def _pairs(n: int = 3, size: int = 32) -> SliceSet:
    gen = torch.Generator().manual_seed(0)
    mr = torch.rand(n, 1, size, size, generator=gen) * 2 - 1
    return SliceSet(names=[str(i) for i in range(n)], patients=["1"] * n, ct=mr.clone(), mr=mr)


def test_affine_moves_both_images_of_a_pair_identically() -> None:
    data = _pairs()  # ct == mr, so an augmented pair must stay equal
    mr, ct = make_batch(data, [0, 1, 2], epoch=4, seed=7, cfg=DataConfig(size=32, crop=24, affine=0.2))
    assert torch.equal(mr, ct)
    plain, _ = make_batch(data, [0, 1, 2], epoch=4, seed=7, cfg=DataConfig(size=32, crop=24, affine=0.0))
    assert not torch.allclose(mr, plain)  # it did transform
    again, _ = make_batch(data, [0, 1, 2], epoch=4, seed=7, cfg=DataConfig(size=32, crop=24, affine=0.2))
    assert torch.equal(mr, again)  # drawn from (seed, epoch, sample): a resumed run replays it


def test_affine_fills_background_and_keeps_range() -> None:
    img = torch.ones(2, 1, 32, 32)  # a bright slice shrunk by zoom-out must gain background (-1) at its border
    a, b = random_affine(img, np.random.default_rng(3), 0.3)
    assert a.shape == (1, 32, 32) and torch.equal(a, b)
    assert a.min() == pytest.approx(-1.0) and a.max() <= 1.0 + 1e-6
    assert a.mean() < 1.0


def test_cpu_bf16_autocast_and_fp16_refused() -> None:
    conv = torch.nn.Conv2d(1, 4, 3)
    with autocast_for("bf16", "cpu")():
        assert conv(torch.rand(1, 1, 8, 8)).dtype == torch.bfloat16
    with autocast_for("none", "cpu")():
        assert conv(torch.rand(1, 1, 8, 8)).dtype == torch.float32
    with pytest.raises(ConfigError, match="bf16"):
        autocast_for("fp16", "cpu")
