from __future__ import annotations

import pytest
import torch

from sccg_edge.errors import ConfigError
from sccg_edge.models import GENERATOR_PRESETS, Generator, GeneratorConfig, build_generator


@pytest.mark.parametrize("name", GENERATOR_PRESETS.names())
@pytest.mark.parametrize("size", [32, 64])
def test_presets_shape_and_range(name: str, size: int) -> None:
    torch.manual_seed(0)
    g = build_generator(name, ngf=8).eval()
    x = torch.rand(2, 1, size, size) * 2 - 1
    with torch.no_grad():
        y = g(x)
    assert y.shape == (2, 1, size, size)
    assert y.abs().max() <= 1.0
    assert y.std() > 0


@pytest.mark.parametrize("overrides", [
    {"block": "mobile", "upsample": "resize", "padding": "zero", "norm": "batch"},
    {"norm": "none", "n_down": 3, "in_ch": 2, "out_ch": 3},
    {"shuffle": 2, "in_ch": 2, "out_ch": 3, "block": "mobile"},
])
def test_config_variants(overrides: dict) -> None:
    g = build_generator("paper", ngf=8, n_blocks=2, **overrides).eval()
    cfg = g.config
    x = torch.rand(1, cfg.in_ch, 32, 48) * 2 - 1
    assert g(x).shape == (1, cfg.out_ch, 32, 48)


def test_forward_features_names_and_shapes() -> None:
    g = build_generator("student-s", ngf=8).eval()
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        out, feats = g.forward_features(x)
        ref = g(x)
    n = g.config.n_blocks
    assert list(feats) == ["stem", "down0", "down1", "enc", *[f"block{i}" for i in range(n)], "up0", "up1", "dec"]
    assert feats["enc"].shape == (1, 32, 8, 8)
    assert feats[f"block{n - 1}"].shape == (1, 32, 8, 8)
    assert feats["dec"].shape == (1, 8, 32, 32)
    torch.testing.assert_close(out, ref)


def test_stable_submodule_names() -> None:
    names = dict(build_generator("paper", ngf=8).named_children())
    assert list(names) == ["encoder", "blocks", "decoder", "head"]
    keys = build_generator("paper", ngf=8).state_dict().keys()
    assert "blocks.block8.body.0.1.weight" in keys  # reflect pad at body.0.0, conv at body.0.1
    assert "encoder.down1.0.weight" in keys and "decoder.up1.0.weight" in keys


def test_flat_has_no_resampling() -> None:
    g = build_generator("paper-flat", ngf=8, n_blocks=2)
    _, feats = g.forward_features(torch.zeros(1, 1, 30, 30))  # any size works without downsampling
    assert feats["enc"].shape == (1, 8, 30, 30)
    with pytest.raises(ConfigError, match="n_down=0"):
        GeneratorConfig(arch="flat")


def test_size_not_divisible_raises() -> None:
    g = build_generator("student-xs")
    with pytest.raises(ValueError, match="multiples of 4"):
        g(torch.zeros(1, 1, 30, 32))


def test_config_round_trip_and_unknown_key() -> None:
    cfg = GeneratorConfig(ngf=16, block="mobile", upsample="resize")
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown generator config key 'ngff'.*valid keys: arch, ngf"):
        GeneratorConfig.from_dict({"ngff": 3})
    with pytest.raises(ConfigError, match="norm='group'"):
        GeneratorConfig(norm="group")
    with pytest.raises(ConfigError, match="ngf"):
        GeneratorConfig(ngf=0)
    with pytest.raises(ConfigError, match="unknown generator preset 'huge'"):
        build_generator("huge")
    assert isinstance(build_generator({"ngf": 8, "n_blocks": 1}), Generator)


def test_instance_norm_is_cyclegan_default() -> None:
    norms = [m for m in build_generator("paper", ngf=8).modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)


def test_space_to_depth_student_has_no_full_resolution_layer() -> None:
    g = build_generator("student-ps").eval()
    assert g.config.size_multiple == 8
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o.shape[-1]))
             for m in g.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]
    with torch.no_grad():
        assert g(torch.rand(1, 1, 64, 64) * 2 - 1).shape == (1, 1, 64, 64)
    for h in hooks:
        h.remove()
    assert max(seen) == 32  # every convolution runs at half resolution or below
    with pytest.raises(ValueError, match="shuffle=2"):
        g(torch.zeros(1, 1, 60, 60))
