"""Pure array transforms between scanner units, the unit range [0, 1] and the model range [-1, 1].

Every function here takes and returns numpy arrays and has no I/O, so each can be tested on synthetic arrays.
Each forward transform has an inverse:

* CT: Hounsfield units --window--> [0, 1] (:func:`ct_window_to_unit`, inverse :func:`unit_to_ct_hu`, exact inside
  the window, values outside it are clipped to its edges).
* MR: arbitrary scanner units --robust percentiles--> [0, 1] (:func:`mr_to_unit`, inverse :func:`unit_to_mr`).
* [0, 1] <-> [-1, 1] as in the paper (:func:`unit_to_model`, :func:`model_to_unit`).
* Any (H, W) grid <-> a square model grid (:func:`fit_to_size`, :func:`restore_from_fit`).

The shared ``brain-ct-mr-pairs`` PNGs are 8-bit *brain-window* renderings (roughly the ``"brain"`` window below),
so their [0, 1] values are not comparable with HU data windowed by :data:`CT_WINDOW_DEFAULT`; pass
``CT_WINDOWS["brain"]`` when DICOM CT must look like those PNGs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.transform import resize

#: Named CT display windows as (lowest HU, highest HU).
CT_WINDOWS: dict[str, tuple[float, float]] = {
    "brain": (0.0, 80.0),  # level 40, width 80: what the shared PNG pairs look like
    "subdural": (-20.0, 180.0),
    "stroke": (20.0, 60.0),
    "bone": (-800.0, 2000.0),
    "head": (-1000.0, 2000.0),  # air to dense bone: keeps every tissue, the default for HU round trips
}

#: The default CT window: air to dense bone, so that HU -> [0, 1] -> HU loses nothing inside the head.
CT_WINDOW_DEFAULT: tuple[float, float] = CT_WINDOWS["head"]


def _check_window(window: tuple[float, float]) -> tuple[float, float]:
    lo, hi = float(window[0]), float(window[1])
    if not hi > lo:
        raise ValueError(f"CT window must have low < high, got {window}")
    return lo, hi


def ct_window_to_unit(hu: np.ndarray, window: tuple[float, float] = CT_WINDOW_DEFAULT) -> np.ndarray:
    """Map Hounsfield units to [0, 1] through a window, clipping outside it.

    Args:
        hu: CT values in HU, any shape.
        window: (low, high) HU mapped to 0 and 1.

    Returns:
        float32 array of the same shape in [0, 1].
    """
    lo, hi = _check_window(window)
    unit = (np.asarray(hu, dtype=np.float32) - lo) / (hi - lo)
    return np.clip(unit, 0.0, 1.0).astype(np.float32, copy=False)


def unit_to_ct_hu(unit: np.ndarray, window: tuple[float, float] = CT_WINDOW_DEFAULT) -> np.ndarray:
    """Inverse of :func:`ct_window_to_unit`: [0, 1] back to HU (exact for values that were inside the window).

    Args:
        unit: values in [0, 1] (clipped to it first).
        window: the (low, high) HU window used by the forward transform.

    Returns:
        float32 HU array of the same shape.
    """
    lo, hi = _check_window(window)
    unit = np.clip(np.asarray(unit, dtype=np.float32), 0.0, 1.0)
    return (unit * (hi - lo) + lo).astype(np.float32, copy=False)


@dataclass(frozen=True)
class MRScale:
    """The scanner-unit values mapped to 0 and 1 by :func:`mr_to_unit`."""

    lo: float
    hi: float


def mr_to_unit(x: np.ndarray, p_lo: float = 0.5, p_hi: float = 99.5) -> tuple[np.ndarray, MRScale]:
    """Scale MR intensities to [0, 1] with robust percentiles (a few hot pixels do not squash the image).

    Args:
        x: MR values in scanner units, any shape.
        p_lo: percentile mapped to 0.
        p_hi: percentile mapped to 1.

    Returns:
        (float32 array in [0, 1], the :class:`MRScale` needed by :func:`unit_to_mr`). A constant image maps to 0.
    """
    if not 0.0 <= p_lo < p_hi <= 100.0:
        raise ValueError(f"need 0 <= p_lo < p_hi <= 100, got {p_lo}, {p_hi}")
    arr = np.asarray(x, dtype=np.float32)
    lo, hi = (float(v) for v in np.percentile(arr, [p_lo, p_hi]))
    if hi <= lo:
        hi = lo + 1.0
    unit = np.clip((arr - lo) / (hi - lo), 0.0, 1.0)
    return unit.astype(np.float32, copy=False), MRScale(lo=lo, hi=hi)


def unit_to_mr(unit: np.ndarray, scale: MRScale) -> np.ndarray:
    """Inverse of :func:`mr_to_unit` (exact for values between the two percentiles)."""
    unit = np.clip(np.asarray(unit, dtype=np.float32), 0.0, 1.0)
    return (unit * (scale.hi - scale.lo) + scale.lo).astype(np.float32, copy=False)


def unit_to_model(unit: np.ndarray) -> np.ndarray:
    """[0, 1] -> [-1, 1], the generator's input range."""
    return (np.asarray(unit, dtype=np.float32) * 2.0 - 1.0).astype(np.float32, copy=False)


def model_to_unit(model: np.ndarray) -> np.ndarray:
    """[-1, 1] -> [0, 1], inverse of :func:`unit_to_model`."""
    return ((np.asarray(model, dtype=np.float32) + 1.0) / 2.0).astype(np.float32, copy=False)


@dataclass(frozen=True)
class FitInfo:
    """How :func:`fit_to_size` placed an image, so :func:`restore_from_fit` can undo it."""

    orig_shape: tuple[int, int]  # (H, W) of the input
    scaled_shape: tuple[int, int]  # (h, w) after the aspect-preserving resize
    top: int  # rows of padding above the scaled image
    left: int  # columns of padding left of it


def _resize(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if tuple(img.shape) == tuple(shape):
        return img.astype(np.float32, copy=True)

    shrinking = shape[0] < img.shape[0] or shape[1] < img.shape[1]
    out = resize(img, shape, order=1, mode="edge", anti_aliasing=shrinking, preserve_range=True)
    return out.astype(np.float32, copy=False)


def fit_to_size(img: np.ndarray, size: int, fill: float = 0.0) -> tuple[np.ndarray, FitInfo]:
    """Resize an (H, W) image so its longer side is ``size``, keeping the aspect ratio, then pad it to a square.

    Resizing (rather than cropping) keeps the whole field of view, and padding keeps anatomy undistorted. The
    image is centred; padding uses ``fill`` (0 = air/background in the unit range). An image that is already
    ``size`` x ``size`` is returned unchanged.

    Args:
        img: (H, W) array.
        size: side of the square output.
        fill: value of the padding.

    Returns:
        ((size, size) float32 array, :class:`FitInfo`).
    """
    img = np.asarray(img, dtype=np.float32)
    if img.ndim != 2 or min(img.shape) < 1:
        raise ValueError(f"fit_to_size expects a non-empty (H, W) image, got shape {img.shape}")
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    h, w = img.shape
    scale = size / max(h, w)
    sh, sw = max(1, min(size, round(h * scale))), max(1, min(size, round(w * scale)))
    scaled = _resize(img, (sh, sw))
    top, left = (size - sh) // 2, (size - sw) // 2
    out = np.full((size, size), fill, dtype=np.float32)
    out[top : top + sh, left : left + sw] = scaled
    return out, FitInfo(orig_shape=(h, w), scaled_shape=(sh, sw), top=top, left=left)


def restore_from_fit(out: np.ndarray, info: FitInfo) -> np.ndarray:
    """Undo :func:`fit_to_size`: crop the padding and resize back to the original (H, W) grid.

    Args:
        out: a (size, size) array on the model grid (e.g. the generator's output).
        info: the :class:`FitInfo` returned for the input.

    Returns:
        float32 array of shape ``info.orig_shape``.
    """
    out = np.asarray(out, dtype=np.float32)
    sh, sw = info.scaled_shape
    crop = out[info.top : info.top + sh, info.left : info.left + sw]
    return _resize(crop, info.orig_shape)
