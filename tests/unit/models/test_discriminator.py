from __future__ import annotations

import pytest
import torch
from torch import nn

from sccg_edge.models import PatchDiscriminator, patch_map_size


@pytest.mark.parametrize(("size", "expected"), [(64, 6), (256, 30)])
def test_output_size(size: int, expected: int) -> None:
    d = PatchDiscriminator(ndf=8).eval()
    with torch.no_grad():
        y = d(torch.rand(2, 1, size, size) * 2 - 1)
    assert y.shape == (2, 1, expected, expected)
    assert patch_map_size(size) == expected


def test_paper_layers() -> None:
    d = PatchDiscriminator()
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (64, (4, 4), (2, 2)), (128, (4, 4), (2, 2)), (256, (4, 4), (2, 2)), (512, (4, 4), (1, 1)), (1, (4, 4), (1, 1))]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3
    assert not any(isinstance(m, (nn.Sigmoid, nn.Tanh)) for m in d.modules())


def test_receptive_field_is_70() -> None:
    d = PatchDiscriminator(ndf=4, norm="none").eval()
    x = torch.zeros(1, 1, 128, 128, requires_grad=True)
    d(x)[0, 0, 5, 5].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    assert int(rows.max() - rows.min()) + 1 == 70


def test_too_small_input() -> None:
    with pytest.raises(ValueError, match="at least 24x24"):
        PatchDiscriminator(ndf=4)(torch.zeros(1, 1, 16, 16))
