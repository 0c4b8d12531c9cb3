from __future__ import annotations

from torch import nn

from sccg_edge.models import build_generator, count_macs, format_macs


def test_conv_by_hand() -> None:
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1)  # 8x8 -> 4x4
    cost = count_macs(conv, (2, 3, 8, 8))
    assert cost.macs == 2 * 5 * 4 * 4 * 3 * 3 * 3
    assert cost.params == 5 * 3 * 9 + 5


def test_depthwise_transpose_linear_by_hand() -> None:
    model = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.ConvTranspose2d(4, 2, 3, 2, 1, 1),
                          nn.Flatten(), nn.Linear(2 * 16 * 16, 3))
    cost = count_macs(model, (1, 4, 8, 8))
    assert cost.macs == 4 * 8 * 8 * 9 + 4 * 8 * 8 * 2 * 9 + 3 * 512


def test_norm_optional_and_mode_restored() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2)).train()
    assert count_macs(model, (1, 1, 4, 4)).macs == 32
    assert count_macs(model, (1, 1, 4, 4), include_norm=True).macs == 64
    assert model.training


def test_paper_generator_cost_scales() -> None:
    # The full "paper" model at 512x512 is 194.9 GMAC (measured once; too slow for a unit test). Each conv's MACs
    # scale with H*W, so 1/256 of the pixels gives exactly 1/256 of the MACs.
    cost = count_macs(build_generator("paper"), (1, 1, 32, 32))
    assert cost.macs * 256 == 194_917_695_488
    assert cost.params == 11_365_633


def test_format_macs() -> None:
    assert format_macs(195_300_000_000) == "195.3 GMAC"
    assert format_macs(2_100_000) == "2.1 MMAC"
    assert format_macs(12) == "12 MAC"
