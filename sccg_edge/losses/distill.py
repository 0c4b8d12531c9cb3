"""Knowledge-distillation losses: output distillation and intermediate-feature distillation with 1x1 adapters.

Feature layers are named as in :meth:`sccg_edge.models.generator.Generator.forward_features` ("stem",
"down{i}", "enc", "block{i}", "up{i}", "dec"). A *layer pair* maps a student layer to a teacher layer; a learned
1x1 convolution (an *adapter*, trained together with the student) lifts the student's channels to the teacher's
width, and the adapted map is resized bilinearly when the two resolutions differ (e.g. a "flat" teacher).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from sccg_edge.errors import ConfigError
from sccg_edge.losses.pixel import l1
from sccg_edge.models.generator import GeneratorConfig

DISTANCES = ("mse", "l1")


def feature_widths(config: GeneratorConfig) -> dict[str, int]:
    """Channel count of every named feature of a generator, in forward order, without running it."""
    c = config
    widths = {"stem": c.ngf}
    widths.update({f"down{i}": c.ngf * 2 ** (i + 1) for i in range(c.n_down)})
    width = c.ngf * 2**c.n_down
    widths["enc"] = width
    widths.update({f"block{i}": width for i in range(c.n_blocks)})
    widths.update({f"up{i}": c.ngf * 2 ** (c.n_down - i - 1) for i in range(c.n_down)})
    widths["dec"] = c.ngf
    return widths


def parse_feature_pairs(items: Sequence[str]) -> list[tuple[str, str]]:
    """``["enc:enc", "block5:block8"]`` (``DistillLossConfig.feature_pairs``, student:teacher) -> layer pairs.

    Raises:
        ConfigError: an item is not ``student_layer:teacher_layer``.
    """
    pairs: list[tuple[str, str]] = []
    for item in (s.strip() for s in items):
        if not item:
            continue
        parts = [p.strip() for p in item.split(":")]
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"loss.feature_pairs: '{item}' is not 'student_layer:teacher_layer' "
                              "(e.g. 'enc:enc,block5:block8')")
        pairs.append((parts[0], parts[1]))
    return pairs


def check_feature_pairs(pairs: list[tuple[str, str]], student: GeneratorConfig,
                        teacher: GeneratorConfig) -> None:
    """Refuse layer names that the student or the teacher does not have, listing the valid ones.

    Raises:
        ConfigError: a name is unknown for its network.
    """
    for side, index, cfg in (("student", 0, student), ("teacher", 1, teacher)):
        valid = list(feature_widths(cfg))
        for pair in pairs:
            if pair[index] not in valid:
                raise ConfigError(f"loss.feature_pairs: the {side} has no feature layer '{pair[index]}'; valid "
                                  f"{side} feature names: {', '.join(valid)}")


class FeatureAdapters(nn.Module):
    """One learned 1x1 conv per layer pair, mapping student width to teacher width."""

    def __init__(self, pairs: list[tuple[str, str]], student: GeneratorConfig, teacher: GeneratorConfig) -> None:
        super().__init__()
        check_feature_pairs(pairs, student, teacher)
        s_w, t_w = feature_widths(student), feature_widths(teacher)
        self.pairs = list(pairs)
        self.convs = nn.ModuleList(nn.Conv2d(s_w[s], t_w[t], kernel_size=1) for s, t in pairs)

    def forward(self, student_feats: dict[str, Tensor], teacher_feats: dict[str, Tensor]) -> list[tuple[Tensor, Tensor]]:
        """Adapted student features beside their (detached) teacher targets, one tuple per pair."""
        out = []
        for (s_name, t_name), conv in zip(self.pairs, self.convs):
            adapted = conv(student_feats[s_name])
            target = teacher_feats[t_name].detach()
            if adapted.shape[-2:] != target.shape[-2:]:
                adapted = F.interpolate(adapted, size=target.shape[-2:], mode="bilinear", align_corners=False)
            out.append((adapted, target))
        return out


def feature_distill_loss(adapted: list[tuple[Tensor, Tensor]], distance: str = "mse") -> Tensor:
    """Mean over layer pairs of MSE (or L1) between adapted student features and teacher features.

    Raises:
        ConfigError: unknown distance; ValueError: no pairs.
    """
    if distance not in DISTANCES:
        raise ConfigError(f"loss.feat_distance must be one of {', '.join(DISTANCES)}, got '{distance}'")
    if not adapted:
        raise ValueError("feature distillation needs at least one layer pair")
    fn = F.mse_loss if distance == "mse" else F.l1_loss
    return sum(fn(s.float(), t.float()) for s, t in adapted) / len(adapted)  # float32 under bf16 autocast too


def output_distill_loss(student_out: Tensor, teacher_out: Tensor) -> Tensor:
    """L1 between the student's and the (detached) teacher's translations."""
    return l1(student_out, teacher_out.detach())
