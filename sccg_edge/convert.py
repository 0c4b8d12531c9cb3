"""Translate slices with a generator: PNG folders here, DICOM series in :mod:`sccg_edge.convert_dicom`.

:func:`convert_path` picks the reader from the input (a DICOM file, a DICOM series folder, a folder of several
series, or a folder of PNG slices). The inference itself is one callable chosen once (:func:`load_translator`):
eager torch from a model spec (shipped name, model/run folder, ``.safetensors``), or an exported artifact through
:mod:`sccg_edge.backends` (``--backend``, or implied by an ``.onnx``/``.xml``/``.engine`` artifact).

Every output folder is written under a temporary hidden name (``.NAME.*.partial``) beside the final one and
renamed into place when complete, so an interrupted run leaves nothing under the final name; partial folders left
by a killed run are removed by the next run to the same output. An existing output folder is never overwritten,
and the output may not lie inside the input folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.errors import ConfigError, InputError

IMAGE_SUFFIXES = (".png",)
ARTIFACT_SUFFIXES = (".onnx", ".xml", ".engine", ".plan", ".trt")
OWNER_FILE = ".sccg-owner-pid"  # inside a partial output folder: the pid of the process writing it


@dataclass
class Translator:
    """One chosen inference path: ``infer`` maps (1, 1, S, S) float32 in [-1, 1] to the same.

    Attributes:
        infer: the per-slice inference callable.
        size: S, the square slice size the model runs at.
        ct_window: name of the CT window (:data:`sccg_edge.data.transforms.CT_WINDOWS`) the model was trained on.
        label: short model name for reports and DICOM descriptions (no paths).
        backend: "torch", "onnxruntime", "openvino" or "tensorrt".
        precision: "fp32", "fp16", "int8", ...
        source: the weights or artifact file.
    """

    infer: Callable[[np.ndarray], np.ndarray]
    size: int
    ct_window: str
    label: str
    backend: str
    precision: str
    source: str


def _label(model: str | Path) -> str:
    path = Path(model)
    if not path.exists():
        return str(model)
    if path.is_file() and path.stem == "model":  # export/quantize artifacts are <folder>/model.{onnx,xml,engine}
        return path.parent.name
    return path.stem if path.is_file() else path.name


def _check_size(size: int | None) -> int | None:
    if size is not None and (size < 16 or size % 4):
        raise ConfigError(f"--size {size} is not usable: give a multiple of 4, at least 16 (e.g. 256)")
    return size


def load_translator(model: str | Path, direction: str, backend: str | None = None, size: int | None = None,
                    device: str = "cpu", threads: int = 0) -> Translator:
    """Choose the inference callable once.

    Args:
        model: a model spec (shipped name, model/run folder, ``.safetensors``) or an exported artifact.
        direction: "mr2ct" or "ct2mr".
        backend: an inference backend of :mod:`sccg_edge.backends`; implied by an artifact suffix when None.
        size: slice size to run at; defaults to the model's trained size or the artifact's static input size.
        device: backend device ("cpu", "cuda").
        threads: intra-op threads (0 = the runtime's default).
    """
    _check_size(size)
    if backend is None and Path(model).suffix.lower() in ARTIFACT_SUFFIXES:
        from sccg_edge.backends import backend_for_artifact

        backend = backend_for_artifact(Path(model))
    if backend is None:
        return _torch_translator(model, direction, size, threads)
    from sccg_edge.backends import load_backend

    runner = load_backend(backend, model, device=device, threads=threads, direction=direction)
    size = size or getattr(runner, "input_size", None)
    if not size:
        raise ConfigError(f"the {backend} artifact has a dynamic input size: give --size (e.g. 256)")
    meta = getattr(runner, "meta", None) or {}
    window = getattr(runner, "ct_window", None) or meta.get("ct_window", "brain")
    precision = getattr(runner, "precision", None) or meta.get("precision", "fp32")

    def infer(x: np.ndarray) -> np.ndarray:
        return np.asarray(runner(np.ascontiguousarray(x, dtype=np.float32)), dtype=np.float32)

    return Translator(infer=infer, size=int(size), ct_window=str(window), label=_label(model), backend=backend,
                      precision=str(precision), source=str(model))


def _torch_translator(model: str | Path, direction: str, size: int | None, threads: int) -> Translator:
    import torch

    from sccg_edge.models.loading import load_generator

    gen = load_generator(model, direction)

    def infer(x: np.ndarray) -> np.ndarray:
        before = torch.get_num_threads()
        if threads > 0:  # per call, so that a library caller's own torch setting is left as it was
            torch.set_num_threads(threads)
        try:
            with torch.inference_mode():
                return gen.model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()
        finally:
            torch.set_num_threads(before)

    return Translator(infer=infer, size=int(size or gen.size), ct_window=gen.ct_window, label=_label(model),
                      backend="torch", precision=str(gen.meta.get("precision", "fp32")), source=str(gen.source))


def translate_with(tr: Translator, img01: np.ndarray) -> np.ndarray:
    """One [0, 1] (H, W) slice through ``tr`` at its size, returned as [0, 1] on the input grid."""
    from sccg_edge.data.transforms import fit_to_size, model_to_unit, restore_from_fit, unit_to_model

    fitted, info = fit_to_size(img01, tr.size)
    y = tr.infer(unit_to_model(fitted)[None, None])[0, 0]
    return restore_from_fit(model_to_unit(y), info).clip(0.0, 1.0)


def translate_unit(gen: Any, img01: np.ndarray) -> np.ndarray:
    """Run a loaded generator on one [0, 1] slice at its trained size and return [0, 1] on the input grid."""
    import torch

    from sccg_edge.data.transforms import fit_to_size, model_to_unit, restore_from_fit, unit_to_model

    fitted, info = fit_to_size(img01, gen.size)
    x = torch.from_numpy(unit_to_model(fitted).astype(np.float32))[None, None]
    with torch.no_grad():
        y = gen.model(x)[0, 0].numpy()
    return restore_from_fit(model_to_unit(y), info).clip(0.0, 1.0)


def check_output_folder(out: Path, inp: Path) -> None:
    """Refuse an existing output folder and an output inside the input folder."""
    out, inp = Path(out).resolve(), Path(inp).resolve()
    if out.exists():
        raise InputError("output folder already exists; nothing was overwritten. Choose a new --out", out)
    if out == inp or inp in out.parents:
        raise InputError(f"output folder lies inside the input folder {inp}; write it elsewhere", out)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_partials(out: Path) -> list[Path]:
    """Remove ``.NAME.*.partial`` folders beside ``out`` whose writer is gone (killed run); returns them.

    A partial folder whose owner pid (``.sccg-owner-pid`` inside it) is still running is left alone.
    """
    out = Path(out)
    removed = []
    if not out.parent.is_dir():
        return removed
    for cand in out.parent.glob(f".{out.name}.*.partial"):
        try:
            pid = int((cand / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if cand.is_dir() and not (pid and _pid_alive(pid)):
            shutil.rmtree(cand, ignore_errors=True)
            removed.append(cand)
    return removed


def mark_owner(tmp: Path) -> None:
    """Record this process as the writer of a partial folder (see :func:`clean_stale_partials`)."""
    (Path(tmp) / OWNER_FILE).write_text(str(os.getpid()))


def unmark_owner(tmp: Path) -> None:
    """Remove the owner record just before the partial folder is renamed into place."""
    (Path(tmp) / OWNER_FILE).unlink(missing_ok=True)


def read_png_unit(path: Path) -> np.ndarray:
    """A PNG slice as float32 (H, W) in [0, 1] (RGB is converted to grey)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            arr = np.asarray(img.convert("L") if img.mode not in ("L", "I;16", "I") else img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise InputError(f"cannot decode this image ({err}); replace or remove the file", path) from None
    scale = 65535.0 if arr.dtype == np.uint16 or arr.max() > 255 else 255.0
    return (arr.astype(np.float32) / scale).clip(0.0, 1.0)


def convert_png_folder(model: str, direction: str, inp: Path, out: Path, progress: bool = True,
                       backend: str | None = None, size: int | None = None, threads: int = 0) -> dict[str, Any]:
    """Translate every PNG slice of ``inp`` into ``out`` (8-bit PNGs, same names) with the generator of ``direction``."""
    from PIL import Image

    from sccg_edge.utils.fs import atomic_dir
    from sccg_edge.utils.progress import track

    inp, out = Path(inp), Path(out)
    if not inp.is_dir():
        raise InputError("input folder not found (give a folder of PNG slices)", inp)
    files = sorted(p for p in inp.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError("no PNG slices in this folder", inp)
    check_output_folder(out, inp)
    clean_stale_partials(out)
    tr = load_translator(model, direction, backend=backend, size=size, threads=threads)
    with atomic_dir(out) as tmp:
        mark_owner(tmp)
        for path in track(files, description=f"convert {direction}", enabled=progress):
            y = translate_with(tr, read_png_unit(path))
            Image.fromarray(np.round(y * 255.0).astype(np.uint8)).save(tmp / path.name)
        unmark_owner(tmp)
    return {"model": str(model), "direction": direction, "input": str(inp), "out": str(out), "n": len(files),
            "weights": tr.source, "backend": tr.backend, "precision": tr.precision}


def _is_png_folder(inp: Path) -> bool:
    if not inp.is_dir():
        return False
    names = [p for p in inp.iterdir() if p.is_file() and not p.name.startswith(".")]
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in names) and not any(
        p.suffix.lower() in (".dcm", ".dicom", ".ima") for p in names)


def convert_path(model: str, direction: str, inp: Path, out: Path, *, backend: str | None = None,
                 series_uid: str | None = None, size: int | None = None, threads: int = 0,
                 progress: bool = True) -> dict[str, Any]:
    """Convert a DICOM file, a DICOM series folder, a folder of several series, or a folder of PNG slices."""
    inp = Path(inp)
    if direction not in ("mr2ct", "ct2mr"):
        raise ConfigError(f"unknown --direction '{direction}'; use mr2ct (MR in, synthetic CT out) or ct2mr")
    if not inp.exists():
        raise InputError("does not exist; give a DICOM file, a DICOM series folder or a folder of PNG slices", inp)
    if _is_png_folder(inp):
        if series_uid is not None:
            raise ConfigError("--series applies to DICOM input only, but the input is a folder of PNG slices")
        return convert_png_folder(model, direction, inp, out, progress=progress, backend=backend, size=size,
                                  threads=threads)
    from sccg_edge.convert_dicom import convert_dicom

    return convert_dicom(model, direction, inp, out, backend=backend, series_uid=series_uid, size=size,
                         threads=threads, progress=progress)
