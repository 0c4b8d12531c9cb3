"""Training losses of scCycleGAN: LSGAN, D-weighted pixel L1, SC structural consistency, cycle and identity."""

from __future__ import annotations

from sccg_edge.losses.cycle import cycle_loss, identity_loss
from sccg_edge.losses.gan import lsgan_d_loss, lsgan_g_loss
from sccg_edge.losses.pixel import discriminator_weights, l1, weighted_pixel_l1
from sccg_edge.losses.structure import (
    LocalDescriptor,
    grid_locations,
    make_structure_features,
    random_locations,
    self_similarity_maps,
    structure_loss,
)

__all__ = [
    "LocalDescriptor",
    "cycle_loss",
    "discriminator_weights",
    "grid_locations",
    "identity_loss",
    "l1",
    "lsgan_d_loss",
    "lsgan_g_loss",
    "make_structure_features",
    "random_locations",
    "self_similarity_maps",
    "structure_loss",
    "weighted_pixel_l1",
]
