"""What a review shows: test slices of a split and every model's translation of them, through the Backend interface.

A model list is a list of items ``[LABEL=]SPEC[@DIRECTION]`` (comma-separated on the command line): ``SPEC`` is a
shipped model name (``teacher``, ``student-s``), a model or run folder, a generator ``.safetensors`` file, or an
exported artifact (``.onnx``, OpenVINO ``.xml``, TensorRT ``.engine``). A generator pair serves both directions; an
artifact serves the direction recorded beside it (``card.json`` / ``config.yaml``), or the one given after ``@``.
``LABEL`` names the model in the pages and reports (default: the shipped name, the artifact's folder name, or the
file/folder name); two artifacts of one model, one per direction, share a label.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.backends import backend_for_artifact, load_backend, run_batched, run_fitted
from sccg_edge.config import DataConfig
from sccg_edge.data.slices import load_splits, resolve_data_root
from sccg_edge.data.transforms import model_to_unit, unit_to_model
from sccg_edge.errors import ConfigError, InputError
from sccg_edge.metrics.score import image_255
from sccg_edge.models.weights import read_metadata

DIRECTIONS = ("mr2ct", "ct2mr")
TARGET_MODALITY = {"mr2ct": "CT", "ct2mr": "MR"}  # what a direction produces
SOURCE_MODALITY = {"mr2ct": "MR", "ct2mr": "CT"}
REAL = "real"  # the label of the real images (the study's control); no model may take it
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


@dataclass(frozen=True)
class ModelSpec:
    """One item of a model list: a display label, the spec to load, and the direction if it is pinned."""

    label: str
    spec: str
    direction: str | None = None


@dataclass
class LoadedModel:
    """A model spec loaded as one backend per direction it serves."""

    label: str
    spec: str
    runners: dict[str, Any] = field(default_factory=dict)  # direction -> sccg_edge.backends.Backend

    def describe(self) -> dict[str, Any]:
        """Label, spec, and backend/precision per direction (JSON-friendly)."""
        return {"label": self.label, "spec": self.spec,
                "directions": {d: {"backend": r.name, "precision": r.precision} for d, r in self.runners.items()}}


@dataclass
class ReviewSlices:
    """Paired slices of one split: ``ct`` and ``mr`` are (N, 1, S, S) float32 in [-1, 1]."""

    names: list[str]
    patients: list[str]
    ct: np.ndarray
    mr: np.ndarray
    source: str
    split: str

    def pair(self, direction: str) -> tuple[np.ndarray, np.ndarray]:
        """(input, ground truth) of ``direction``."""
        return (self.mr, self.ct) if direction == "mr2ct" else (self.ct, self.mr)


def default_label(spec: str) -> str:
    """A short name for a spec: an artifact ``<folder>/model.xml`` is its folder's name, a file its stem."""
    path = Path(spec)
    if not path.exists():
        return spec
    if path.is_file():
        return path.parent.name if path.stem == "model" else path.stem
    return path.resolve().name


def parse_models(items: Sequence[str]) -> list[ModelSpec]:
    """Parse ``[LABEL=]SPEC[@DIRECTION]`` items (see module docs); labels must be file-name safe."""
    specs: list[ModelSpec] = []
    for item in (t.strip() for t in items):
        if not item:
            continue
        label, _, spec = item.partition("=") if "=" in item else ("", "", item)
        direction = None
        if "@" in spec and spec.rsplit("@", 1)[1] in DIRECTIONS:
            spec, direction = spec.rsplit("@", 1)
        label = label.strip() or default_label(spec)
        if not _LABEL_RE.match(label):
            raise ConfigError(f"model label '{label}' is not usable: use letters, digits and . _ + - (at most 64), "
                              f"e.g. int8={spec}")
        if label == REAL:
            raise ConfigError(f"'{REAL}' names the real images; give the model another label, e.g. mine={spec}")
        specs.append(ModelSpec(label=label, spec=spec.strip(), direction=direction))
    if not specs:
        raise ConfigError("--models is empty; give e.g. --models teacher,student-s")
    return specs


def _torch_directions(spec: ModelSpec) -> tuple[str, ...]:
    if spec.direction:
        return (spec.direction,)
    path = Path(spec.spec)
    if path.is_file() and path.suffix == ".safetensors":
        recorded = (read_metadata(path) or {}).get("direction")  # an unreadable file: the backend says why
        if recorded in DIRECTIONS:
            return (recorded,)
    return DIRECTIONS


def load_model(spec: ModelSpec, device: str = "cpu", threads: int = 0) -> LoadedModel:
    """Load ``spec`` through :func:`sccg_edge.backends.load_backend`, one backend per direction it serves."""
    name = backend_for_artifact(spec.spec)
    model = LoadedModel(label=spec.label, spec=spec.spec)
    if name == "torch":
        for d in _torch_directions(spec):
            model.runners[d] = load_backend("torch", spec.spec, device=device, threads=threads, direction=d)
        return model
    runner = load_backend(name, spec.spec, device=device, threads=threads, direction=spec.direction)
    if runner.direction not in DIRECTIONS:
        raise InputError("this artifact does not record its direction; append @mr2ct or @ct2mr to it in --models",
                         spec.spec)
    model.runners[runner.direction] = runner
    return model


def load_models(specs: list[ModelSpec], device: str = "cpu", threads: int = 0) -> list[LoadedModel]:
    """Load every spec (see :func:`load_model`); specs of one label join into one model, one direction each.

    So ``int8=sct/model.xml,int8=smr/model.xml`` is one model that serves both directions.
    """
    models: dict[str, LoadedModel] = {}
    for s in specs:
        loaded = load_model(s, device=device, threads=threads)
        if s.label not in models:
            models[s.label] = loaded
            continue
        both = sorted(set(models[s.label].runners) & set(loaded.runners))
        if both:
            raise ConfigError(f"two models labelled '{s.label}' both serve {', '.join(both)}; name them apart with "
                              "LABEL=SPEC")
        models[s.label].runners.update(loaded.runners)
        models[s.label].spec += f",{s.spec}"
    return list(models.values())


def model_size(models: list[LoadedModel]) -> int:
    """The slice size of the first model that states one (256 when none does)."""
    for m in models:
        for r in m.runners.values():
            if getattr(r, "input_size", None):
                return int(r.input_size)
    return 256


def load_slices(data: str = "", split: str = "test", size: int = 256, limit: int = 0) -> ReviewSlices:
    """Slices of ``split`` (patient-level) at ``size``; ``limit`` > 0 keeps that many, spread along the head.

    ``data`` empty: the shared real pairs when present, else the embedded phantom (as every other command).
    """
    cfg = DataConfig(root=data, size=size, crop=0, flip=False)
    _, description = resolve_data_root(cfg)
    sets = load_splits(cfg)
    if split not in sets:
        raise InputError(f"the data has no '{split}' split; available: {', '.join(sets)}", data or None)
    s = sets[split].spread(limit)
    return ReviewSlices(names=s.names, patients=s.patients, ct=s.ct.numpy(), mr=s.mr.numpy(), source=description,
                        split=split)


def translate(runner: Any, x: np.ndarray) -> np.ndarray:
    """Run a backend over slices ``x`` (N, 1, S, S) in [-1, 1]; a model of another size runs on a fitted copy.

    The fitted copy (resize + pad, :func:`sccg_edge.data.transforms.fit_to_size`) is mapped back onto the S x S grid,
    so every output lies on the ground truth's grid.
    """
    want = getattr(runner, "input_size", None)
    if not want or want == x.shape[-1]:
        return run_batched(runner, x, 4 if runner.name == "torch" else 1)  # exported artifacts: a static batch of 1
    outs = [unit_to_model(run_fitted(runner, model_to_unit(img[0]), int(want)))[None] for img in x]
    return np.stack(outs).astype(np.float32)


def run_models(models: list[LoadedModel], slices: ReviewSlices) -> dict[tuple[str, str], np.ndarray]:
    """Every model's output per direction it serves: ``{(label, direction): (N, 1, S, S)}`` in [-1, 1]."""
    out = {}
    for m in models:
        for d, runner in m.runners.items():
            out[(m.label, d)] = translate(runner, slices.pair(d)[0])
    return out


def to_255(img: np.ndarray) -> np.ndarray:
    """One slice (1, S, S) or (S, S) in [-1, 1] -> (S, S) float64 on the paper's 0..255 scale (clipped)."""
    return image_255(img)
