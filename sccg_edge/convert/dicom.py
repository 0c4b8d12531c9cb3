"""Convert DICOM series slice by slice: MR -> synthetic CT (``mr2ct``) or CT -> synthetic MR (``ct2mr``).

Preprocessing follows the input's own tags (read by :mod:`sccg_edge.data.dicom`, one slice at a time):

* CT input: Hounsfield units -> the model's CT window (e.g. "brain", 0..80 HU) -> [0, 1].
* MR input: robust 0.5/99.5 percentile scaling -> [0, 1], with the percentiles computed once per series from a
  subsample of at most :data:`MR_SAMPLE_SLICES` slices, so every slice gets the same scale and memory stays flat.

Each slice is fitted to the model size and restored afterwards, so the output overlays the input grid exactly.

Output, one DICOM file per input slice (``0001.dcm``, ... in slice order), as a new series in the input's study:

* synthetic CT: CT Image Storage, int16 with RescaleSlope 1 / RescaleIntercept -1024, in HU through the model's
  window (values are confined to that window, e.g. 0..80 HU for "brain"; the window is also the display window);
* synthetic MR: MR Image Storage, uint16, [0, 1] mapped linearly to 0..:data:`MR_OUTPUT_MAX` (there is no input
  MR scale to return to when the input is CT).

Both are ``DERIVED\\SECONDARY`` with the geometry of the source slice, a SourceImageSequence reference to it and a
SeriesDescription naming the model and precision. A folder holding several series gets one sub-folder per
converted series, named by the input SeriesInstanceUID; with ``--series`` only that series is converted.
Patient attributes are copied into the output files (same patient) but never printed or logged.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from copy import deepcopy
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import Dataset

from sccg_edge.config import ConvertConfig
from sccg_edge.convert.output import check_output_folder, clean_stale_partials, mark_owner, unmark_owner
from sccg_edge.convert.translator import Translator, check_finite, load_translator
from sccg_edge.data.dicom import SeriesInfo, read_slice, scan_all_series, scan_series
from sccg_edge.data.dicom_write import SOURCE_KEYWORDS, SeriesIds, SliceGeometry, write_slice
from sccg_edge.data.transforms import (
    CT_WINDOWS,
    FitInfo,
    ct_window_to_unit,
    fit_to_size,
    model_to_unit,
    mr_to_unit,
    restore_from_fit,
    unit_to_ct_hu,
    unit_to_model,
)
from sccg_edge.errors import InputError
from sccg_edge.utils.fs import atomic_dir, check_writable, claim_output
from sccg_edge.utils.pipeline import BackgroundTasks, decoder_processes, prefetch_map
from sccg_edge.utils.progress import track

MR_SAMPLE_SLICES = 12  # slices read to estimate an MR series' percentiles
MR_SAMPLE_PIXELS = 65536  # pixels kept per sampled slice
MR_OUTPUT_MAX = 4095.0  # synthetic MR [0, 1] -> 0..4095 (12-bit range)
HEADER_BYTES = 8192  # room for one output file's header (the source's patient/study module and references)
_EXPECTED = {"mr2ct": "MR", "ct2mr": "CT"}
_OUT_MODALITY = {"mr2ct": "CT", "ct2mr": "MR"}


# ----------------------------------------------------------------------------------------------- pure arrays


def mr_series_scale(samples: list[np.ndarray], p_lo: float = 0.5, p_hi: float = 99.5) -> tuple[float, float]:
    """(lo, hi) scanner values mapped to 0 and 1, from the pixels of a few sampled slices of one series."""
    pooled = np.concatenate([np.asarray(s, np.float32).ravel() for s in samples])
    _, scale = mr_to_unit(pooled, p_lo, p_hi)
    return scale.lo, scale.hi


def mr_unit(img: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """MR scanner values -> [0, 1] with a fixed per-series (lo, hi)."""
    lo, hi = scale
    return np.clip((np.asarray(img, np.float32) - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def to_unit(img: np.ndarray, modality: str, window: tuple[float, float], scale: tuple[float, float] | None
            ) -> np.ndarray:
    """An input slice (HU for CT, scanner units for MR) -> [0, 1]."""
    return ct_window_to_unit(img, window) if modality == "CT" else mr_unit(img, scale or (0.0, 1.0))


def from_unit(unit: np.ndarray, out_modality: str, window: tuple[float, float]) -> np.ndarray:
    """A translated [0, 1] slice -> output values: HU over the model's window for CT, 0..4095 for MR."""
    if out_modality == "CT":
        return unit_to_ct_hu(unit, window)
    return (np.clip(unit, 0.0, 1.0) * MR_OUTPUT_MAX).astype(np.float32)


# ----------------------------------------------------------------------------------------------- plumbing


@dataclass
class _Job:
    """One input series to convert and where its files go inside the output folder."""

    info: SeriesInfo
    subdir: str


def _check_modality(info: SeriesInfo, direction: str, where: Path) -> None:
    want, got = _EXPECTED[direction], info.modality
    if got == want:
        return
    if got in _EXPECTED.values():
        fits = next(d for d, m in _EXPECTED.items() if m == got)
        raise InputError(f"is a {got} series (Modality {got}) but --direction {direction} translates {want} "
                         f"images; use --direction {fits} for {got} input", where)
    raise InputError(f"is a series of Modality '{got}', not {want}: --direction {direction} needs {want} images",
                     where)


def plan_jobs(inp: Path, direction: str, series_uid: str | None) -> tuple[list[_Job], list[dict[str, Any]]]:
    """Which series to convert (and the skipped ones with the reason), reading headers only."""
    infos = scan_all_series(inp) if series_uid is None else {series_uid: scan_series(inp, series_uid)}
    if len(infos) == 1:
        info = next(iter(infos.values()))
        _check_modality(info, direction, inp)
        return [_Job(info, "")], []
    jobs, skipped = [], []
    for uid, info in infos.items():
        if info.modality == _EXPECTED[direction]:
            jobs.append(_Job(info, uid))
        else:
            skipped.append({"series_uid": uid, "modality": info.modality,
                            "reason": f"{direction} translates {_EXPECTED[direction]} images"})
    if not jobs:
        raise InputError(f"holds {len(infos)} series but none is {_EXPECTED[direction]} "
                         f"({', '.join(s['modality'] for s in skipped)}); check --direction", inp)
    return jobs, skipped


def _mr_scale(info: SeriesInfo) -> tuple[float, float]:
    z = len(info.files)
    picks = np.unique(np.linspace(0, z - 1, min(z, MR_SAMPLE_SLICES)).round().astype(int))
    samples = []
    for i in picks:
        img = read_slice(info.files[i], info.frames[i], info.tags[i]).ravel()
        step = max(1, img.size // MR_SAMPLE_PIXELS)
        samples.append(img[::step])
    return mr_series_scale(samples)


def _geometry(info: SeriesInfo, i: int) -> SliceGeometry:
    tags = info.tags[i]
    thickness = tags.get("SliceThickness")
    thickness = float(thickness) if isinstance(thickness, (int, float)) and thickness > 0 else info.spacing[0]
    return SliceGeometry(position=tuple(float(v) for v in info.positions[i]),
                         pixel_spacing=(info.spacing[1], info.spacing[2]), slice_thickness=thickness,
                         orientation=tuple(info.orientation))


def _slice_source(shared: list[Any], tags: dict[str, Any]) -> Dataset:
    """The source header a written slice copies from, without re-reading its file: the series' patient and study
    elements (``shared``, from its first file: a series belongs to one study) and this slice's SOP class and
    instance UIDs, which the scan kept."""
    source = Dataset()
    for element in shared:
        source.add(element)
    for keyword in ("SOPClassUID", "SOPInstanceUID"):
        if tags.get(keyword):
            setattr(source, keyword, tags[keyword])
    return source


def _extra(tr: Translator, info: SeriesInfo, i: int, source: Dataset, direction: str) -> dict[str, Any]:
    kind = "CT" if direction == "mr2ct" else "MR"
    extra: dict[str, Any] = {
        "DerivationDescription": (f"synthetic {kind} translated from {info.modality} series {info.series_uid} by "
                                  f"sccg-edge scCycleGAN '{tr.label}' ({tr.backend}, {tr.precision}, "
                                  f"{tr.size}px); not for diagnosis")[:1024],
    }
    if "SOPClassUID" in source and "SOPInstanceUID" in source:
        item = Dataset()  # the source instance (and frame), in the Common Instance Reference module too
        item.ReferencedSOPClassUID = source.SOPClassUID
        item.ReferencedSOPInstanceUID = source.SOPInstanceUID
        if int(info.tags[i].get("NumberOfFrames") or 1) > 1:
            item.ReferencedFrameNumber = info.frames[i] + 1
        extra["SourceImageSequence"] = [item]
        series = Dataset()
        series.SeriesInstanceUID = info.series_uid
        series.ReferencedInstanceSequence = [deepcopy(item)]
        extra["ReferencedSeriesSequence"] = [series]
    if kind == "CT":
        lo, hi = CT_WINDOWS.get(tr.ct_window, CT_WINDOWS["brain"])
        extra["WindowCenter"], extra["WindowWidth"] = f"{(lo + hi) / 2:g}", f"{hi - lo:g}"
    return extra


def _series_description(tr: Translator, direction: str, resampled: bool = False) -> str:
    tail = f" (synthetic, resampled {tr.size}px)" if resampled else " (synthetic)"
    head = f"{'sCT' if direction == 'mr2ct' else 'sMR'} scCycleGAN {tr.label} {tr.precision}"
    return head[:64 - len(tail)] + tail


def resampling(info: SeriesInfo, size: int) -> str | None:
    """How a series' slices are resampled to run at the model's ``size`` (None when they already have it)."""
    _, h, w = info.shape
    if (h, w) == (size, size):
        return None
    return f"{h}x{w} slices resampled to the model's {size}x{size} and back"


def _prepare(modality: str, window: tuple[float, float], scale: tuple[float, float] | None, size: int,
             where: tuple[Path, int, dict[str, Any]]) -> tuple[np.ndarray, FitInfo]:
    """Decode one slice (file, frame, tags) and fit it to the model: ((size, size) in [-1, 1], how to undo the
    fit). A module-level function of picklable arguments, so that decoder processes can run it."""
    unit = to_unit(read_slice(*where), modality, window, scale)
    fitted, fit = fit_to_size(unit, size)
    return unit_to_model(fitted), fit


def _batches(items: Iterator[tuple[np.ndarray, FitInfo]], batch: int) -> Iterator[list[tuple[np.ndarray, FitInfo]]]:
    chunk: list[tuple[np.ndarray, FitInfo]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == batch:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _infer(tr: Translator, chunk: list[tuple[np.ndarray, FitInfo]], batch: int) -> np.ndarray:
    """One batch through the model, padded to ``batch`` slices so the runtime keeps one compiled shape."""
    x = np.zeros((batch, 1, tr.size, tr.size), np.float32)
    for k, (model_in, _) in enumerate(chunk):
        x[k, 0] = model_in
    return tr.infer(x)[:len(chunk), 0]


def convert_series(tr: Translator, info: SeriesInfo, direction: str, folder: Path, progress: bool = True,
                   batch: int = 1, workers: int = 0, decoders: Executor | None = None) -> dict[str, Any]:
    """Translate one scanned series into DICOM files under ``folder`` (which must exist).

    Decoding (on ``decoders``, else ``workers`` threads, read ahead), inference (``batch`` slices per call) and
    writing (one background thread) overlap; ``workers`` 0 and ``batch`` 1 run slice by slice in this thread.
    """
    if tr.ct_window not in CT_WINDOWS:
        raise InputError(f"the model names an unknown CT window '{tr.ct_window}' (known: {', '.join(CT_WINDOWS)})",
                         tr.source)
    window = CT_WINDOWS[tr.ct_window]
    out_modality = _OUT_MODALITY[direction]
    scale = _mr_scale(info) if info.modality == "MR" else None
    resampled = resampling(info, tr.size)
    first = info.header(0)
    number = int(info.tags[0].get("SeriesNumber") or 0) % 100000 + 1000
    ids = SeriesIds.derived_from(first, series_number=number,
                                 series_description=_series_description(tr, direction, resampled is not None))
    shared = [first[kw] for kw in SOURCE_KEYWORDS if kw in first]

    def write(i: int, y_model: np.ndarray, fit: FitInfo) -> None:
        y = from_unit(restore_from_fit(model_to_unit(y_model), fit).clip(0.0, 1.0), out_modality, window)
        source = _slice_source(shared, info.tags[i])
        extra = _extra(tr, info, i, source, direction)
        if resampled:
            extra["ImageComments"] = f"synthetic; {resampled} (sccg-edge)"
        write_slice(folder / f"{i + 1:04d}.dcm", y, modality=out_modality, geometry=_geometry(info, i), ids=ids,
                    instance_number=i + 1, source=source, extra=extra)

    batch = max(int(batch), 1)
    slices = zip(info.files, info.frames, info.tags)
    prepared = prefetch_map(partial(_prepare, info.modality, window, scale, tr.size), slices, workers=workers,
                            ahead=2 * batch + workers, executor=decoders if workers > 0 else None)
    bar = track(_batches(prepared, batch), description=f"convert {direction}",
                total=-(-len(info.files) // batch), enabled=progress)
    i = 0
    with BackgroundTasks(backlog=2 * batch, enabled=workers > 0) as writer:
        for chunk in bar:
            ys = check_finite(tr, _infer(tr, chunk, batch) if batch > 1 else translate_batch(tr, chunk))
            for y_model, (_, fit) in zip(ys, chunk):
                writer.submit(write, i, y_model, fit)
                i += 1
    return {"input_series_uid": info.series_uid, "input_modality": info.modality, "n_slices": len(info.files),
            "output_series_uid": ids.series_uid, "output_modality": out_modality, "series_number": number,
            "mr_scale": list(scale) if scale else None, "resampled": resampled}


def translate_batch(tr: Translator, chunk: list[tuple[np.ndarray, FitInfo]]) -> np.ndarray:
    """Slices through the model one call each (runtimes built for a batch of one)."""
    return np.stack([tr.infer(np.ascontiguousarray(m[None, None], np.float32))[0, 0] for m, _ in chunk])


def output_bytes(info: SeriesInfo) -> int:
    """About how many bytes the converted series takes: 16-bit pixels plus a header per slice."""
    z, rows, cols = info.shape
    return z * (rows * cols * 2 + HEADER_BYTES)


def convert_dicom(inp: Path, out: Path, cfg: ConvertConfig, progress: bool = True) -> dict[str, Any]:
    """Convert a DICOM file, series folder or folder of several series into a new output folder.

    Args:
        inp: a DICOM file, a series folder, or a folder of several series (one output sub-folder each).
        out: the new output folder (refused if it exists or lies inside the input folder).
        cfg: model, direction, backend, series, size and threads (see :class:`~sccg_edge.config.ConvertConfig`).
        progress: show a progress bar on stderr.

    Returns:
        The JSON summary: input, series converted, slices, output folder(s), model, backend, precision.

    Raises:
        InputError: unusable input (named, with the fix), wrong modality for the direction, bad output folder.
    """
    inp, out = Path(inp), Path(out)
    with decoder_processes(cfg.workers) as decoders:  # forked first, while this process has one thread
        return _convert_dicom(inp, out, cfg, decoders, progress)


def _convert_dicom(inp: Path, out: Path, cfg: ConvertConfig, decoders: Executor | None,
                   progress: bool) -> dict[str, Any]:
    direction = cfg.direction
    with ThreadPoolExecutor(1, thread_name_prefix="sccg-edge-load") as pool:
        # the model loads and compiles (native code, no GIL) while the headers are read: a shorter start-up; an
        # input or output error is still raised first, a model error after them, as before
        loading = pool.submit(load_translator, cfg, True)
        check_output_folder(out, inp if inp.is_dir() else inp.parent)
        jobs, skipped = plan_jobs(inp, direction, cfg.series)
        check_writable(out, need_bytes=sum(output_bytes(job.info) for job in jobs))
        tr = loading.result()
    done = []
    with claim_output(out):
        check_output_folder(out, inp if inp.is_dir() else inp.parent)  # again, now that no other run can write it
        clean_stale_partials(out)
        with atomic_dir(out) as tmp:
            mark_owner(tmp)
            for job in jobs:
                folder = tmp / job.subdir
                folder.mkdir(exist_ok=True)
                row = convert_series(tr, job.info, direction, folder, progress=progress, batch=tr.batch,
                                     workers=cfg.workers, decoders=decoders)
                done.append(dict(row, out=str(out / job.subdir) if job.subdir else str(out)))
            unmark_owner(tmp)
    return {"input": str(inp), "direction": direction, "model": tr.label, "weights": tr.source,
            "backend": tr.backend, "precision": tr.precision, "size": tr.size, "ct_window": tr.ct_window,
            "tta": tr.tta, "out": str(out), "n_series": len(done), "n_slices": sum(r["n_slices"] for r in done),
            "series": done, "skipped": skipped, "resampled": next((r["resampled"] for r in done if r["resampled"]), None)}
