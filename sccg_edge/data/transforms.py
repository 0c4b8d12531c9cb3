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
    """Bilinear resize with Gaussian anti-aliasing when shrinking, edge values beyond the border.

    The same numbers as ``skimage.transform.resize(img, shape, order=1, mode="edge", anti_aliasing=shrinking,
    preserve_range=True)`` (sigma ``(factor - 1) / 2`` per shrunk axis, truncated at 4 sigma; pixel-area grid) to
    float32 rounding, which the training slices were made with, one axis at a time and without importing
    scikit-image and SciPy (a third of ``convert``'s start-up). Halving and doubling an axis (512 <-> 256, the
    common case) are one strided 6-tap and one 2-tap filter, 5-10x faster than scikit-image; other factors are
    filtered and interpolated in float64 (tests/unit/data/test_transforms.py checks both against scikit-image).
    """
    if tuple(img.shape) == tuple(shape):
        return img.astype(np.float32, copy=True)
    out = np.asarray(img, dtype=np.float32)
    for axis in (0, 1):
        n_in, n_out = out.shape[axis], shape[axis]
        if n_in == 2 * n_out:
            out = _halve_axis(out, axis)
        elif 2 * n_in == n_out:
            out = _double_axis(out, axis)
        elif n_in != n_out:
            wide = np.asarray(out, dtype=np.float64)
            if n_in > n_out:
                wide = _smooth_axis(wide, (n_in / n_out - 1) / 2, axis)
            out = _linear_axis(wide, n_out, axis).astype(np.float32)
    return out


def _gaussian_taps(sigma: float) -> np.ndarray:
    """Normalised Gaussian weights, radius ``int(4 sigma + 0.5)`` (SciPy's ``gaussian_filter`` kernel)."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * x * x)
    return weights / weights.sum()


#: halving an axis: the sigma-0.5 Gaussian (taps -2..2) then the mean of input pixels 2i and 2i+1 (where output
#: pixel i's centre falls), i.e. one 6-tap filter (taps -2..3 around 2i) evaluated at every other pixel
_HALVE_TAPS = (0.5 * (np.append(_gaussian_taps(0.5), 0.0) + np.insert(_gaussian_taps(0.5), 0, 0.0))).astype(np.float32)


def _along(a: np.ndarray, axis: int, start: int, stop: int, step: int = 1) -> np.ndarray:
    return a[start:stop:step] if axis == 0 else a[:, start:stop:step]


def _halve_axis(a: np.ndarray, axis: int) -> np.ndarray:
    """Anti-aliased 2x downsampling of a float32 2-D array along ``axis`` (edge values beyond the border)."""
    n = a.shape[axis]
    padded = np.pad(a, [(2, 2), (0, 0)] if axis == 0 else [(0, 0), (2, 2)], mode="edge")
    out = _HALVE_TAPS[0] * _along(padded, axis, 0, n, 2)
    for m in range(1, len(_HALVE_TAPS)):
        out += _HALVE_TAPS[m] * _along(padded, axis, m, m + n, 2)
    return out


def _double_axis(a: np.ndarray, axis: int) -> np.ndarray:
    """Bilinear 2x upsampling of a float32 2-D array along ``axis``: output 2j reads input j - 1/4, 2j + 1 reads
    j + 1/4 (pixel-area grid), the edge value beyond the border."""
    n = a.shape[axis]
    padded = np.pad(a, [(1, 1), (0, 0)] if axis == 0 else [(0, 0), (1, 1)], mode="edge")
    shape = (2 * n, a.shape[1]) if axis == 0 else (a.shape[0], 2 * n)
    out = np.empty(shape, dtype=np.float32)
    centre = np.float32(0.75) * a
    even, odd = (slice(0, None, 2), slice(1, None, 2))
    if axis == 0:
        out[even] = centre + np.float32(0.25) * padded[:n]
        out[odd] = centre + np.float32(0.25) * padded[2:]
    else:
        out[:, even] = centre + np.float32(0.25) * padded[:, :n]
        out[:, odd] = centre + np.float32(0.25) * padded[:, 2:]
    return out


def _smooth_axis(a: np.ndarray, sigma: float, axis: int) -> np.ndarray:
    """Gaussian filter of a 2-D float64 array along ``axis`` (edge values repeated beyond the border)."""
    weights = _gaussian_taps(sigma)
    radius = len(weights) // 2
    n = a.shape[axis]
    pad = [(0, 0), (0, 0)]
    pad[axis] = (radius, radius)
    padded = np.pad(a, pad, mode="edge")
    out = weights[radius] * a
    for k, w in enumerate(weights):
        if k != radius:
            out += w * _along(padded, axis, k, k + n)
    return out


def _linear_axis(a: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    """Linear interpolation of a 2-D array to ``n_out`` samples along ``axis``, pixel centres on the area grid
    (output ``i`` reads input ``(i + 0.5) * n_in / n_out - 0.5``), clamped at the edges."""
    n_in = a.shape[axis]
    coords = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    lo = np.floor(coords).astype(np.intp)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (coords - lo)[:, None] if axis == 0 else (coords - lo)[None, :]
    a_lo = np.take(a, lo, axis=axis)
    return a_lo + (np.take(a, hi, axis=axis) - a_lo) * frac


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
