"""Writing single axial slices as DICOM CT Image Storage or MR Image Storage files.

Every type 1 and type 2 attribute of the Patient, General Study, General Series, Frame of Reference, General
Equipment, General Image, Image Plane, Image Pixel, CT Image / MR Image and SOP Common modules is filled, so a
written file passes ``dciodvfy`` without errors. The same writer serves the synthetic phantom (``ORIGINAL``
images) and images derived from a real source slice (``DERIVED``: pass ``source`` to copy its patient and study
attributes and reference it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
_SOP_CLASS = {"CT": CT_IMAGE_STORAGE, "MR": MR_IMAGE_STORAGE}
CT_DEFAULT_RESCALE = (1.0, -1024.0)

# Patient and General Study attributes copied from a source header for derived images.
#: the patient and study elements a derived slice copies from its source header
SOURCE_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge", "StudyDate",
                    "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber", "StudyDescription")
_CT_DEFAULTS: dict[str, Any] = {"KVP": "120", "AcquisitionNumber": 1, "ConvolutionKernel": "STANDARD",
                                "WindowCenter": 40, "WindowWidth": 80}
_MR_DEFAULTS: dict[str, Any] = {"ScanningSequence": "SE", "SequenceVariant": "SK", "ScanOptions": "",
                                "MRAcquisitionType": "2D", "RepetitionTime": 4000.0, "EchoTime": 100.0,
                                "EchoTrainLength": 16, "MagneticFieldStrength": 3.0, "ImagedNucleus": "1H",
                                "AcquisitionNumber": 1}


@dataclass(frozen=True)
class SliceGeometry:
    """Where a slice lies in the patient coordinate system (LPS, millimetres).

    Attributes:
        position: ImagePositionPatient, the centre of the first (top-left) pixel.
        pixel_spacing: (row spacing, column spacing) in mm, as DICOM PixelSpacing.
        slice_thickness: nominal slice thickness in mm.
        orientation: ImageOrientationPatient (row direction cosines, then column direction cosines).
    """

    position: tuple[float, float, float]
    pixel_spacing: tuple[float, float]
    slice_thickness: float
    orientation: tuple[float, float, float, float, float, float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)

    @property
    def slice_location(self) -> float:
        """Position along the slice normal (row cosines x column cosines), as DICOM SliceLocation."""
        normal = np.cross(self.orientation[:3], self.orientation[3:])
        return float(np.dot(normal, self.position))


@dataclass(frozen=True)
class SeriesIds:
    """Identifiers shared by every slice of one series.

    Attributes:
        study_uid: StudyInstanceUID.
        series_uid: SeriesInstanceUID.
        frame_of_reference_uid: FrameOfReferenceUID (share it between co-registered series).
        series_number: SeriesNumber.
        patient_id: PatientID.
        patient_name: PatientName.
        study_id: StudyID.
        study_date: StudyDate (YYYYMMDD), also used as series and content date.
        study_time: StudyTime (HHMMSS), also used as series and content time.
        study_description: StudyDescription.
        series_description: SeriesDescription.
    """

    study_uid: str
    series_uid: str
    frame_of_reference_uid: str
    series_number: int = 1
    patient_id: str = "SYNTH-0000"
    patient_name: str = "PHANTOM^SYNTHETIC"
    study_id: str = "1"
    study_date: str = "20000101"
    study_time: str = "120000"
    study_description: str = ""
    series_description: str = ""

    @classmethod
    def derived_from(cls, source: Dataset, *, series_number: int, series_description: str = "") -> SeriesIds:
        """Ids for a new series in the study and frame of reference of ``source`` (with a fresh series UID)."""
        return cls(study_uid=str(source.get("StudyInstanceUID") or new_uid()), series_uid=new_uid(),
                   frame_of_reference_uid=str(source.get("FrameOfReferenceUID") or new_uid()),
                   series_number=series_number, patient_id=str(source.get("PatientID", "")),
                   patient_name=str(source.get("PatientName", "")), study_id=str(source.get("StudyID", "")),
                   study_date=str(source.get("StudyDate", "")), study_time=str(source.get("StudyTime", "")),
                   study_description=str(source.get("StudyDescription", "")),
                   series_description=series_description)


def new_uid() -> str:
    """A new globally unique DICOM UID."""
    return str(generate_uid())


def encode_pixels(pixels: np.ndarray, modality: Literal["CT", "MR"],
                  rescale: tuple[float, float] | None = None) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Convert real-valued pixels to stored integers: int16 for CT, uint16 for MR.

    Args:
        pixels: (rows, columns) real values (HU for CT, arbitrary units for MR).
        modality: "CT" or "MR".
        rescale: (slope, intercept) so that value = stored * slope + intercept; CT defaults to (1, -1024),
            MR to none (stored = rounded value).

    Returns:
        The stored array and the (slope, intercept) to write, or None when no rescale is written.
    """
    if pixels.ndim != 2:
        raise ValueError(f"a slice must be 2-D, got shape {pixels.shape}")
    if not np.isfinite(pixels).all():
        raise ValueError("refusing to write NaN or infinite pixel values")
    if modality == "CT" and rescale is None:
        rescale = CT_DEFAULT_RESCALE
    slope, intercept = rescale if rescale is not None else (1.0, 0.0)
    if slope <= 0:
        raise ValueError(f"rescale slope must be positive, got {slope}")
    stored = np.rint((np.asarray(pixels, dtype=np.float64) - intercept) / slope)
    info = np.iinfo(np.int16 if modality == "CT" else np.uint16)
    stored = np.clip(stored, info.min, info.max).astype(info.dtype)
    return stored, rescale


def uint_percentiles(a: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """``np.percentile(a, qs)`` (linear interpolation) of unsigned integers, from a histogram: exact, and about 4x
    cheaper than sorting a 512x512 slice, which mattered at every written MR slice."""
    cum = np.cumsum(np.bincount(np.asarray(a).ravel()))
    n = int(cum[-1])

    def order(k: int) -> int:  # the k-th smallest value (0-based)
        return int(np.searchsorted(cum, k, side="right"))

    out = []
    for q in qs:
        pos = q / 100.0 * (n - 1)
        lo = int(np.floor(pos))
        v = order(lo)
        out.append(v + (pos - lo) * (order(lo + 1) - v) if lo + 1 < n else float(v))
    return out


def build_dataset(pixels: np.ndarray, *, modality: Literal["CT", "MR"], geometry: SliceGeometry, ids: SeriesIds,
                  instance_number: int = 1, rescale: tuple[float, float] | None = None,
                  source: Dataset | None = None, extra: Mapping[str, Any] | None = None) -> FileDataset:
    """Build the complete DICOM dataset (with file meta) of one slice; see :func:`write_slice`."""
    if modality not in _SOP_CLASS:
        raise ValueError(f"modality must be 'CT' or 'MR', got {modality!r}")
    stored, rescale = encode_pixels(pixels, modality, rescale)
    sop_uid = new_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = _SOP_CLASS[modality]
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "SCCG_EDGE_01"
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = _SOP_CLASS[modality]
    ds.SOPInstanceUID = sop_uid
    _patient_study(ds, ids, source)
    _series_equipment(ds, ids, modality)
    _image(ds, geometry, instance_number, ids, derived=source is not None, modality=modality)
    _pixels(ds, stored, rescale)
    for keyword, value in (_CT_DEFAULTS if modality == "CT" else _MR_DEFAULTS).items():
        setattr(ds, keyword, value)
    if modality == "MR":
        slope, intercept = rescale or (1.0, 0.0)  # slope > 0: percentiles of the values are those of the stored ints
        low, high = (float(v) * slope + intercept for v in uint_percentiles(stored, (1.0, 99.5)))
        ds.WindowCenter, ds.WindowWidth = round(float(low + high) / 2, 2), round(max(float(high - low), 1.0), 2)
    if source is not None:
        _reference_source(ds, source)
    _apply_extra(ds, extra or {})
    return ds


def write_slice(path: str | Path, pixels: np.ndarray, *, modality: Literal["CT", "MR"], geometry: SliceGeometry,
                ids: SeriesIds, instance_number: int = 1, rescale: tuple[float, float] | None = None,
                source: Dataset | None = None, extra: Mapping[str, Any] | None = None) -> Path:
    """Write one slice as a DICOM Part 10 file (Explicit VR Little Endian), atomically.

    Args:
        path: destination file; written to a temporary name beside it, then renamed into place.
        pixels: (rows, columns) values: HU for CT, arbitrary units for MR.
        modality: "CT" (CT Image Storage, int16 stored values) or "MR" (MR Image Storage, uint16).
        geometry: position, spacing and orientation of the slice.
        ids: study/series/frame-of-reference UIDs and patient/study identification.
        instance_number: InstanceNumber (1-based position in the series).
        rescale: (slope, intercept); see :func:`encode_pixels`.
        source: a real header this image is derived from: its patient and study attributes are copied, it is
            referenced in SourceImageSequence and ImageType becomes DERIVED\\SECONDARY (value 3 AXIAL for CT, OTHER for MR).
        extra: further attributes by keyword, applied last (they override the defaults), e.g.
            ``{"SeriesDescription": "synthetic CT", "KVP": ""}``.

    Returns:
        The written path.
    """
    path = Path(path)
    ds = build_dataset(pixels, modality=modality, geometry=geometry, ids=ids, instance_number=instance_number,
                       rescale=rescale, source=source, extra=extra)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        ds.save_as(tmp, enforce_file_format=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _patient_study(ds: Dataset, ids: SeriesIds, source: Dataset | None) -> None:
    ds.PatientName = ids.patient_name
    ds.PatientID = ids.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = ids.study_uid
    ds.StudyDate = ids.study_date
    ds.StudyTime = ids.study_time
    ds.ReferringPhysicianName = ""
    ds.StudyID = ids.study_id
    ds.AccessionNumber = ""
    if ids.study_description:
        ds.StudyDescription = ids.study_description
    if source is not None:
        for keyword in SOURCE_KEYWORDS:
            if keyword in source:
                setattr(ds, keyword, source[keyword].value)


def _series_equipment(ds: Dataset, ids: SeriesIds, modality: str) -> None:
    ds.Modality = modality
    ds.SeriesInstanceUID = ids.series_uid
    ds.SeriesNumber = ids.series_number
    ds.SeriesDate = ids.study_date
    ds.SeriesTime = ids.study_time
    if ids.series_description:
        ds.SeriesDescription = ids.series_description
    ds.PatientPosition = "HFS"
    ds.BodyPartExamined = "HEAD"  # an unpaired body part: Laterality (type 2C) is then absent
    ds.FrameOfReferenceUID = ids.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "sccg-edge"
    ds.SoftwareVersions = "sccg-edge"


def _image(ds: Dataset, geometry: SliceGeometry, instance_number: int, ids: SeriesIds, *, derived: bool,
           modality: str) -> None:
    # Value 3 is a defined term of the CT Image module; the MR Image module defines no AXIAL, hence OTHER.
    kind = "AXIAL" if modality == "CT" else "OTHER"
    ds.ImageType = ["DERIVED", "SECONDARY", kind] if derived else ["ORIGINAL", "PRIMARY", kind]
    ds.InstanceNumber = instance_number
    ds.ContentDate = ids.study_date
    ds.ContentTime = ids.study_time
    ds.ImagePositionPatient = [_ds_number(v) for v in geometry.position]
    ds.ImageOrientationPatient = [_ds_number(v) for v in geometry.orientation]
    ds.PixelSpacing = [_ds_number(v) for v in geometry.pixel_spacing]
    ds.SliceThickness = _ds_number(geometry.slice_thickness)
    ds.SliceLocation = _ds_number(geometry.slice_location)


def _pixels(ds: Dataset, stored: np.ndarray, rescale: tuple[float, float] | None) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if stored.dtype == np.int16 else 0
    if rescale is not None:
        ds.RescaleIntercept = _ds_number(rescale[1])
        ds.RescaleSlope = _ds_number(rescale[0])
    ds.PixelData = np.ascontiguousarray(stored.astype(stored.dtype.newbyteorder("<"))).tobytes()


def _reference_source(ds: Dataset, source: Dataset) -> None:
    if "SOPClassUID" in source and "SOPInstanceUID" in source:
        item = Dataset()
        item.ReferencedSOPClassUID = source.SOPClassUID
        item.ReferencedSOPInstanceUID = source.SOPInstanceUID
        ds.SourceImageSequence = [item]
    ds.DerivationDescription = "synthesized by sccg-edge"


def _apply_extra(ds: Dataset, extra: Mapping[str, Any]) -> None:
    for keyword, value in extra.items():
        if tag_for_keyword(keyword) is None:
            raise ValueError(f"unknown DICOM keyword {keyword!r} in extra attributes")
        setattr(ds, keyword, value)


def _ds_number(value: float) -> str:
    """Format a number for a DS element (at most 16 characters)."""
    text = f"{float(value):.6g}"
    return "0" if text == "-0" else text
