"""Image-quality metrics on two scales: the paper's 0..255 scale and Hounsfield units (SynthRAD2023).

Pure array functions; reading files lives in :mod:`sccg_edge.metrics.folders`. PSNR and SSIM are scikit-image's
``peak_signal_noise_ratio`` and ``structural_similarity``, never re-implemented here.

Exact definitions (``a`` = prediction, ``b`` = ground truth, both converted to float64):

* **PSNR** = ``10 log10(data_range**2 / MSE)`` with ``MSE = mean((a - b)**2)``; with a mask, the MSE runs over the
  pixels inside the mask only (skimage is called on the masked pixels). Identical images give ``inf``.
* **SSIM** = skimage ``structural_similarity(b, a, data_range=..., full=True)`` with its defaults: a 7x7 (7x7x7 for
  volumes) *uniform* window (``gaussian_weights=False``), ``K1=0.01``, ``K2=0.03``, sample covariance
  (``use_sample_covariance=True``), reflect padding. Without a mask the value is skimage's mean SSIM, i.e. the SSIM
  map averaged after cropping a ``(7 - 1) // 2 = 3`` pixel border. With a mask, the same cropped map is averaged over
  the pixels inside the (equally cropped) mask, so an all-true mask gives exactly the unmasked value.
* **MAE** = ``mean(|a - b|)`` in the units of the scale (0..255 or HU), inside the mask when one is given.
* **IoU** = ``|P & G| / |P | G|`` of two boolean masks, over the whole image (never restricted by the evaluation
  mask); two empty masks agree perfectly and give 1.0.

Scales used by :func:`image_metrics`:

``"uint8"`` (the paper's scale): images are float64 in [0, 255] (values outside are refused, not clipped);
PSNR/SSIM use ``data_range=255``; MAE is in 0..255 units; IoU compares ``pred > 20`` with ``gt > 20``
(``"iou@20"``). The optional ``mask`` (e.g. :func:`head_mask_from_uint8`) restricts PSNR, SSIM and MAE as above.

``"hu"`` (SynthRAD2023 conventions): the mask defaults to :func:`body_mask_from_hu` of the ground truth.
MAE is inside the mask on the *unclipped* HU values. PSNR clips both images to [-1024, 3000] HU and uses
``data_range=4024`` with the MSE inside the mask. SSIM clips to [-1024, 3000], sets every pixel outside the mask to
the background value -1024 in both images, shifts by +1024 (range [0, 4024]), computes the full SSIM map with
``data_range=4024`` and averages it inside the mask (cropped border as above). IoU compares bone masks
``pred > 300 HU`` with ``gt > 300 HU`` (``"iou@300HU"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.util import crop

from sccg_edge.errors import InputError

Scale = Literal["uint8", "hu"]
SCALES: tuple[str, ...] = ("uint8", "hu")

UINT8_DATA_RANGE = 255.0
UINT8_IOU_THRESHOLD = 20.0  # foreground (head) IoU threshold on the 0..255 scale
HEAD_MASK_THRESHOLD = 20.0  # head mask: gt > 20 on the 0..255 scale
HU_CLIP = (-1024.0, 3000.0)  # SynthRAD2023 fixed dynamic range
HU_DATA_RANGE = HU_CLIP[1] - HU_CLIP[0]  # 4024
BODY_MASK_HU = -500.0  # body mask: gt > -500 HU
BONE_HU = 300.0  # bone IoU threshold
SSIM_WIN_SIZE = 7  # skimage's default window; also the border cropped before averaging is (7 - 1) // 2


class MetricInputError(InputError, ValueError):
    """Arrays given to a metric are unusable (shape mismatch, NaN/inf, out of range, empty mask).

    It is an :class:`~sccg_edge.errors.InputError` (the CLI prints it as one line) and a ``ValueError``.
    """


def iou_label(scale: Scale) -> str:
    """The name of the IoU reported for ``scale``: ``"iou@20"`` (0..255) or ``"iou@300HU"``."""
    _check_scale(scale)
    return f"iou@{UINT8_IOU_THRESHOLD:g}" if scale == "uint8" else f"iou@{BONE_HU:g}HU"


def psnr(pred: np.ndarray, gt: np.ndarray, data_range: float, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (skimage), with the MSE taken inside ``mask`` when given.

    Args:
        pred: Predicted image.
        gt: Ground-truth image, same shape.
        data_range: Peak value range (255 on the 0..255 scale, 4024 for clipped HU).
        mask: Optional boolean mask, same shape; only its pixels enter the MSE.

    Returns:
        PSNR in dB; ``inf`` when the (masked) images are identical.
    """
    a, b = _pair(pred, gt)
    if mask is not None:
        m = _mask(mask, b.shape)
        a, b = a[m], b[m]
    if np.array_equal(a, b):
        return float("inf")
    return float(peak_signal_noise_ratio(b, a, data_range=_range(data_range)))


def ssim(pred: np.ndarray, gt: np.ndarray, data_range: float, mask: np.ndarray | None = None) -> float:
    """Structural similarity (skimage defaults: 7x7 uniform window, K1=0.01, K2=0.03), optionally inside ``mask``.

    Args:
        pred: Predicted image (2-D, or 3-D volume), every side at least 7.
        gt: Ground-truth image, same shape.
        data_range: Value range passed to skimage.
        mask: Optional boolean mask; the SSIM map is averaged over its pixels after the 3-pixel border crop.

    Returns:
        Mean SSIM.
    """
    a, b = _pair(pred, gt)
    if min(b.shape) < SSIM_WIN_SIZE:
        raise MetricInputError(f"SSIM needs every image side >= {SSIM_WIN_SIZE} pixels; got shape {b.shape}")
    value, ssim_map = structural_similarity(b, a, data_range=_range(data_range), full=True)
    if mask is None:
        return float(value)
    pad = (SSIM_WIN_SIZE - 1) // 2
    inner = crop(_mask(mask, b.shape), pad)
    if not inner.any():
        raise MetricInputError(f"the mask has no pixel farther than {pad} pixels from the image border")
    return float(crop(ssim_map, pad)[inner].mean(dtype=np.float64))


def mae(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute difference in the images' own units, inside ``mask`` when given."""
    a, b = _pair(pred, gt)
    diff = np.abs(a - b)
    if mask is not None:
        diff = diff[_mask(mask, b.shape)]
    return float(diff.mean(dtype=np.float64))


def iou(pred_mask: np.ndarray, gt_mask: np.ndarray) -> float:
    """Intersection over union of two boolean masks; 1.0 when both are empty."""
    p, g = np.asarray(pred_mask), np.asarray(gt_mask)
    if p.dtype != bool or g.dtype != bool:
        raise MetricInputError(f"iou needs boolean masks (e.g. image > threshold); got {p.dtype} and {g.dtype}")
    if p.shape != g.shape:
        raise MetricInputError(f"mask shapes differ: prediction {p.shape} vs ground truth {g.shape}")
    union = np.count_nonzero(p | g)
    return 1.0 if union == 0 else float(np.count_nonzero(p & g) / union)


def head_mask_from_uint8(gt: np.ndarray, threshold: float = HEAD_MASK_THRESHOLD) -> np.ndarray:
    """Head mask of a 0..255 image: ``gt > threshold``, largest connected component, holes filled.

    Args:
        gt: Ground-truth image on the 0..255 scale.
        threshold: Intensity above which a pixel is head (default 20).

    Returns:
        Boolean mask, same shape; all false when no pixel exceeds ``threshold``.
    """
    return _largest_filled(_finite(gt, "ground truth") > threshold)


def body_mask_from_hu(ct: np.ndarray, threshold: float = BODY_MASK_HU) -> np.ndarray:
    """Body mask of a CT in HU: ``ct > threshold`` (default -500), largest connected component, holes filled.

    Connectivity is face-adjacency (4-connected in 2-D, 6-connected in 3-D); holes (air in sinuses, ear canals)
    are filled with ``scipy.ndimage.binary_fill_holes``.
    """
    return _largest_filled(_finite(ct, "ground truth") > threshold)


def image_metrics(pred: np.ndarray, gt: np.ndarray, scale: Scale = "uint8",
                  mask: np.ndarray | None = None) -> dict[str, float]:
    """PSNR, SSIM, MAE and IoU of one image pair on ``scale``, as defined in the module docstring.

    Args:
        pred: Predicted image (0..255 or HU).
        gt: Ground-truth image, same shape.
        scale: ``"uint8"`` (the paper's 0..255 scale) or ``"hu"`` (SynthRAD2023 conventions).
        mask: Optional boolean evaluation mask. For ``"hu"`` it defaults to :func:`body_mask_from_hu` of ``gt``.

    Returns:
        ``{"psnr", "ssim", "mae", "iou", "iou_threshold"}``; ``iou_threshold`` is the threshold of
        :func:`iou_label` (20 on 0..255, 300 HU).
    """
    _check_scale(scale)
    a, b = _pair(pred, gt)
    if scale == "uint8":
        for name, arr in (("prediction", a), ("ground truth", b)):
            if arr.min() < 0 or arr.max() > UINT8_DATA_RANGE:
                raise MetricInputError(f"the uint8 scale expects the {name} in [0, 255]; "
                                       f"got values in [{arr.min():g}, {arr.max():g}]")
        return {"psnr": psnr(a, b, UINT8_DATA_RANGE, mask), "ssim": ssim(a, b, UINT8_DATA_RANGE, mask),
                "mae": mae(a, b, mask), "iou": iou(a > UINT8_IOU_THRESHOLD, b > UINT8_IOU_THRESHOLD),
                "iou_threshold": UINT8_IOU_THRESHOLD}
    m = body_mask_from_hu(b) if mask is None else _mask(mask, b.shape)
    if not m.any():
        raise MetricInputError(f"the ground-truth CT has no pixel above {BODY_MASK_HU:g} HU, so no body mask")
    lo, hi = HU_CLIP
    a_clip, b_clip = np.clip(a, lo, hi), np.clip(b, lo, hi)
    a_ssim = np.where(m, a_clip, lo) - lo  # outside the mask: background -1024 HU; then shift to [0, 4024]
    b_ssim = np.where(m, b_clip, lo) - lo
    return {"psnr": psnr(a_clip, b_clip, HU_DATA_RANGE, m), "ssim": ssim(a_ssim, b_ssim, HU_DATA_RANGE, m),
            "mae": mae(a, b, m), "iou": iou(a > BONE_HU, b > BONE_HU), "iou_threshold": BONE_HU}


def summarize(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean of every metric over a list of :func:`image_metrics` results (``inf`` PSNR stays ``inf``).

    Raises:
        MetricInputError: if ``rows`` is empty or the rows do not all have the same keys.
    """
    rows = list(rows)
    if not rows:
        raise MetricInputError("no metric rows to summarize")
    keys = list(rows[0])
    if any(set(r) != set(keys) for r in rows):
        raise MetricInputError("metric rows have different keys; cannot average them")
    return {k: float(np.mean([float(r[k]) for r in rows], dtype=np.float64)) for k in keys}


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise MetricInputError(f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")


def _finite(arr: np.ndarray, name: str) -> np.ndarray:
    try:
        out = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as ex:
        raise MetricInputError(f"the {name} is not a numeric array ({ex})") from ex
    if out.ndim not in (2, 3):
        raise MetricInputError(f"the {name} must be a 2-D image or 3-D volume; got shape {out.shape}")
    if out.size == 0:
        raise MetricInputError(f"the {name} is empty (shape {out.shape})")
    if not np.isfinite(out).all():
        raise MetricInputError(f"the {name} contains NaN or infinite values ({np.count_nonzero(~np.isfinite(out))} "
                               "pixels); fix the model output or the file before computing metrics")
    return out


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = _finite(pred, "prediction"), _finite(gt, "ground truth")
    if a.shape != b.shape:
        raise MetricInputError(f"shapes differ: prediction {a.shape} vs ground truth {b.shape}")
    return a, b


def _mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    m = np.asarray(mask)
    if m.shape != shape:
        raise MetricInputError(f"mask shape {m.shape} differs from image shape {shape}")
    if m.dtype != bool:
        raise MetricInputError(f"the mask must be boolean; got {m.dtype}")
    if not m.any():
        raise MetricInputError("the mask is empty; metrics inside it are undefined")
    return m


def _range(data_range: float) -> float:
    value = float(data_range)
    if not np.isfinite(value) or value <= 0:
        raise MetricInputError(f"data_range must be a positive finite number; got {data_range!r}")
    return value


def _largest_filled(binary: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(binary)
    if count == 0:
        return np.zeros(binary.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return ndimage.binary_fill_holes(labels == int(sizes.argmax()))
