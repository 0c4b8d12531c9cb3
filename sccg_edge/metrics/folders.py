"""Compare a folder of predictions with a folder of ground truths, file by file.

Pairing: image files (``.png``, ``.dcm``, any case; other files and hidden files are ignored) are paired by file
name without extension, so ``16010.png`` may be compared with ``16010.dcm``. Every image in one folder must have a
partner in the other; otherwise an :class:`~sccg_edge.errors.InputError` lists a few unpaired names on each side.

Reading (never writing; inputs are left untouched):

* PNG: decoded with Pillow after a full CRC check (``Image.verify``), so flipped bytes or a truncated file are
  reported with the file's name instead of being read as wrong pixels. 8-bit grayscale is used as is; RGB(A),
  LA and palette images are converted to luminance (``L``); 16-bit or float PNGs are refused (not on 0..255).
  PNGs carry no Hounsfield units and are refused for ``scale="hu"``.
* DICOM: pydicom reads one 2-D slice and applies ``RescaleSlope``/``RescaleIntercept`` (defaults
  1 and 0). For ``scale="uint8"`` the HU image is mapped to 0..255 with the brain window 0..80 HU
  (``clip(hu, 0, 80) / 80 * 255``, kept as float64, not rounded). A DICOM whose ``Modality`` is present and not
  ``CT`` is refused on both scales: only a CT has Hounsfield units and a meaningful brain window.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from sccg_edge.data.dicom_open import read_dicom
from sccg_edge.data.image_io import open_image
from sccg_edge.errors import InputError
from sccg_edge.metrics.image import (
    SCALES,
    MetricInputError,
    head_mask_from_uint8,
    image_metrics,
    iou_label,
    summarize,
)

IMAGE_SUFFIXES = (".png", ".dcm")
BRAIN_WINDOW_HU = (0.0, 80.0)
_SHOW = 5  # how many unpaired names an error lists per side


def compare_folders(pred_dir: Path, gt_dir: Path, scale: str = "uint8", head_mask: bool = False) -> dict[str, Any]:
    """Metrics of every prediction against the ground truth of the same name, and their means.

    Args:
        pred_dir: Folder of predicted images.
        gt_dir: Folder of ground-truth images.
        scale: ``"uint8"`` (0..255) or ``"hu"`` (SynthRAD2023; DICOM only). See :mod:`sccg_edge.metrics.image`.
        head_mask: ``scale="uint8"`` only: evaluate PSNR/SSIM/MAE inside
            :func:`~sccg_edge.metrics.image.head_mask_from_uint8` of each ground truth.

    Returns:
        ``{"scale", "n", "mask", "iou_threshold", "mean": {metric: value}, "images": [{"name", metric: value}]}``;
        ``iou_threshold`` is the IoU's name, e.g. ``"iou@20"``; ``mask`` says where metrics were taken.

    Raises:
        InputError: naming the folder or file: missing or empty folder, unpaired names, a file that cannot be
            decoded, a shape mismatch within a pair, or PNGs for ``scale="hu"``.
    """
    if scale not in SCALES:
        raise InputError(f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")
    if head_mask and scale != "uint8":
        raise InputError("head_mask applies to the uint8 scale only; the hu scale always uses a body mask")
    pairs = _pair_files(Path(pred_dir), Path(gt_dir))
    rows = []
    for pred_path, gt_path in pairs:
        pred, gt = read_image(pred_path, scale), read_image(gt_path, scale)
        if pred.shape != gt.shape:
            raise InputError(f"shape {pred.shape} differs from the ground truth {gt_path} with shape {gt.shape}",
                             path=pred_path)
        try:
            mask = _head_mask(gt, gt_path) if head_mask else None
            values = image_metrics(pred, gt, scale=scale, mask=mask)  # type: ignore[arg-type]
        except MetricInputError as ex:
            raise InputError(f"cannot compare with {gt_path}: {ex}", path=pred_path) from ex
        values.pop("iou_threshold")
        rows.append({"name": pred_path.name, **values})
    mean = summarize([{k: v for k, v in r.items() if k != "name"} for r in rows])
    where = "body mask (gt > -500 HU)" if scale == "hu" else ("head mask (gt > 20)" if head_mask else "whole image")
    return {"scale": scale, "n": len(rows), "mask": where, "iou_threshold": iou_label(scale),  # type: ignore[arg-type]
            "mean": mean, "images": rows}


def read_image(path: Path, scale: str) -> np.ndarray:
    """Read one PNG or DICOM slice as float64 on ``scale`` (see the module docstring)."""
    path = Path(path)
    if path.suffix.lower() == ".png":
        if scale == "hu":
            raise InputError("a PNG carries no Hounsfield units; use --scale uint8 or give DICOM files", path=path)
        return _read_png(path)
    hu = _read_dicom_hu(path, scale)
    if scale == "hu":
        return hu
    lo, hi = BRAIN_WINDOW_HU
    return (np.clip(hu, lo, hi) - lo) / (hi - lo) * 255.0


def _pair_files(pred_dir: Path, gt_dir: Path) -> list[tuple[Path, Path]]:
    pred, gt = _list_images(pred_dir), _list_images(gt_dir)
    only_pred, only_gt = sorted(set(pred) - set(gt), key=_natural), sorted(set(gt) - set(pred), key=_natural)
    if only_pred or only_gt:
        raise InputError(
            f"file names do not match between the folders: only in {pred_dir}: {_few(only_pred)}; "
            f"only in {gt_dir}: {_few(only_gt)}. Give each prediction the name of its ground truth")
    return [(pred[k], gt[k]) for k in sorted(pred, key=_natural)]


def _list_images(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise InputError("not a folder (expected a folder of .png or .dcm images)", path=folder)
    found: dict[str, Path] = {}
    for p in folder.iterdir():
        if p.name.startswith(".") or p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file():
            continue
        if p.stem in found:
            raise InputError(f"two images share the name {p.stem!r} ({found[p.stem].name}, {p.name}); keep one",
                             path=folder)
        found[p.stem] = p
    if not found:
        raise InputError("no images found (expected .png or .dcm files)", path=folder)
    return found


def _read_png(path: Path) -> np.ndarray:
    try:
        with open_image(path) as img:
            img.verify()  # checks every chunk's CRC: catches flipped bytes and truncation
        with open_image(path) as img:
            img.load()
            mode = img.mode
            if mode in ("LA", "RGB", "RGBA", "P"):
                img = img.convert("L")
            elif mode != "L":
                raise InputError(f"PNG mode {mode!r} is not 8-bit; the uint8 scale needs 8-bit images", path=path)
            return np.asarray(img, dtype=np.float64)
    except InputError:
        raise
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as ex:
        raise InputError(f"cannot decode this PNG (corrupt or truncated?): {ex}", path=path) from ex


def _read_dicom_hu(path: Path, scale: str) -> np.ndarray:
    try:
        ds = read_dicom(path)  # the pixel data the header declares is checked against the file and the budget
        pixels = ds.pixel_array
    except InputError:
        raise
    except Exception as ex:  # pydicom raises many types for corrupt data and missing decoders
        raise InputError(f"cannot decode this DICOM file: {type(ex).__name__}: {ex}", path=path) from ex
    modality = str(ds.get("Modality", "")).upper()
    if modality and modality != "CT":  # both scales are of CT: Hounsfield units, or HU through the brain window
        what = "maps CT with the brain window" if scale == "uint8" else "scores CT in Hounsfield units"
        raise InputError(f"Modality is {modality}, not CT; the {scale} scale {what}", path=path)
    if pixels.ndim != 2:
        raise InputError(f"expected one 2-D slice per file; got pixel data of shape {pixels.shape}", path=path)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    return pixels.astype(np.float64) * slope + intercept


def _head_mask(gt: np.ndarray, gt_path: Path) -> np.ndarray:
    mask = head_mask_from_uint8(gt)
    if not mask.any():
        raise InputError("no pixel above 20 on the 0..255 scale, so no head mask; drop --head-mask", path=gt_path)
    return mask


def _natural(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _few(names: list[str]) -> str:
    if not names:
        return "(none)"
    more = f" and {len(names) - _SHOW} more" if len(names) > _SHOW else ""
    return ", ".join(names[:_SHOW]) + more
