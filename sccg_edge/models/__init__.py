"""Generators, discriminator and cost counting; only export-friendly ops."""

from __future__ import annotations

from sccg_edge.models.discriminator import RECEPTIVE_FIELD, PatchDiscriminator, patch_map_size
from sccg_edge.models.generator import (
    GENERATOR_PRESETS,
    Generator,
    GeneratorConfig,
    build_generator,
    resolve_generator_config,
)
from sccg_edge.models.macs import ModelCost, count_macs, format_macs

__all__ = [
    "GENERATOR_PRESETS",
    "RECEPTIVE_FIELD",
    "Generator",
    "GeneratorConfig",
    "ModelCost",
    "PatchDiscriminator",
    "build_generator",
    "count_macs",
    "format_macs",
    "patch_map_size",
    "resolve_generator_config",
]
