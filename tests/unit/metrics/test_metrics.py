"""Array metrics: agreement with scikit-image, masks, validation, and the SynthRAD2023 HU conventions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.util import crop

from sccg_edge.errors import InputError
from sccg_edge.metrics import (
    MetricInputError,
    body_mask_from_hu,
    head_mask_from_uint8,
    image_metrics,
    iou,
    mae,
    psnr,
    read_image,
    ssim,
    summarize,
)

NAME = "16010.png"


@pytest.fixture(scope="module")
def pair(pairs_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """(MR as a poor 'prediction', real CT ground truth), float64 on 0..255."""
    mr = np.asarray(Image.open(pairs_root / "mr" / NAME), dtype=np.float64)
    ct = np.asarray(Image.open(pairs_root / "ct" / NAME), dtype=np.float64)
    return mr, ct


@pytest.fixture(scope="module")
def head_hu(head_ct_dir: Path) -> np.ndarray:
    """A real mid-head CT slice in HU (pydicom + rescale)."""
    import pydicom

    ds = pydicom.dcmread(head_ct_dir / "I20.dcm")
    return ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_uint8_metrics_match_skimage(pair: tuple[np.ndarray, np.ndarray]) -> None:
    pred, gt = pair
    out = image_metrics(pred, gt, scale="uint8")
    assert out["psnr"] == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=255), abs=1e-9)
    assert out["ssim"] == pytest.approx(structural_similarity(gt, pred, data_range=255), abs=1e-9)
    assert out["mae"] == pytest.approx(np.abs(pred - gt).mean(), abs=1e-9)
    assert out["iou"] == pytest.approx(np.sum((pred > 20) & (gt > 20)) / np.sum((pred > 20) | (gt > 20)))
    assert out["iou_threshold"] == 20.0
    assert 0 < out["ssim"] < 1 and 5 < out["psnr"] < 40


def test_masked_metrics(pair: tuple[np.ndarray, np.ndarray]) -> None:
    pred, gt = pair
    full = np.ones(gt.shape, dtype=bool)
    assert ssim(pred, gt, 255, mask=full) == pytest.approx(ssim(pred, gt, 255), abs=1e-12)
    assert psnr(pred, gt, 255, mask=full) == pytest.approx(psnr(pred, gt, 255), abs=1e-12)
    head = head_mask_from_uint8(gt)
    _, smap = structural_similarity(gt, pred, data_range=255, full=True)
    assert ssim(pred, gt, 255, mask=head) == pytest.approx(crop(smap, 3)[crop(head, 3)].mean(), abs=1e-12)
    assert psnr(pred, gt, 255, mask=head) == pytest.approx(
        10 * np.log10(255**2 / np.mean((pred[head] - gt[head]) ** 2)), abs=1e-9)
    assert mae(pred, gt, mask=head) == pytest.approx(np.abs(pred - gt)[head].mean(), abs=1e-12)
    assert mae(pred, gt, mask=head) > mae(pred, gt)  # background agrees, so the head-only error is larger


def test_head_mask_largest_component_and_holes(pair: tuple[np.ndarray, np.ndarray]) -> None:
    _, gt = pair
    head = head_mask_from_uint8(gt)
    assert head.dtype == bool and head.shape == gt.shape
    assert not head[0, 0] and not head[-1, -1]  # corners are air
    assert head[128, 128] and head.sum() >= (gt > 20).sum() * 0.95
    img = np.zeros((32, 32))
    img[4:20, 4:20] = 200
    img[8:16, 8:16] = 0  # a hole
    img[26:29, 26:29] = 200  # a smaller blob
    mask = head_mask_from_uint8(img)
    assert mask[4:20, 4:20].all() and mask.sum() == 16 * 16


def test_identical_images_and_summarize() -> None:
    img = np.tile(np.linspace(0, 255, 16), (16, 1))
    out = image_metrics(img, img)
    assert out["psnr"] == float("inf") and out["ssim"] == pytest.approx(1.0) and out["mae"] == 0.0
    mean = summarize([out, {**out, "psnr": 30.0, "mae": 2.0}])
    assert mean["psnr"] == float("inf") and mean["mae"] == 1.0 and mean["iou"] == 1.0
    with pytest.raises(MetricInputError, match="no metric rows"):
        summarize([])


def test_iou_values() -> None:
    a = np.array([[True, True, False, False]])
    b = np.array([[True, False, True, False]])
    assert iou(a, b) == pytest.approx(1 / 3)
    assert iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1.0
    with pytest.raises(ValueError, match="boolean"):
        iou(a.astype(np.uint8), b)


@pytest.mark.parametrize(("pred", "gt", "kwargs", "message"), [
    (np.zeros((16, 16)), np.zeros((16, 17)), {}, "shapes differ"),
    (np.full((16, 16), np.nan), np.zeros((16, 16)), {}, "NaN or infinite"),
    (np.zeros((16, 16)), np.full((16, 16), np.inf), {}, "NaN or infinite"),
    (np.full((16, 16), 300.0), np.zeros((16, 16)), {}, r"in \[0, 255\]"),
    (np.zeros((16, 16)), np.zeros((16, 16)), {"mask": np.ones((16, 16))}, "boolean"),
    (np.zeros((16, 16)), np.zeros((16, 16)), {"mask": np.zeros((16, 16), bool)}, "empty"),
    (np.zeros((5, 5)), np.ones((5, 5)), {}, ">= 7"),
    (np.full((16, 16), -1000.0), np.full((16, 16), -1000.0), {"scale": "hu"}, "no body mask"),
    (np.zeros((16, 16)), np.zeros((16, 16)), {"scale": "kelvin"}, "unknown scale"),
])
def test_invalid_inputs(pred: np.ndarray, gt: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(MetricInputError, match=message) as info:
        image_metrics(pred, gt, **kwargs)
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)


def test_body_mask_covers_head_not_air(head_hu: np.ndarray) -> None:
    body = body_mask_from_hu(head_hu)
    assert head_hu.min() < -1024  # padding outside the field of view, which the HU metrics must clip
    assert not body[0, 0] and not body[-1, -1] and not body[0, -1] and not body[-1, 0]
    assert 0.1 < body.mean() < 0.9
    assert (head_hu[body] > -500).mean() > 0.95  # mostly tissue; the rest is filled-in internal air
    bone = head_hu > 300
    assert body[bone].mean() > 0.95  # the skull lies inside the body mask
    assert (head_hu[~body] < -500).mean() > 0.95  # what is left out is air and the separate head holder
    assert ndimage.label(body)[1] == 1 and np.array_equal(ndimage.binary_fill_holes(body), body)


def test_hu_metrics_match_synthrad_definition(head_hu: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    gt = head_hu
    pred = gt + rng.normal(0, 40, gt.shape)
    pred[200:220, 200:220] = 3500.0  # beyond the clip range: must be clipped to 3000 for PSNR/SSIM
    out = image_metrics(pred, gt, scale="hu")
    m = body_mask_from_hu(gt)
    pc, gc = np.clip(pred, -1024, 3000), np.clip(gt, -1024, 3000)
    assert out["psnr"] == pytest.approx(peak_signal_noise_ratio(gc[m], pc[m], data_range=4024), abs=1e-6)
    assert out["psnr"] != pytest.approx(peak_signal_noise_ratio(gt[m], pred[m], data_range=4024), abs=1e-3)
    gs, ps = np.where(m, gc, -1024) + 1024, np.where(m, pc, -1024) + 1024
    assert gs.min() >= 0 and gs.max() <= 4024
    _, smap = structural_similarity(gs, ps, data_range=4024, full=True)
    assert out["ssim"] == pytest.approx(crop(smap, 3)[crop(m, 3)].mean(), abs=1e-6)
    assert out["mae"] == pytest.approx(np.abs(pred - gt)[m].mean(), abs=1e-9)  # MAE is not clipped
    assert out["iou"] == pytest.approx(np.sum((pred > 300) & (gt > 300)) / np.sum((pred > 300) | (gt > 300)))
    assert out["iou_threshold"] == 300.0


def test_read_dicom_brain_window(dicom_singles: Path) -> None:
    import pydicom

    ds = pydicom.dcmread(dicom_singles / "ct.dcm")
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(read_image(dicom_singles / "ct.dcm", "hu"), hu)
    win = read_image(dicom_singles / "ct.dcm", "uint8")
    np.testing.assert_allclose(win, np.clip(hu, 0, 80) / 80 * 255)
    assert win.min() == 0 and win.max() == 255
