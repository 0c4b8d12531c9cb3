"""Where paired slices come from and how they are prepared: :class:`DataConfig`, shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass

from sccg_edge.config.bounds import SIZE_MAX, bounded
from sccg_edge.config.loader import CHOICES, normalize
from sccg_edge.errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    """Where the paired slices come from and how they are prepared."""

    root: str = ""  # empty: the shared real pairs when present, else the embedded synthetic phantom
    size: int = bounded(256, 16, SIZE_MAX, multiple=4)  # slices are fitted to size x size (the paper: 512)
    crop: int = bounded(0, 16, SIZE_MAX, multiple=4, off=True)  # random training crop (0: train on whole slices); validation always uses whole slices
    flip: bool = True  # random left-right flips (heads are roughly symmetric)
    affine: float = bounded(0.0, 0.0, 1.0)  # random joint zoom/rotation/shift of each training pair: 0 off; a: zoom 1 +- a,
    #                       rotation +- 100*a degrees, shift +- a/2 of the slice (validation is never augmented)
    ct_window: str = "brain"  # HU window used to map DICOM CT to [0, 1] (PNG pairs are already windowed)
    register: str = "none"  # none | rigid | affine: register each pair's CT onto its MR (mutual information, couch
    #                         removed; sccg_edge/data/register.py) before training, validation and scoring
    train_patients: tuple[str, ...] = ()  # a fixed patient split of your own (empty: the shared data's split for
    val_patients: tuple[str, ...] = ()  #     the shared pairs, else an automatic 80/10/10 patient split); every
    test_patients: tuple[str, ...] = ()  #    patient of the data must be named in exactly one of the three

    def __post_init__(self) -> None:
        normalize(self)
        if self.ct_window not in CHOICES["data.ct_window"]:
            raise ConfigError(f"'data.ct_window' must be one of {', '.join(CHOICES['data.ct_window'])}, "
                              f"got {self.ct_window!r}")
        if self.crop > self.size:
            raise ConfigError(f"'data.crop' {self.crop} is larger than the slices ('data.size' {self.size}): give a "
                              "crop up to the slice size, or 0 to train on whole slices")
