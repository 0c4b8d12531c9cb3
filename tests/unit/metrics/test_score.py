"""The one fidelity scorer (sccg_edge.metrics.score): the 0..255 mapping, slice means, fidelity and summaries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sccg_edge.data.slices import SliceSet
from sccg_edge.metrics import image_metrics
from sccg_edge.metrics.score import (
    by_direction,
    capped_psnr,
    fidelity,
    head_masks,
    image_255,
    score,
    slice_scores,
    to_255,
    validation_scores,
)


def _slices(n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 1, 16, 16)).astype(np.float32)


def test_mapping_is_the_papers_scale() -> None:
    x = np.array([-1.5, -1.0, 0.0, 1.0, 1.5], np.float32)
    np.testing.assert_array_equal(to_255(x), [0.0, 0.0, 127.5, 255.0, 255.0])
    assert to_255(x).dtype == np.float64 and to_255(x, np.float32).dtype == np.float32
    assert image_255(np.zeros((1, 1, 4, 5), np.float32)).shape == (4, 5)


def test_score_is_the_mean_of_the_image_metrics() -> None:
    pred, gt = _slices(seed=1), _slices(seed=2)
    rows = [image_metrics(np.clip((p[0].astype(np.float64) + 1) * 127.5, 0, 255),
                          np.clip((t[0].astype(np.float64) + 1) * 127.5, 0, 255)) for p, t in zip(pred, gt)]
    mean = score(pred, gt)
    for key in ("psnr", "ssim", "mae", "iou"):
        assert mean[key] == pytest.approx(np.mean([r[key] for r in rows]), rel=1e-12)
    assert slice_scores(pred[0], gt[0]) == rows[0]
    masks = [np.ones((16, 16), bool)] * 3
    with_head = score(pred, gt, masks)
    assert with_head["head_mae"] == pytest.approx(with_head["mae"]) and "head_iou" not in with_head


def test_identical_slices_give_inf_or_are_left_out_of_the_mean() -> None:
    pred, gt = _slices(seed=3), _slices(seed=4)
    pred[0] = gt[0]
    assert score(pred, gt)["psnr"] == np.inf
    finite = score(pred, gt, skip_inf=True)["psnr"]
    assert np.isfinite(finite) and finite == pytest.approx(score(pred[1:], gt[1:])["psnr"])
    assert score(gt, gt, skip_inf=True)["psnr"] == np.inf
    assert capped_psnr(gt[0], gt[0]) == 100.0


def test_fidelity_of_a_run_against_its_reference() -> None:
    src, gt = _slices(seed=5), _slices(seed=6)
    calls: list[int] = []

    def reference(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return np.tanh(x)

    same = fidelity(reference, src, gt, reference=reference)
    assert same["slices"] == 3 and same["psnr_drop"] == 0.0 and same["agreement_psnr"] == 100.0
    assert set(calls) == {1}  # batch 1: exported artifacts have a static batch
    worse = fidelity(lambda x: np.tanh(x) * 0.5, src, gt, reference=reference)
    assert worse["agreement_psnr"] < 100.0 and worse["fp32_psnr"] == same["psnr"]
    assert set(fidelity(reference, src, gt)) == {"slices", "psnr", "ssim", "mae"}


def test_head_masks_threshold_in_the_slices_own_precision() -> None:
    ct = np.full((1, 1, 32, 32), -1.0, np.float32)
    ct[0, 0, 8:24, 8:24] = 0.0  # a head: 127.5 on the 0..255 scale
    mr = np.full_like(ct, -1.0)
    (mask,) = head_masks(ct, mr)
    assert mask.sum() == 16 * 16 and mask[16, 16] and not mask[0, 0]


def test_validation_scores_and_by_direction() -> None:
    mr = torch.from_numpy(_slices(4, seed=7))
    val = SliceSet(names=list("abcd"), patients=["1"] * 4, ct=-mr, mr=mr)
    out = validation_scores({"mr2ct": lambda x: -x, "ct2mr": lambda x: x * 0.0}, val, max_slices=2)
    assert out["sct_psnr"] == np.inf and out["sct_iou_threshold"] == 20.0
    assert out["score"] == pytest.approx(0.5 * (out["sct_ssim"] + out["smr_ssim"]))
    flat = by_direction({"mr2ct": {"psnr": 30.0}, "ct2mr": {"psnr": 20.0}})
    assert flat == {"sct_psnr": 30.0, "smr_psnr": 20.0, "mean_psnr": 25.0}
