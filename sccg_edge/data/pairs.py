"""Paired CT/MR slice sources: a folder of PNG pairs, or per-patient DICOM series (the phantom layout).

Two layouts are accepted by :func:`list_pairs`:

* PNG pairs: ``root/ct/*.png`` and ``root/mr/*.png``; the same file name is one pair, and the digits before the
  last three of the stem are the patient (``16003.png`` is patient 16, slice 003).
* Per-patient DICOM: ``root/<patient>/ct/*.dcm`` and ``root/<patient>/mr/*.dcm``, one co-registered series each;
  slice k of the CT (sorted along the slice normal) pairs with slice k of the MR.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import UnidentifiedImageError

from sccg_edge.data.dicom import read_slice, scan_series, slice_tags
from sccg_edge.data.image_io import open_image
from sccg_edge.data.transforms import CT_WINDOW_DEFAULT, ct_window_to_unit, mr_to_unit
from sccg_edge.errors import InputError

_LAYOUTS = ("root/ct/*.png + root/mr/*.png (same file name = one pair, e.g. ct/16003.png and mr/16003.png), or "
            "root/<patient>/ct/*.dcm + root/<patient>/mr/*.dcm (one co-registered series each)")


@dataclass(frozen=True)
class PairRecord:
    """One co-registered CT/MR slice pair.

    Attributes:
        name: unique id, the PNG stem or ``<patient>_<k:03d>``.
        patient: anonymous patient id (the numeric prefix or folder name, never a DICOM PatientID).
        ct: CT file.
        mr: MR file.
        index: frame index inside the DICOM files (0 for PNG and single-frame DICOM).
    """

    name: str
    patient: str
    ct: Path
    mr: Path
    index: int = 0


def patient_of(stem: str) -> str:
    """Patient id of a PNG stem: the digits before the last three (``"16003"`` -> ``"16"``)."""
    if len(stem) > 3 and stem[:-3].isdigit():
        return str(int(stem[:-3]))
    return stem


def _png_pairs(root: Path) -> list[PairRecord]:
    ct = {p.name: p for p in (root / "ct").glob("*.png")}
    mr = {p.name: p for p in (root / "mr").glob("*.png")}
    if not ct and not mr:
        raise InputError(f"has ct/ and mr/ folders but no .png files in them; accepted layouts: {_LAYOUTS}", root)
    only_ct, only_mr = sorted(set(ct) - set(mr)), sorted(set(mr) - set(ct))
    if only_ct or only_mr:
        raise InputError(f"CT and MR file names do not match: {len(only_ct)} CT files have no MR partner "
                         f"(e.g. {only_ct[:3]}) and {len(only_mr)} MR files have no CT partner (e.g. {only_mr[:3]}); "
                         "give every pair the same file name in ct/ and mr/", root)
    return [PairRecord(name=Path(n).stem, patient=patient_of(Path(n).stem), ct=ct[n], mr=mr[n]) for n in sorted(ct)]


def _dicom_pairs(root: Path, patients: list[Path]) -> list[PairRecord]:
    records: list[PairRecord] = []
    for pdir in patients:
        ct, mr = scan_series(pdir / "ct"), scan_series(pdir / "mr")
        if ct.shape[0] != mr.shape[0]:
            raise InputError(f"CT has {ct.shape[0]} slices but MR has {mr.shape[0]}; pairs need co-registered "
                             "series with one MR slice per CT slice", pdir)
        for k in range(ct.shape[0]):
            if ct.frames[k] != mr.frames[k]:
                raise InputError(f"slice {k} is frame {ct.frames[k]} of its CT file but frame {mr.frames[k]} of its "
                                 "MR file; store both series the same way (one file per slice)", pdir)
            records.append(PairRecord(name=f"{pdir.name}_{k:03d}", patient=pdir.name, ct=ct.files[k],
                                      mr=mr.files[k], index=ct.frames[k]))
    return records


def list_pairs(root: Path) -> list[PairRecord]:
    """List the CT/MR pairs under ``root`` in a deterministic (sorted) order.

    Args:
        root: a PNG pair folder or a per-patient DICOM folder (see the module docstring).

    Raises:
        InputError: unknown or empty layout, unmatched PNG names, or CT/MR series of different lengths.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"is not a folder; accepted layouts: {_LAYOUTS}", root)
    if (root / "ct").is_dir() and (root / "mr").is_dir():
        return _png_pairs(root)
    patients = sorted(p for p in root.iterdir() if p.is_dir() and (p / "ct").is_dir() and (p / "mr").is_dir())
    if not patients:
        raise InputError(f"holds no CT/MR pairs; accepted layouts: {_LAYOUTS}", root)
    return _dicom_pairs(root, patients)


def read_png_unit(path: Path) -> np.ndarray:
    """A PNG slice as float32 (H, W) in [0, 1]: 8-bit / 255, 16-bit / 65535, colour converted to grey.

    Raises:
        InputError: the file cannot be decoded.
    """
    try:
        with open_image(path) as img:
            img.load()
            if img.mode == "F" and not np.isfinite(np.asarray(img)).all():  # e.g. a float TIFF named .png
                raise InputError("holds NaN or infinite pixel values (a floating-point image); give 8- or 16-bit "
                                 "PNG slices", path)
            arr = np.asarray(img.convert("L") if img.mode not in ("L", "I;16", "I") else img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise InputError(f"cannot decode this image ({err}); replace or remove the file", path) from None
    scale = 65535.0 if arr.dtype == np.uint16 or arr.max(initial=0) > 255 else 255.0
    return (arr.astype(np.float32) / scale).clip(0.0, 1.0)


def load_pair(rec: PairRecord, ct_window: tuple[float, float] = CT_WINDOW_DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """Load one pair as float32 (H, W) arrays in [0, 1]: (ct, mr).

    PNG: value / 255 (colour converted to greyscale). DICOM CT: HU through ``ct_window``. DICOM MR: robust
    0.5/99.5 percentile scaling of the slice.

    Raises:
        InputError: unreadable files, a "CT" file that is not CT, or CT and MR of different sizes.
    """
    if rec.ct.suffix.lower() == ".png":
        ct, mr = read_png_unit(rec.ct), read_png_unit(rec.mr)
    else:
        tags = slice_tags(rec.ct, rec.index)
        if tags.get("Modality") != "CT":
            raise InputError(f"is used as the CT of pair {rec.name} but its Modality is {tags.get('Modality')}; "
                             "check that ct/ and mr/ are not swapped", rec.ct)
        ct = ct_window_to_unit(read_slice(rec.ct, rec.index, tags), ct_window)
        mr, _ = mr_to_unit(read_slice(rec.mr, rec.index))
    if ct.shape != mr.shape:
        raise InputError(f"pair {rec.name}: CT is {ct.shape} but MR is {mr.shape}; pairs must be co-registered on "
                         "one grid", rec.ct.parent)
    return ct, mr
