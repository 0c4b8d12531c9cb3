"""Intensity-based registration of a CT slice onto its MR pair (SimpleITK, Mattes mutual information).

The shared pairs are "co-registered", but not closely: patient 34's CT and MR heads overlap at IoU 0.76, and an L1
loss on misaligned pairs teaches blur. A similarity fit of thresholded head masks was tried before and made every
figure worse, because the CT couch sits inside a threshold mask. So this registration:

* removes the couch first: the CT that drives the fit keeps only its head (the largest filled component above
  20/255, :func:`sccg_edge.metrics.head_mask_from_uint8`); the full CT, couch included, is what gets resampled;
* fits CT to MR by Mattes mutual information (the two modalities have no common intensity scale), rigid (Euler 2-D)
  or affine, multi-resolution (shrink 4/2/1), from a centre-of-mass start;
* refuses fits that do not improve mutual information or that move implausibly far (a rotation over 15 degrees, a
  shift over 12 % of the slice, a scale outside 0.85..1.15): those pairs keep their raw CT, and the result says so.

Results are cached under ``~/.cache/sccg-edge/register`` (or ``$SCCG_CACHE_DIR/register``) by the SHA-256 of both
images, the kind and this module's version, so a study pays for each pair once.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sccg_edge.errors import ConfigError, MissingDependencyError
from sccg_edge.metrics import head_mask_from_uint8
from sccg_edge.utils.fs import cache_dir

KINDS = ("none", "rigid", "affine")
VERSION = "1"
MAX_ROTATION_DEG = 15.0
MAX_SHIFT = 0.12  # of the slice width
SCALE_RANGE = (0.85, 1.15)


@dataclass(frozen=True)
class Registration:
    """One fitted pair: the CT resampled onto the MR grid, and how the fit went."""

    ct: np.ndarray  # (H, W) float32 in [0, 1]: the registered CT (the raw CT when ``accepted`` is False)
    accepted: bool
    reason: str  # "ok" or why the raw CT was kept
    mi_before: float  # Mattes mutual information (SimpleITK reports it negated; here larger is better)
    mi_after: float
    rotation_deg: float
    shift_px: float
    scale: float


def _sitk():
    try:
        import SimpleITK as sitk
    except ImportError:
        raise MissingDependencyError("SimpleITK", "register", "pair registration (data.register, --register)") \
            from None
    return sitk


def registration_cache() -> Path:
    return cache_dir() / "register"


def register_pair(ct01: np.ndarray, mr01: np.ndarray, kind: str = "rigid", use_cache: bool = True) -> Registration:
    """Register a CT slice onto its MR slice (both (H, W) in [0, 1]); see the module docs."""
    if kind not in KINDS or kind == "none":
        raise ConfigError(f"registration kind must be rigid or affine, not {kind!r}")
    key = hashlib.sha256(b"|".join([VERSION.encode(), kind.encode(), np.ascontiguousarray(ct01, np.float32).tobytes(),
                                    np.ascontiguousarray(mr01, np.float32).tobytes()])).hexdigest()
    cached = registration_cache() / f"{key}.npz"
    if use_cache and cached.is_file():
        with np.load(cached) as z:
            return Registration(ct=z["ct"], accepted=bool(z["accepted"]), reason=str(z["reason"]),
                                **{k: float(z[k]) for k in ("mi_before", "mi_after", "rotation_deg", "shift_px",
                                                            "scale")})
    reg = _fit(ct01.astype(np.float32), mr01.astype(np.float32), kind)
    if use_cache:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, ct=reg.ct, accepted=reg.accepted, reason=reg.reason, mi_before=reg.mi_before,
                 mi_after=reg.mi_after, rotation_deg=reg.rotation_deg, shift_px=reg.shift_px, scale=reg.scale)
        os.replace(tmp, cached)
    return reg


def _fit(ct: np.ndarray, mr: np.ndarray, kind: str) -> Registration:
    sitk = _sitk()
    head = head_mask_from_uint8(ct * 255.0)
    if not head.any() or not (mr > 20 / 255).any():
        return Registration(ct, False, "no head in the CT or MR", 0.0, 0.0, 0.0, 0.0, 1.0)
    fixed = sitk.GetImageFromArray(mr)
    moving = sitk.GetImageFromArray(np.where(head, ct, 0.0).astype(np.float32))  # the couch removed
    start = sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler2DTransform() if kind == "rigid"
                                              else sitk.AffineTransform(2),
                                              sitk.CenteredTransformInitializerFilter.MOMENTS)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.25, seed=0)  # fixed seed: the same pair always registers the same way
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-3, numberOfIterations=80,
                                                    gradientMagnitudeTolerance=1e-5)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2, 1, 0])
    identity = sitk.Euler2DTransform()
    identity.SetCenter(start.GetCenter() if hasattr(start, "GetCenter") else (0.0, 0.0))
    method.SetInitialTransform(identity, inPlace=False)
    mi_before = _full_mi(sitk, fixed, moving, identity)
    method.SetInitialTransform(start, inPlace=False)
    try:
        transform = method.Execute(fixed, moving)
    except RuntimeError as err:  # ITK's optimiser can fail on degenerate slices
        return Registration(ct, False, f"fit failed ({str(err).splitlines()[0][:80]})", mi_before, mi_before,
                            0.0, 0.0, 1.0)
    mi_after = _full_mi(sitk, fixed, moving, transform)
    rotation, shift, scale = _motion(transform, ct.shape)
    reason = "ok"
    if mi_after <= mi_before:
        reason = "mutual information did not improve"
    elif abs(rotation) > MAX_ROTATION_DEG or shift > MAX_SHIFT * ct.shape[1] or not SCALE_RANGE[0] <= scale <= \
            SCALE_RANGE[1]:
        reason = f"implausible motion (rotation {rotation:.1f} deg, shift {shift:.1f} px, scale {scale:.3f})"
    if reason != "ok":
        return Registration(ct, False, reason, mi_before, mi_after, rotation, shift, scale)
    out = sitk.Resample(sitk.GetImageFromArray(ct), fixed, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return Registration(np.clip(sitk.GetArrayFromImage(out), 0.0, 1.0).astype(np.float32), True, reason,
                        mi_before, mi_after, rotation, shift, scale)


def _full_mi(sitk, fixed, moving, transform) -> float:
    """Mattes mutual information over every pixel (larger is better), to compare before and after a fit."""
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    method.SetMetricSamplingStrategy(method.NONE)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetInitialTransform(transform, inPlace=False)
    return -float(method.MetricEvaluate(fixed, moving))


def _motion(transform, shape: tuple[int, int]) -> tuple[float, float, float]:
    """(rotation in degrees, shift of the slice centre in pixels, mean scale) of a fitted 2-D transform."""
    sitk = _sitk()
    tx = transform.GetNthTransform(0) if hasattr(transform, "GetNthTransform") else transform
    matrix = np.array(sitk.AffineTransform(tx).GetMatrix() if not hasattr(tx, "GetMatrix") else tx.GetMatrix())
    matrix = matrix.reshape(2, 2)
    centre = ((shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0)
    moved = np.array(tx.TransformPoint(centre)) - np.array(centre)
    rotation = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
    scale = float(math.sqrt(abs(np.linalg.det(matrix))))
    return rotation, float(np.hypot(*moved)), scale
