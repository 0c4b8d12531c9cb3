"""Find, group and sort the slices of a DICOM series from their headers alone (no pixel data is read).

Slices are sorted along the slice normal (the cross product of the ImageOrientationPatient row and column
vectors) by ImagePositionPatient projected on it; InstanceNumber is used only when positions are missing.
Multi-frame files are split into their frames, with per-frame positions from the functional groups when present.
Large header values are deferred while scanning, and each header is fully decoded inside the read, so a corrupt
value is reported against its file. :mod:`sccg_edge.data.dicom` reads the pixels.

Every problem a user can cause is raised as :class:`~sccg_edge.errors.InputError` naming the file and the fix.
Nothing here ever writes to the input files.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.errors import InvalidDicomError

from sccg_edge.data.dicom_open import check_pixel_size, inflated_dataset, is_deflated
from sccg_edge.errors import InputError

_DEFER_BYTES = 2048  # header values larger than this (pixel data, icons) are not read while scanning
_DICOM_SUFFIXES = {".dcm", ".dicom", ".ima"}
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_SPACING_RTOL, _SPACING_ATOL = 0.02, 0.01  # slice gaps may differ from the median by 2 % + 0.01 mm


@dataclass
class SeriesInfo:
    """Everything about a sorted series except its pixels (from headers only).

    Attributes:
        modality: "CT", "MR", ...
        spacing: (dz, dy, dx) in mm.
        orientation: ImageOrientationPatient, 6 floats.
        positions: (Z, 3) ImagePositionPatient per slice (synthesised along the normal when the files have none).
        series_uid: SeriesInstanceUID.
        files: source file of each slice, in sorted order (a multi-frame file repeats once per frame).
        frames: frame index of each slice inside its file (0 for single-frame files).
        tags: per slice, the key non-PHI tags a DICOM writer needs (UIDs, geometry, rescale, pixel format).
        shape: (Z, H, W).
    """

    modality: str
    spacing: tuple[float, float, float]
    orientation: tuple[float, ...]
    positions: np.ndarray
    series_uid: str
    files: list[Path]
    frames: list[int]
    tags: list[dict[str, Any]]
    shape: tuple[int, int, int]

    def header(self, i: int = 0) -> Dataset:
        """Re-read the header of slice ``i``'s file (no pixel data), e.g. to copy its patient/study modules."""
        if is_deflated(self.files[i]):
            ds = inflated_dataset(self.files[i])
            for kw in _PIXEL_KEYWORDS:
                if kw in ds:
                    delattr(ds, kw)
            return ds
        return pydicom.dcmread(self.files[i], stop_before_pixels=True, force=True)  # scanning accepted the file


# ----------------------------------------------------------------------------------------------- frames

#: Non-PHI tags kept per slice for a later DICOM writer (no names, IDs, dates or institutions).
TAG_KEYWORDS = (
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "Modality",
    "SeriesNumber", "InstanceNumber", "NumberOfFrames", "Rows", "Columns", "PixelSpacing", "SliceThickness",
    "SpacingBetweenSlices", "SliceLocation", "ImagePositionPatient", "ImageOrientationPatient", "RescaleSlope",
    "RescaleIntercept", "RescaleType", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
    "PhotometricInterpretation", "SamplesPerPixel", "WindowCenter", "WindowWidth", "PixelPaddingValue",
    "PixelPaddingRangeLimit",
)
_FUNCTIONAL = (  # (functional group sequence, keyword) overriding the top-level value per frame
    ("PlanePositionSequence", "ImagePositionPatient"), ("PlaneOrientationSequence", "ImageOrientationPatient"),
    ("PixelMeasuresSequence", "PixelSpacing"), ("PixelMeasuresSequence", "SliceThickness"),
    ("PixelValueTransformationSequence", "RescaleSlope"), ("PixelValueTransformationSequence", "RescaleIntercept"),
)


@dataclass(frozen=True)
class _Frame:
    """One 2-D image of a file: where it sits and the tags needed to rescale and re-write it."""

    path: Path
    frame: int
    position: tuple[float, ...] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    shape: tuple[int, int]
    instance: int | None
    tags: dict[str, Any]


def _plain(value: Any) -> Any:
    """pydicom values -> JSON-friendly Python values (MultiValue -> list, DS -> float, IS -> int, UID -> str)."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if len(out) == n else None


def _read_as(ds: Dataset) -> str:
    """The transfer syntax a file without file meta (no preamble, no 'DICM') was read as, for its pixels."""
    implicit, little = getattr(ds, "original_encoding", (True, True))
    return "1.2.840.10008.1.2" if implicit else ("1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2")


def _functional(groups: tuple[Any, ...], seq: str, keyword: str) -> Any:
    for group in groups:
        items = group.get(seq) if group is not None else None
        if items and keyword in items[0]:
            return items[0][keyword].value
    return None


def _frames_of(path: Path, ds: Dataset) -> list[_Frame]:
    """Split one file into its frames, taking per-frame geometry from the functional groups when present."""
    n = int(ds.get("NumberOfFrames") or 1)
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per = ds.get("PerFrameFunctionalGroupsSequence")
    per = per if per is not None and len(per) == n else None
    base = {kw: _plain(ds[kw].value) for kw in TAG_KEYWORDS if kw in ds and ds[kw].value not in (None, "")}
    base["TransferSyntaxUID"] = str(getattr(ds, "file_meta", {}).get("TransferSyntaxUID", "")) or _read_as(ds)
    base["NumberOfFrames"] = n
    frames = []
    for i in range(n):
        tags = dict(base, FrameIndex=i)
        if n > 1:  # one top-level position cannot place many frames
            tags.pop("ImagePositionPatient", None)
        groups = (per[i] if per is not None else None, shared)
        for seq, keyword in _FUNCTIONAL:
            value = _functional(groups, seq, keyword)
            if value not in (None, ""):
                tags[keyword] = _plain(value)
        instance = tags.get("InstanceNumber")
        frames.append(_Frame(
            path=path, frame=i, position=_floats(tags.get("ImagePositionPatient"), 3),
            orientation=_floats(tags.get("ImageOrientationPatient"), 6),
            pixel_spacing=_floats(tags.get("PixelSpacing"), 2), shape=(int(ds.Rows), int(ds.Columns)),
            instance=int(instance) if isinstance(instance, int) else None, tags=tags,
        ))
    return frames


# ----------------------------------------------------------------------------------------------- headers


def _stored_size(path: Path) -> int:
    """Bytes a header's values can come from: the file (a deflated file's values are already in memory)."""
    return 2**62 if is_deflated(path) else path.stat().st_size


def _dcmread_header(path: Path, force: bool) -> tuple[Dataset, bool]:
    """(dataset without pixel values, whether pydicom warned that the file ended early)."""
    if is_deflated(path):  # pydicom would inflate it unbounded, then fail to read its deferred values
        return inflated_dataset(path), False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = pydicom.dcmread(path, defer_size=_DEFER_BYTES, force=force)
    return ds, any("end of file" in str(w.message).lower() for w in caught)


def _read_header(path: Path, strict: bool) -> Dataset | None:
    """Read a header without pixel data; ``None`` for a non-DICOM file when ``strict`` is False.

    Files without the 128-byte preamble and 'DICM' marker (older exports) are accepted when a forced read finds
    a SOPClassUID in them.
    """
    try:
        try:
            ds, ended_early = _dcmread_header(path, force=False)
        except InvalidDicomError:
            ds, ended_early = _dcmread_header(path, force=True)
            if "SOPClassUID" not in ds:
                ds = None
        if ds is not None:
            check_pixel_size(path, ds, _stored_size(path))  # before any value is read: bounds every allocation
            for _ in ds.iterall():  # decode every element now: pydicom converts lazily and a corrupt value
                pass  # (unknown VR, a non-numeric DS) would otherwise raise later, far from this file's name
    except InputError:
        raise
    except Exception as exc:  # pydicom raises many types on corrupt headers
        raise InputError(f"cannot be read as DICOM ({type(exc).__name__}: {exc}); the file is truncated or "
                         "corrupt: copy it again from the source", path) from exc
    if ds is None:
        if strict or path.suffix.lower() in _DICOM_SUFFIXES:
            raise InputError("is not a DICOM file (no 'DICM' marker and no DICOM elements, or the file is "
                             "truncated); give a DICOM file or a folder of DICOM slices", path)
        return None
    if ended_early:
        raise InputError("is truncated (the file ends in the middle of its header or pixel data); copy it "
                         "again from the source", path)
    return ds


def _is_image(ds: Dataset) -> bool:
    return "Rows" in ds and "Columns" in ds


def _describe(ds: Dataset) -> str:
    sop = ds.get("SOPClassUID")
    name = getattr(sop, "name", None) or str(sop or "unknown SOP class")
    return f"{ds.get('Modality', '?')} object '{name}'"


def _collect(path: Path | Sequence[Path]) -> tuple[list[Path], Path, bool]:
    """(files, folder or file to name in errors, strict = every file must be DICOM)."""
    if isinstance(path, (str, Path)):
        path = Path(path)
        if path.is_file():
            return [path], path, True
        if not path.is_dir():
            raise InputError("does not exist; give a DICOM file or a folder of DICOM slices", path)
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        subs = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not files and subs:
            raise InputError(f"holds only sub-folders ({', '.join(subs[:5])}), no files; DICOM slices are read from "
                             f"the folder itself: give the series folder, e.g. {path / subs[0]}", path)
        if not files:
            raise InputError("is an empty folder (DICOM files are read from the folder itself, not "
                             "sub-folders); give the folder that holds the .dcm slices", path)
        return files, path, False
    files = [Path(p) for p in path]
    if not files:
        raise InputError("no DICOM files were given")
    return files, files[0].parent, True


def _scan(path: Path | Sequence[Path]) -> tuple[dict[str, list[tuple[Path, Dataset]]], Path]:
    """Group the image objects under ``path`` by SeriesInstanceUID (headers only)."""
    files, where, strict = _collect(path)
    groups: dict[str, list[tuple[Path, Dataset]]] = {}
    skipped: list[str] = []
    for f in files:
        ds = _read_header(f, strict)
        if ds is None:
            skipped.append(f"{f.name} (not DICOM)")
            continue
        if not _is_image(ds):
            if strict and len(files) == 1:
                raise InputError(f"is a non-image {_describe(ds)} (no Rows/Columns, no pixels), e.g. an RT "
                                 "structure set or a report; give a CT or MR image series", f)
            skipped.append(f"{f.name} ({_describe(ds)}, not an image)")
            continue
        if not any(k in ds for k in _PIXEL_KEYWORDS):
            raise InputError("has no pixel data (no PixelData element): it is an image header without an "
                             "image; remove it from the folder or re-export the series", f)
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((f, ds))
    if not groups:
        detail = "; ".join(skipped[:5]) + (f"; ... ({len(skipped)} files)" if len(skipped) > 5 else "")
        raise InputError(f"holds no DICOM image series (skipped: {detail}); give a folder of CT or MR slices", where)
    return groups, where


def list_series(path: Path | Sequence[Path]) -> dict[str, list[Path]]:
    """Map each SeriesInstanceUID found under ``path`` (folder, files or one file) to its image files.

    Non-DICOM files in a folder (a LICENSE.txt) and non-image objects are ignored.
    """
    groups, _ = _scan(path)
    return {uid: [f for f, _ in items] for uid, items in sorted(groups.items())}


def _pick(groups: dict[str, list[tuple[Path, Dataset]]], where: Path, uid: str | None) -> str:
    def line(u: str) -> str:
        ds = groups[u][0][1]
        return f"{u or '<no SeriesInstanceUID>'} ({ds.get('Modality', '?')}, " \
               f"'{ds.get('SeriesDescription', '')}', {len(groups[u])} files)"

    if uid is not None:
        if uid not in groups:
            raise InputError(f"has no series {uid}; available: {'; '.join(line(u) for u in sorted(groups))}", where)
        return uid
    if len(groups) > 1:
        raise InputError(f"mixes {len(groups)} DICOM series: {'; '.join(line(u) for u in sorted(groups))}. "
                         "Pick one with --series UID (or series_uid=...), or move each series to its own folder",
                         where)
    return next(iter(groups))


# ----------------------------------------------------------------------------------------------- geometry


def _same(frames: list[_Frame], attr: str, label: str, where: Path, atol: float = 1e-4) -> None:
    ref = getattr(frames[0], attr)
    for fr in frames[1:]:
        val = getattr(fr, attr)
        if (ref is None) != (val is None) or (ref is not None and not np.allclose(ref, val, atol=atol)):
            raise InputError(f"{label} differs across slices: {frames[0].path.name} has {ref} but "
                             f"{fr.path.name} has {val}; the folder mixes acquisitions: keep one series per "
                             "folder", where)


def _check_orientation(orientation: tuple[float, ...], path: Path) -> None:
    """ImageOrientationPatient must hold two perpendicular unit vectors (all zeros would stack every slice at 0)."""
    row, col = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    if not (abs(np.linalg.norm(row) - 1) < 0.01 and abs(np.linalg.norm(col) - 1) < 0.01 and abs(row @ col) < 0.01):
        raise InputError(f"ImageOrientationPatient {list(orientation)} is not two perpendicular unit vectors, so "
                         "the slices cannot be placed; the header is corrupt: re-export the series", path)


def _sort_frames(frames: list[_Frame], normal: np.ndarray) -> tuple[list[_Frame], np.ndarray | None]:
    """Sort by position along the normal (returns the sorted offsets), else by InstanceNumber."""
    if all(fr.position is not None for fr in frames):
        keyed = sorted(frames, key=lambda fr: (float(np.dot(fr.position, normal)), fr.instance or 0, fr.frame))
        return keyed, np.array([float(np.dot(fr.position, normal)) for fr in keyed])
    return sorted(frames, key=lambda fr: (fr.instance or 0, str(fr.path), fr.frame)), None


def _slice_spacing(frames: list[_Frame], offsets: np.ndarray | None, where: Path) -> float:
    if offsets is None or len(frames) < 2:
        tags = frames[0].tags
        raw = tags.get("SpacingBetweenSlices") or tags.get("SliceThickness") or 1.0
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise InputError(f"SpacingBetweenSlices/SliceThickness is not a number ({str(raw)[:40]!r}); the header "
                             "is corrupt: copy the file again from the source", frames[0].path) from None
    gaps = np.diff(offsets)
    med = float(np.median(gaps))
    for k, gap in enumerate(gaps):
        a, b = frames[k].path.name, frames[k + 1].path.name
        if gap < _SPACING_ATOL:
            raise InputError(f"two slices share one position ({a} and {b} at {offsets[k]:.3f} mm along the "
                             "slice normal): duplicate slices or two acquisitions; remove the duplicates", where)
        if abs(gap - med) > _SPACING_RTOL * med + _SPACING_ATOL:
            raise InputError(f"slice spacing is inconsistent: {med:.3f} mm between most slices but {gap:.3f} mm "
                             f"between {a} and {b}; a slice is missing or extra: restore the complete series",
                             where)
    return med


def _one_modality(members: list[tuple[Path, Dataset]], uid: str, where: Path) -> None:
    """Refuse one SeriesInstanceUID whose files claim different modalities (e.g. MR and CT slices pooled)."""
    first: dict[str, Path] = {}
    for f, ds in members:
        first.setdefault(str(ds.get("Modality", "OT")), f)
    if len(first) > 1:
        named = ", ".join(f"{f.name} is {m}" for m, f in sorted(first.items()))
        raise InputError(f"series {uid} mixes modalities ({named}): one series must hold one modality; give the "
                         "files of one modality only", where)


def _positive_spacing(frame: _Frame) -> None:
    """Refuse a PixelSpacing that is zero, negative or not finite (it would be copied into the output)."""
    spacing = frame.pixel_spacing
    if spacing is not None and not all(np.isfinite(v) and v > 0 for v in spacing):
        raise InputError(f"PixelSpacing {list(spacing)} is not a pair of positive millimetre values; the header is "
                         "corrupt: fix PixelSpacing or copy the file again from the source", frame.path)


def scan_series(path: Path | Sequence[Path], series_uid: str | None = None) -> SeriesInfo:
    """Read and check the headers of one series and sort its slices, without loading pixel data.

    Args:
        path: a folder of slices, a list of files, or one (single- or multi-frame) file.
        series_uid: which series to read when the folder holds several.

    Returns:
        The sorted :class:`SeriesInfo`.

    Raises:
        InputError: unreadable/non-image files, several series without ``series_uid``, or inconsistent geometry.
    """
    groups, where = _scan(path)
    return _series(groups, where, _pick(groups, where, series_uid))


def scan_all_series(path: Path | Sequence[Path]) -> dict[str, SeriesInfo]:
    """Every image series under ``path`` (SeriesInstanceUID -> sorted :class:`SeriesInfo`), each header read once.

    Raises:
        InputError: as :func:`scan_series`, for the first series that fails its checks.
    """
    groups, where = _scan(path)
    return {uid: _series(groups, where, uid) for uid in sorted(groups)}


def _series(groups: dict[str, list[tuple[Path, Dataset]]], where: Path, uid: str) -> SeriesInfo:
    """Check and sort the scanned headers of series ``uid``."""
    frames = [fr for f, ds in groups[uid] for fr in _frames_of(f, ds)]
    _one_modality(groups[uid], uid, where)
    _same(frames, "shape", "Rows/Columns", where)
    _same(frames, "orientation", "ImageOrientationPatient", where)
    _same(frames, "pixel_spacing", "PixelSpacing", where)
    _positive_spacing(frames[0])
    orientation = frames[0].orientation or (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    _check_orientation(orientation, frames[0].path)
    normal = np.cross(np.asarray(orientation[:3]), np.asarray(orientation[3:]))
    frames, offsets = _sort_frames(frames, normal)
    dz = _slice_spacing(frames, offsets, where)
    if offsets is not None:
        positions = np.array([fr.position for fr in frames], dtype=np.float64)
    else:  # no positions in the files: lay the slices out along the normal from the origin
        positions = np.arange(len(frames))[:, None] * dz * normal[None, :]
    dy, dx = frames[0].pixel_spacing or (1.0, 1.0)
    rows, cols = frames[0].shape
    return SeriesInfo(
        modality=str(groups[uid][0][1].get("Modality", "OT")), spacing=(dz, float(dy), float(dx)),
        orientation=tuple(float(v) for v in orientation), positions=positions, series_uid=uid,
        files=[fr.path for fr in frames], frames=[fr.frame for fr in frames], tags=[fr.tags for fr in frames],
        shape=(len(frames), rows, cols),
    )


def slice_tags(path: Path, frame: int = 0) -> dict[str, Any]:
    """The key non-PHI tags of one frame of one DICOM image file (as in :attr:`SeriesInfo.tags`), headers only."""
    path = Path(path)
    ds = _read_header(path, strict=True)
    if ds is None or not _is_image(ds):
        raise InputError("is not a DICOM image (no Rows/Columns); give a CT or MR image file", path)
    frames = _frames_of(path, ds)
    if not 0 <= frame < len(frames):
        raise InputError(f"has {len(frames)} frame(s); frame {frame} does not exist", path)
    return frames[frame].tags
