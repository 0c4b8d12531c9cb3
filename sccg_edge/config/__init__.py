"""The one config system of every stage: frozen dataclasses, YAML recipes, ``--set key=value`` overrides.

:mod:`~sccg_edge.config.loader` reads YAML into the dataclasses (lists as lists), applies overrides and dumps the
resolved config; one module per stage holds that stage's dataclasses. Stages and the CLI import them from here.
Cheap to import: dataclasses, PyYAML and nothing else.

STYLE.md sketches one ``config.py``; with eight stages' dataclasses in it the file would pass 600 lines, so the same
system is a package of one small module per stage, behind this one import.
"""

from __future__ import annotations

from sccg_edge.config.bench import DEFAULT_VARIANTS, QuantTableConfig, SuiteConfig, load_suite_config
from sccg_edge.config.convert import ConvertConfig
from sccg_edge.config.data import DataConfig
from sccg_edge.config.distill import DistillConfig, DistillLossConfig, StudentConfig, load_distill_config
from sccg_edge.config.evaluate import EvalConfig, ShipConfig
from sccg_edge.config.export import ExportConfig, ExportProfile, load_profile, profile_names, resolve_profile
from sccg_edge.config.loader import (
    CHOICES,
    apply_overrides,
    dump_yaml,
    from_dict,
    load_config,
    parse_set,
    recipe_names,
    to_dict,
    write_yaml,
)
from sccg_edge.config.quantize import MIN_CALIBRATION_SLICES, QATConfig, QuantConfig
from sccg_edge.config.train import CvConfig, LossConfig, ModelConfig, OptimConfig, TrainConfig, load_recipe

__all__ = [
    "CHOICES",
    "DEFAULT_VARIANTS",
    "MIN_CALIBRATION_SLICES",
    "ConvertConfig",
    "CvConfig",
    "DataConfig",
    "DistillConfig",
    "DistillLossConfig",
    "EvalConfig",
    "ExportConfig",
    "ExportProfile",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "QATConfig",
    "QuantConfig",
    "QuantTableConfig",
    "ShipConfig",
    "StudentConfig",
    "SuiteConfig",
    "TrainConfig",
    "apply_overrides",
    "dump_yaml",
    "from_dict",
    "load_config",
    "load_distill_config",
    "load_profile",
    "load_recipe",
    "load_suite_config",
    "parse_set",
    "profile_names",
    "recipe_names",
    "resolve_profile",
    "to_dict",
    "write_yaml",
]
