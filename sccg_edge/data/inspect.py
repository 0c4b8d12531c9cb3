"""Summaries of a data path for ``sccg-edge data inspect``: a DICOM series, a PNG pair folder or DICOM pairs.

Only geometry, counts and value statistics are reported; no patient names, IDs or dates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.data.dicom import list_series, read_series
from sccg_edge.data.pairs import list_pairs, load_pair
from sccg_edge.errors import InputError


def value_stats(arr: np.ndarray) -> dict[str, float]:
    """min, max and the 1st/50th/99th percentiles of an array, as plain floats."""
    p1, p50, p99 = (float(v) for v in np.percentile(arr, [1, 50, 99]))
    return {"min": float(arr.min()), "max": float(arr.max()), "p1": p1, "p50": p50, "p99": p99}


def _inspect_series(path: Path, series_uid: str | None) -> dict[str, Any]:
    series = read_series(path, series_uid)
    n_series = len(list_series(path)) if path.is_dir() else 1
    _, rows, cols = series.volume.shape
    return {
        "kind": "dicom-series",
        "path": str(path),
        "modality": series.modality,
        "series_uid": series.series_uid,
        "series_uid_count": n_series,
        "n_slices": int(series.volume.shape[0]),
        "rows": int(rows),
        "columns": int(cols),
        "pixel_spacing": [series.spacing[1], series.spacing[2]],
        "slice_spacing": series.spacing[0],
        "orientation": list(series.orientation),
        "transfer_syntax": series.tags[0].get("TransferSyntaxUID", ""),
        "units": "HU" if series.modality == "CT" else "scanner units",
        **value_stats(series.volume),
    }


def _inspect_pairs(path: Path) -> dict[str, Any]:
    records = list_pairs(path)
    patients: dict[str, int] = {}
    for r in records:
        patients[r.patient] = patients.get(r.patient, 0) + 1
    png = records[0].ct.suffix.lower() == ".png"
    if png:  # PNGs are small: summarise every slice's [0, 1] values
        pairs = [load_pair(r) for r in records]
        ct = np.stack([c for c, _ in pairs])
        mr = np.stack([m for _, m in pairs])
        size = list(ct.shape[1:])
        ct_stats, mr_stats = value_stats(ct), value_stats(mr)
    else:  # DICOM pairs: geometry of the first patient's series, values in HU / scanner units

        ct_s, mr_s = read_series(records[0].ct.parent), read_series(records[0].mr.parent)
        size = list(ct_s.volume.shape[1:])
        ct_stats, mr_stats = value_stats(ct_s.volume), value_stats(mr_s.volume)
    return {
        "kind": "png-pairs" if png else "dicom-pairs",
        "path": str(path),
        "n_pairs": len(records),
        "n_patients": len(patients),
        "patients": {p: patients[p] for p in sorted(patients, key=lambda s: (len(s), s))},
        "image_size": size,
        "ct_values": ct_stats,
        "mr_values": mr_stats,
        "units": "[0, 1] (value / 255)" if png else f"HU / MR scanner units (first patient, {records[0].patient})",
    }


def _is_pair_root(path: Path) -> bool:
    if (path / "ct").is_dir() and (path / "mr").is_dir():
        return True
    return any(p.is_dir() and (p / "ct").is_dir() and (p / "mr").is_dir() for p in path.iterdir())


def inspect_path(path: Path, series_uid: str | None = None) -> dict[str, Any]:
    """Describe a DICOM file/folder or a pair folder.

    Args:
        path: a DICOM file, a folder of one DICOM series, a PNG pair folder (``ct/``, ``mr/``) or a per-patient
            DICOM pair folder.
        series_uid: which series to describe when a folder holds several.

    Returns:
        A JSON-friendly dict; ``kind`` is "dicom-series", "png-pairs" or "dicom-pairs".

    Raises:
        InputError: the path is missing or unusable.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("does not exist; give a DICOM file, a series folder or a pair folder", path)
    if path.is_dir() and _is_pair_root(path):
        return _inspect_pairs(path)
    return _inspect_series(path, series_uid)
