"""Configuration of ``sccg-edge convert`` (and of the DICOM node that converts each received series)."""

from __future__ import annotations

from dataclasses import dataclass

from sccg_edge.config.bounds import SIZE_MAX, THREADS_MAX, bounded
from sccg_edge.config.loader import normalize
from sccg_edge.errors import ConfigError

DIRECTIONS = ("mr2ct", "ct2mr")


@dataclass(frozen=True)
class ConvertConfig:
    """Which model translates, in which direction, on what.

    Attributes:
        model: a model spec (shipped name, model/run folder, ``.safetensors``) or an exported artifact.
        direction: "mr2ct" (MR in, synthetic CT out) or "ct2mr".
        backend: an inference backend (torch, onnxruntime, openvino, tensorrt); None: implied by the artifact's
            suffix, torch for a model spec.
        series: convert only this SeriesInstanceUID (DICOM input).
        size: slice size to run the model at; None: the model's trained size or the artifact's static input size.
        device: backend device ("cpu", "cuda").
        threads: intra-op threads (0: the runtime's default).
        batch: slices per inference call on runtimes that take any batch (OpenVINO, torch); others run one at a time.
        workers: processes decoding slices ahead of the model (forked at the start; threads where forking is not
            safe: Windows, or inside a server with running threads), while the model runs and a background thread
            writes behind it; 0: decode, infer and write one slice after another in one thread.
        tta: test-time augmentation: "none", or "flip" (the mean of the prediction and the mirrored prediction of
            the mirrored slice; twice the inference cost, see ``sccg-edge bench --set tta=flip``).
    """

    model: str = "teacher"
    direction: str = "mr2ct"
    backend: str | None = None
    series: str | None = None
    size: int | None = bounded(None, 16, SIZE_MAX, multiple=4)
    device: str = "cpu"
    threads: int = bounded(0, 0, THREADS_MAX)
    batch: int = bounded(4, 1, 256)
    workers: int = bounded(2, 0, 64)
    tta: str = "none"

    def __post_init__(self) -> None:
        normalize(self)
        if self.tta not in ("none", "flip"):
            raise ConfigError(f"unknown --tta '{self.tta}'; use none or flip")
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"unknown --direction '{self.direction}'; use mr2ct (MR in, synthetic CT out) or ct2mr")
        if self.size is not None and (self.size < 16 or self.size % 4):
            raise ConfigError(f"--size {self.size} is not usable: give a multiple of 4, at least 16 (e.g. 256)")
