"""The inference of a conversion: one :class:`~sccg_edge.backends.Backend` chosen once for the whole input.

A model spec (shipped name, model/run folder, ``.safetensors``) runs on the torch backend; an exported artifact on
the backend its suffix implies (``.onnx`` ONNX Runtime, ``.xml`` OpenVINO, ``.engine`` TensorRT), or on
``ConvertConfig.backend`` when given.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sccg_edge.backends import Backend, backend_for_artifact, load_backend, run_fitted
from sccg_edge.backends.cards import artifact_file
from sccg_edge.backends.tta import with_tta
from sccg_edge.config import ConvertConfig
from sccg_edge.errors import ConfigError, InputError

ARTIFACT_SUFFIXES = (".onnx", ".xml", ".engine", ".plan", ".trt")
BATCHING = ("openvino", "torch")  # runtimes that take a batch of any size (OpenVINO reshapes the IR once)


@dataclass
class Translator:
    """One chosen inference path: ``infer`` maps (1, 1, S, S) float32 in [-1, 1] to the same.

    Attributes:
        infer: the backend.
        size: S, the square slice size the model runs at.
        ct_window: name of the CT window (:data:`sccg_edge.data.transforms.CT_WINDOWS`) the model was trained on.
        label: short model name for reports and DICOM descriptions (no paths).
        backend: "torch", "onnxruntime", "openvino" or "tensorrt".
        precision: "fp32", "fp16", "int8", ...
        source: the weights or artifact file.
        batch: slices per call (1 for runtimes built for a batch of one: ONNX Runtime, TensorRT).
        tta: "flip" when each prediction is averaged with the mirrored prediction of the mirrored slice.
    """

    infer: Backend
    size: int
    ct_window: str
    label: str
    backend: str
    precision: str
    source: str
    batch: int = 1
    tta: str = "none"


def model_label(model: str | Path) -> str:
    """A short name of a model spec or artifact for reports: an artifact ``<folder>/model.xml`` is its folder's name."""
    path = Path(model)
    if not path.exists():
        return str(model)
    if artifact_file(path) is not None:  # the artifact folder export / quantize wrote
        return path.name
    if path.is_file() and path.stem == "model":  # export/quantize artifacts are <folder>/model.{onnx,xml,engine}
        return path.parent.name
    return path.stem if path.is_file() else path.name


def load_translator(cfg: ConvertConfig, prepare: bool = False) -> Translator:
    """Choose the backend once, from ``cfg.model``, ``cfg.backend``, ``cfg.device`` and ``cfg.threads``.

    ``cfg.model`` may be a model spec, an artifact file, or the artifact folder ``export`` / ``quantize`` wrote. The
    slice size is ``cfg.size``, else the model's trained size or the artifact's static input size. ``prepare``:
    also compile the runtime for the batches ``convert`` will send (OpenVINO compiles per input shape).
    """
    backend = cfg.backend
    if backend is None:
        inside = artifact_file(Path(cfg.model))  # an export / quantize folder: the model file it holds
        suffix = (inside or Path(cfg.model)).suffix.lower()
        backend = backend_for_artifact(inside or Path(cfg.model)) if suffix in ARTIFACT_SUFFIXES else "torch"
    options = {"cache": True} if backend == "openvino" else {}  # compiled once, reused by the next conversion
    runner = load_backend(backend, cfg.model, device=cfg.device, threads=cfg.threads, direction=cfg.direction,
                          **options)
    size = cfg.size or runner.input_size
    if not size:
        raise ConfigError(f"the {backend} artifact has a dynamic input size: give --size (e.g. 256)")
    source = getattr(runner, "source", None) or (runner.artifact_path if backend != "torch" else None) or cfg.model
    label = model_label(cfg.model) + (" flip-TTA" if cfg.tta == "flip" else "")
    batch = cfg.batch if backend in BATCHING else 1
    if prepare:
        runner.prepare((batch, 1, int(size), int(size)))
    return Translator(infer=with_tta(runner, cfg.tta), size=int(size), ct_window=str(runner.ct_window or "brain"),
                      label=label, backend=backend, precision=str(runner.precision or "fp32"),
                      source=str(source), batch=batch, tta=cfg.tta)


def translate_slice(tr: Translator, unit: np.ndarray) -> np.ndarray:
    """One [0, 1] (H, W) slice through ``tr`` at its size, returned as [0, 1] on the input grid.

    Raises:
        InputError: the model produced NaN or infinite values (damaged or diverged weights); nothing non-finite is
            ever written.
    """
    with warnings.catch_warnings():  # a non-finite output is reported below, not as resampling warnings
        warnings.simplefilter("ignore", RuntimeWarning)
        y = run_fitted(tr.infer, unit, tr.size)
    return check_finite(tr, y)


def check_finite(tr: Translator, y: np.ndarray) -> np.ndarray:
    """``y`` (model outputs) when every value is finite.

    Raises:
        InputError: the model produced NaN or infinite values (damaged or diverged weights); nothing non-finite is
            ever written.
    """
    if not np.isfinite(y).all():
        raise InputError(f"the model produced NaN or infinite values ({int((~np.isfinite(y)).sum())} of {y.size} "
                         "output pixels): its weights are damaged or diverged; use another model. Nothing was "
                         "written", tr.source)
    return y
