"""Checks of one received instance, before it is stored: the C-STORE status to answer and why.

Each check reads the encoded data set the peer sent (file meta included). The reasons are short (a C-STORE
ErrorComment holds 64 characters), name attributes but never their values for patient attributes, and go to the
log and the quarantine records.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from typing import Any

from pydicom import dcmread
from pydicom.pixels import get_decoder

SUCCESS = 0x0000
PROCESSING_FAILURE = 0x0110
SOP_CLASS_NOT_SUPPORTED = 0x0122
OUT_OF_RESOURCES = 0xA700
DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000
NO_DECODER = 0xC100
UNDECODABLE = 0xC101
INCONSISTENT_GEOMETRY = 0xC200

UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
IMAGE_CLASS = {"MR": MR_IMAGE_STORAGE, "CT": CT_IMAGE_STORAGE}
_GEOMETRY_ATOL = 1e-4


@dataclass
class Verdict:
    """The outcome of the checks on one instance.

    Attributes:
        status: the C-STORE status to answer when the instance is refused (SUCCESS when it may be stored).
        reason: a short reason (at most 64 characters) for a refusal.
        series_uid: the instance's SeriesInstanceUID when it could be read and is valid.
        taints: True when the refusal makes the instance's series incomplete (it is then quarantined).
        geometry: the values every instance of a series must share.
    """

    status: int = SUCCESS
    reason: str = ""
    series_uid: str | None = None
    taints: bool = False
    geometry: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == SUCCESS


def valid_uid(uid: object) -> bool:
    """A DICOM UID usable as a file name: digits and dots, at most 64 characters."""
    return isinstance(uid, str) and len(uid) <= 64 and bool(UID_RE.match(uid))


def _floats(value: Any, n: int) -> list[float] | None:
    if value is None:
        return None
    seq = list(value) if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)) else [value]
    try:
        out = [float(v) for v in seq]
    except (TypeError, ValueError):
        return None
    return out if len(out) == n and all(math.isfinite(v) for v in out) else None


def geometry_of(ds: Any) -> dict[str, Any]:
    """Rows, Columns, PixelSpacing, ImageOrientationPatient, FrameOfReferenceUID: equal in every instance."""
    return {"Rows": int(ds.Rows), "Columns": int(ds.Columns), "PixelSpacing": _floats(ds.get("PixelSpacing"), 2),
            "ImageOrientationPatient": _floats(ds.get("ImageOrientationPatient"), 6),
            "FrameOfReferenceUID": str(ds.get("FrameOfReferenceUID", ""))}


def geometry_diff(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """The first geometry attribute that differs between two instances (None when they agree)."""
    for key in a.keys() | b.keys():
        x, y = a.get(key), b.get(key)
        if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            if all(abs(p - q) <= _GEOMETRY_ATOL for p, q in zip(x, y)):
                continue
        elif x == y:
            continue
        return key
    return None


def check_instance(data: bytes, sop_class: str, sop_uid: str, direction: str) -> Verdict:
    """Check one encoded instance (preamble and file meta included) for a node translating ``direction``."""
    want = "MR" if direction == "mr2ct" else "CT"
    if sop_class != IMAGE_CLASS[want]:
        other = "MR" if sop_class == MR_IMAGE_STORAGE else "CT" if sop_class == CT_IMAGE_STORAGE else None
        what = f"{other} images" if other else "this SOP class"
        return Verdict(SOP_CLASS_NOT_SUPPORTED, f"{direction} node: takes {want} Image Storage, not {what}"[:64])

    try:
        ds = dcmread(io.BytesIO(data))
        series = str(ds.get("SeriesInstanceUID", ""))
        instance = str(ds.get("SOPInstanceUID", ""))
        modality = str(ds.get("Modality", ""))
    except Exception:  # noqa: BLE001 - any decoding problem of the peer's bytes is the peer's
        return Verdict(CANNOT_UNDERSTAND, "data set cannot be parsed")
    if not valid_uid(series):
        return Verdict(DOES_NOT_MATCH_SOP_CLASS, "missing or invalid SeriesInstanceUID")
    if instance != sop_uid or not valid_uid(instance):
        return Verdict(DOES_NOT_MATCH_SOP_CLASS, "SOPInstanceUID missing or not the request's", series)
    verdict = _pixels(ds, want)
    verdict.series_uid = series
    if verdict.ok and modality != want:
        return Verdict(DOES_NOT_MATCH_SOP_CLASS, f"Modality '{modality[:8]}' is not {want}", series, taints=True)
    return verdict


def _pixels(ds: Any, want: str) -> Verdict:
    if "Rows" not in ds or "Columns" not in ds or "PixelData" not in ds:
        return Verdict(DOES_NOT_MATCH_SOP_CLASS, "no pixel data (PixelData/Rows/Columns missing)", taints=True)
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        return Verdict(DOES_NOT_MATCH_SOP_CLASS, "colour pixels: a greyscale image is needed", taints=True)
    ts = ds.file_meta.get("TransferSyntaxUID")
    if ts is not None and ts.is_compressed:
        try:
            available = get_decoder(ts).is_available
        except NotImplementedError:
            available = False
        if not available:
            return Verdict(NO_DECODER, f"no decoder installed for {ts.name}"[:64], taints=True)
    try:
        arr = ds.pixel_array
    except Exception:  # noqa: BLE001 - truncated or corrupt pixel data
        return Verdict(UNDECODABLE, "pixel data cannot be decoded (corrupt or truncated)", taints=True)
    if arr.ndim != 2:
        return Verdict(DOES_NOT_MATCH_SOP_CLASS, f"pixel array has shape {arr.shape}, not one 2-D slice"[:64],
                       taints=True)
    try:
        return Verdict(geometry=geometry_of(ds))
    except (TypeError, ValueError):
        return Verdict(DOES_NOT_MATCH_SOP_CLASS, "Rows/Columns are not numbers", taints=True)
