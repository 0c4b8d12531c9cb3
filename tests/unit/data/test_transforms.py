"""Pure array transforms: each forward transform against its inverse, on synthetic arrays."""

from __future__ import annotations

import numpy as np
import pytest

from sccg_edge.data.transforms import (
    CT_WINDOW_DEFAULT,
    CT_WINDOWS,
    ct_window_to_unit,
    fit_to_size,
    model_to_unit,
    mr_to_unit,
    restore_from_fit,
    unit_to_ct_hu,
    unit_to_model,
    unit_to_mr,
)


def test_ct_window_round_trip_exact_inside_and_clipped_outside() -> None:
    hu = np.array([-3000.0, -1000.0, -1.5, 0.0, 40.0, 1999.0, 2000.0, 5000.0], dtype=np.float32)
    unit = ct_window_to_unit(hu, CT_WINDOW_DEFAULT)
    assert unit.dtype == np.float32 and unit.min() == 0.0 and unit.max() == 1.0
    back = unit_to_ct_hu(unit, CT_WINDOW_DEFAULT)
    inside = (hu >= -1000) & (hu <= 2000)
    np.testing.assert_allclose(back[inside], hu[inside], atol=1e-3)
    assert back[0] == -1000.0 and back[-1] == 2000.0


def test_brain_window_maps_level_to_half() -> None:
    lo, hi = CT_WINDOWS["brain"]
    assert ct_window_to_unit(np.array([(lo + hi) / 2]), (lo, hi))[0] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        ct_window_to_unit(np.zeros(2), (80.0, 0.0))


def test_mr_percentile_scaling_and_inverse() -> None:
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 200.0, size=(32, 32)).astype(np.float32)
    x[0, 0] = 1e6  # one hot pixel must not squash the image
    unit, scale = mr_to_unit(x)
    assert unit.min() == 0.0 and unit.max() == 1.0 and 0.1 < np.median(unit) < 0.6
    back = unit_to_mr(unit, scale)
    inside = (x >= scale.lo) & (x <= scale.hi)
    np.testing.assert_allclose(back[inside], x[inside], rtol=1e-5, atol=1e-2)
    flat, _ = mr_to_unit(np.full((4, 4), 7.0))
    assert np.all(flat == 0.0)


def test_model_range_inverse() -> None:
    u = np.linspace(0, 1, 11, dtype=np.float32)
    m = unit_to_model(u)
    assert m[0] == -1.0 and m[-1] == 1.0
    np.testing.assert_allclose(model_to_unit(m), u, atol=1e-7)


@pytest.mark.parametrize("shape", [(40, 30), (30, 40), (64, 64), (20, 20), (33, 17)])
def test_fit_to_size_and_restore(shape: tuple[int, int]) -> None:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    img = 0.5 + 0.4 * np.sin(yy / shape[0] * np.pi) * np.cos(xx / shape[1] * np.pi)  # smooth
    out, info = fit_to_size(img, 32)
    assert out.shape == (32, 32) and out.dtype == np.float32
    assert max(info.scaled_shape) == 32
    back = restore_from_fit(out, info)
    assert back.shape == shape
    assert np.abs(back - img).max() < 0.05


@pytest.mark.parametrize(("shape", "out"), [((512, 512), (256, 256)), ((256, 256), (512, 512)),
                                           ((512, 400), (256, 200)), ((300, 512), (150, 256)),
                                           ((1024, 768), (256, 192)), ((40, 33), (77, 64)), ((512, 512), (512, 256)),
                                           ((7, 300), (20, 100)), ((512, 300), (256, 600)), ((2, 2), (1, 1))])
def test_resize_gives_scikit_image_numbers(shape: tuple[int, int], out: tuple[int, int]) -> None:
    """The training slices were resized by scikit-image; the convert path's own resize must give the same numbers
    (to float32 rounding) for shrinking, growing and mixed factors, on noise, where any offset or kernel error shows."""
    from skimage.transform import resize

    from sccg_edge.data.transforms import _resize

    img = np.random.default_rng(sum(shape)).random(shape).astype(np.float32) * 3 - 1
    shrinking = out[0] < shape[0] or out[1] < shape[1]
    want = resize(img, out, order=1, mode="edge", anti_aliasing=shrinking, preserve_range=True).astype(np.float32)
    got = _resize(img, out)
    assert got.shape == out and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_fit_to_size_identity_at_target_size_and_pads_with_fill() -> None:
    img = np.random.default_rng(1).random((32, 32)).astype(np.float32)
    out, info = fit_to_size(img, 32)
    np.testing.assert_array_equal(out, img)
    np.testing.assert_array_equal(restore_from_fit(out, info), img)
    wide, info = fit_to_size(np.ones((16, 32), np.float32), 32, fill=-1.0)
    assert info.top == 8 and np.all(wide[:8] == -1.0) and np.all(wide[8:24] == 1.0)
