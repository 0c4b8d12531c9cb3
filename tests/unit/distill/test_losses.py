"""Feature adapters and layer-pair parsing of the distillation losses."""

from __future__ import annotations

import pytest
import torch

from sccg_edge.config import DistillLossConfig
from sccg_edge.errors import ConfigError
from sccg_edge.losses.distill import (
    FeatureAdapters,
    feature_distill_loss,
    feature_widths,
    output_distill_loss,
    parse_feature_pairs,
)
from sccg_edge.models import build_generator


def test_feature_widths_match_forward_features():
    gen = build_generator("student-s", ngf=4, n_blocks=2)
    _, feats = gen.forward_features(torch.zeros(1, 1, 16, 16))
    assert feature_widths(gen.config) == {k: int(v.shape[1]) for k, v in feats.items()}
    assert list(feature_widths(gen.config)) == list(feats)


def test_adapters_map_student_widths_to_teacher_widths():
    student = build_generator("student-s", ngf=4, n_blocks=2)
    teacher = build_generator("paper", ngf=6, n_blocks=3)
    pairs = [("enc", "enc"), ("block1", "block2"), ("stem", "up0"), ("dec", "dec")]
    adapters = FeatureAdapters(pairs, student.config, teacher.config)
    x = torch.randn(2, 1, 16, 16)
    _, s_feats = student.forward_features(x)
    _, t_feats = teacher.forward_features(x)
    adapted = adapters(s_feats, t_feats)
    assert [c.in_channels for c in adapters.convs] == [16, 16, 4, 4]
    assert [c.out_channels for c in adapters.convs] == [24, 24, 12, 6]
    assert [tuple(s.shape) for s, _ in adapted] == [tuple(t_feats[t].shape) for _, t in pairs]
    loss = feature_distill_loss(adapted, "mse")
    loss.backward()
    assert all(c.weight.grad is not None for c in adapters.convs)
    assert float(feature_distill_loss(adapted, "l1").detach()) > 0


def test_adapters_resize_to_a_flat_teacher():
    student = build_generator("student-s", ngf=4, n_blocks=1)
    teacher = build_generator("paper-flat", ngf=3, n_blocks=1)
    adapters = FeatureAdapters([("enc", "enc")], student.config, teacher.config)
    x = torch.randn(1, 1, 16, 16)
    (s, t), = adapters(student.forward_features(x)[1], teacher.forward_features(x)[1])
    assert s.shape == t.shape == (1, 3, 16, 16)


def test_parse_and_check_pairs():
    assert parse_feature_pairs([" enc:enc", "block5:block8 ", ""]) == [("enc", "enc"), ("block5", "block8")]
    assert parse_feature_pairs(()) == []
    with pytest.raises(ConfigError, match="student_layer:teacher_layer"):
        parse_feature_pairs(["enc"])
    # the comma-separated form of the command line and of older config files becomes the same list
    assert DistillLossConfig(feature_pairs=" enc:enc, block5:block8 ,").feature_pairs == ("enc:enc", "block5:block8")
    s_cfg = build_generator("student-s", ngf=4, n_blocks=2).config
    with pytest.raises(ConfigError, match="student has no feature layer 'block5'.*block1, up0"):
        FeatureAdapters([("block5", "enc")], s_cfg, s_cfg)


def test_output_distill_loss_detaches_teacher():
    s = torch.zeros(1, 1, 4, 4, requires_grad=True)
    t = torch.ones(1, 1, 4, 4, requires_grad=True)
    output_distill_loss(s, t).backward()
    assert t.grad is None and float(s.grad.abs().sum()) > 0
