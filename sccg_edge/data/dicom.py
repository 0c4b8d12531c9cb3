"""Read one DICOM series (a folder, a list of files, or one file) into a float32 volume, read-only.

Slices are sorted along the slice normal (the cross product of the ImageOrientationPatient row and column
vectors) by ImagePositionPatient projected on it; InstanceNumber is used only when positions are missing.
CT values come out in Hounsfield units (RescaleSlope/RescaleIntercept), MR values as floats (rescaled when the
file says so). Multi-frame files are split into their frames, with per-frame positions from the functional
groups when present. Headers are read without loading pixel data (large values are deferred), so
:func:`scan_series` + :func:`iter_slices` stream a long series one slice at a time.

Every problem a user can cause is raised as :class:`~sccg_edge.errors.InputError` naming the file and the fix.
Nothing here ever writes to the input files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.pixels import pixel_array
from pydicom.uid import UID

from sccg_edge.data.dicom_open import inflated_dataset, is_deflated
from sccg_edge.data.dicom_scan import SeriesInfo, list_series, scan_all_series, scan_series, slice_tags
from sccg_edge.errors import InputError
from sccg_edge.utils.budget import check_allocation

_CT_AIR_HU = -1024.0  # what padding pixels outside a CT's field of view become


@dataclass
class Series(SeriesInfo):
    """A series with its pixels: ``volume`` is float32 (Z, H, W), HU for CT."""

    volume: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), np.float32))


# ----------------------------------------------------------------------------------------------- pixels

_JPEG, _J2K = "pylibjpeg and pylibjpeg-libjpeg (or python-gdcm)", "pylibjpeg and pylibjpeg-openjpeg (or python-gdcm)"
_DECODER_HINTS = {  # transfer syntax -> packages whose pydicom plugin decodes it
    **dict.fromkeys([f"1.2.840.10008.1.2.4.{n}" for n in (50, 51, 57, 70, 80, 81)], _JPEG),
    **dict.fromkeys([f"1.2.840.10008.1.2.4.{n}" for n in (90, 91, 201, 202, 203)], _J2K),
    "1.2.840.10008.1.2.5": "pylibjpeg and pylibjpeg-rle (or python-gdcm)",
}


def translate_pixel_error(exc: BaseException, path: Path, transfer_syntax: str) -> InputError:
    """Turn pydicom's pixel-decoding exception into an :class:`InputError` that says what to install or fix."""
    text = str(exc)
    low = text.lower()
    if "missing dependencies" in low or "no pixel data decoders" in low or isinstance(exc, NotImplementedError):
        hint = _DECODER_HINTS.get(transfer_syntax, "python-gdcm")
        return InputError(f"its pixel data is compressed as '{UID(transfer_syntax).name}' and no installed decoder "
                          f"can read it: install {hint}, e.g. pip install 'sccg-edge[dicom]'", path)
    if "less than expected" in low or "end of file" in low or "truncat" in low:
        return InputError("its pixel data is shorter than the header says: the file is truncated; copy it again "
                          "from the source", path)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return InputError(f"its pixel data cannot be decoded ({first}); the file is corrupt or its transfer syntax "
                      "is wrong: re-export it", path)


def _decode(path: Path, frame: int, tags: dict[str, Any]) -> np.ndarray:
    """Raw stored values of one frame (H, W)."""
    n_frames = int(tags.get("NumberOfFrames") or 1)
    try:
        src = inflated_dataset(path) if is_deflated(path) else path
        syntax = {"transfer_syntax_uid": UID(tags["TransferSyntaxUID"])} if tags.get("TransferSyntaxUID") else {}
        arr = pixel_array(src, index=frame if n_frames > 1 else None, **syntax)  # files without meta need it
    except Exception as exc:
        raise translate_pixel_error(exc, path, str(tags.get("TransferSyntaxUID", ""))) from exc
    if arr.ndim != 2:
        raise InputError(f"holds colour or multi-sample pixels (array shape {arr.shape}); give a greyscale CT or "
                         "MR series", path)
    return arr


def _padding_mask(raw: np.ndarray, tags: dict[str, Any]) -> np.ndarray | None:
    """Pixels equal to PixelPaddingValue (or inside [value, PixelPaddingRangeLimit]), in stored values."""
    value = tags.get("PixelPaddingValue")
    if not isinstance(value, (int, float)):
        return None
    limit = tags.get("PixelPaddingRangeLimit")
    if not isinstance(limit, (int, float)):
        return raw == value
    lo, hi = min(value, limit), max(value, limit)
    return (raw >= lo) & (raw <= hi)


def read_slice(path: Path, frame: int = 0, tags: dict[str, Any] | None = None) -> np.ndarray:
    """One frame of one file as float32 (H, W) in real-world units (HU for CT), rescale applied.

    Pixels marked by PixelPaddingValue (outside a CT's circular field of view) become air, -1024 HU, for CT and
    the slice's lowest real value otherwise.

    Args:
        path: a DICOM image file.
        frame: frame index for multi-frame files.
        tags: the slice's tags from :class:`SeriesInfo` or :func:`slice_tags` (read from the file when omitted).
    """
    tags = slice_tags(path, frame) if tags is None else tags
    raw = _decode(Path(path), frame, tags)
    slope, intercept = float(tags.get("RescaleSlope") or 1.0), float(tags.get("RescaleIntercept") or 0.0)
    out = raw.astype(np.float32) * np.float32(slope) + np.float32(intercept)
    pad = _padding_mask(raw, tags)
    if pad is not None and pad.any():  # pixels outside the field of view carry no data: make them background
        fill = _CT_AIR_HU if tags.get("Modality") == "CT" else (float(out[~pad].min()) if (~pad).any() else 0.0)
        out[pad] = fill
    if not np.isfinite(out).all():
        raise InputError("contains NaN or infinite values after rescale (float pixel data or a broken "
                         "RescaleSlope); fix or re-export the file", path)
    return out


def iter_slices(source: SeriesInfo | Path | Sequence[Path], series_uid: str | None = None) -> Iterator[np.ndarray]:
    """Yield the series' slices one at a time in sorted order (float32 (H, W), HU for CT).

    Only one slice (one frame) is decoded at a time, so a long series streams in bounded memory.
    """
    info = source if isinstance(source, SeriesInfo) else scan_series(source, series_uid)
    for path, frame, tags in zip(info.files, info.frames, info.tags):
        yield read_slice(path, frame, tags)


def read_series(path: Path | Sequence[Path], series_uid: str | None = None) -> Series:
    """Read one series into a float32 (Z, H, W) volume (HU for CT), sorted along the slice normal.

    Args:
        path: a folder of slices, a list of files, or one (single- or multi-frame) file.
        series_uid: which series to read when the folder holds several.

    Raises:
        InputError: for every unusable input, naming the file and the fix.
    """
    info = scan_series(path, series_uid)
    check_allocation(4 * float(np.prod(info.shape)), f"a {' x '.join(map(str, info.shape))} float32 volume",
                     info.files[0].parent)
    volume = np.empty(info.shape, dtype=np.float32)
    for z, img in enumerate(iter_slices(info)):
        volume[z] = img
    fields = {k: getattr(info, k) for k in SeriesInfo.__dataclass_fields__}
    return Series(**fields, volume=volume)


__all__ = ["Series", "SeriesInfo", "iter_slices", "list_series", "read_series", "read_slice", "scan_all_series",
           "scan_series", "slice_tags", "translate_pixel_error"]
