"""Configuration of ``sccg-edge evaluate`` (a model scored on a patient split) and ``sccg-edge ship``."""

from __future__ import annotations

from dataclasses import dataclass

from sccg_edge.config.bounds import SIZE_MAX, bounded
from sccg_edge.config.loader import normalize
from sccg_edge.errors import InputError

DIRECTIONS = ("mr2ct", "ct2mr")


@dataclass(frozen=True)
class EvalConfig:
    """What a model is scored on.

    Attributes:
        split: train, val, test or calibration (patient-level).
        directions: mr2ct and/or ct2mr.
        data: paired data folder (empty: the shared real pairs when present, else the embedded phantom).
        size: slice size (0: the model's trained size).
        patients: score exactly these patients instead of a split, whatever split they are in.
        register: none | rigid | affine: score against ground truth registered onto the input.
        tta: none | flip: average each prediction with the mirrored prediction of the mirrored input.
    """

    split: str = "test"
    directions: tuple[str, ...] = DIRECTIONS
    data: str = ""
    size: int = bounded(0, 16, SIZE_MAX, multiple=4, off=True)
    patients: tuple[str, ...] = ()
    register: str = "none"
    tta: str = "none"

    def __post_init__(self) -> None:
        normalize(self)
        bad = [d for d in self.directions if d not in DIRECTIONS]
        if bad or not self.directions:
            raise InputError(f"--direction must be both, mr2ct or ct2mr, not '{','.join(bad)}'")


@dataclass(frozen=True)
class ShipConfig:
    """How a run is packaged as a model folder.

    Attributes:
        half: store the weights as FP16 (half the size).
        notes: text for the top of the model card.
        compare: another model (e.g. the teacher) scored on the same test split and shown beside this one.
        data: paired data folder the card is measured on (empty: the shared real pairs, else the phantom).
        cv: a cross-validation result (``cv.json`` of ``sccg-edge cv``) shown on the card as the accuracy to expect
            on unseen patients (for a model trained on every patient, whose val/test rows are then in-sample).
    """

    half: bool = True
    notes: str = ""
    compare: str = ""
    data: str = ""
    cv: str = ""
