"""CT-onto-MR registration: recovers a known shift of a real-looking pair, refuses what it cannot improve."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("SimpleITK", reason="SimpleITK (the [register] extra) is not installed")

from sccg_edge.backends.tta import with_tta  # noqa: E402
from sccg_edge.data.phantom import make_phantom_patient  # noqa: E402
from sccg_edge.data.register import register_pair  # noqa: E402
from sccg_edge.data.transforms import CT_WINDOWS, ct_window_to_unit  # noqa: E402
from sccg_edge.metrics import head_mask_from_uint8  # noqa: E402


def _pair():
    p = make_phantom_patient(seed=3, size=128, slices=5)
    ct = ct_window_to_unit(p.ct[2], CT_WINDOWS["brain"])
    mr = p.mr[2] / np.percentile(p.mr[2], 99.5)
    return ct.astype(np.float32), np.clip(mr, 0, 1).astype(np.float32)


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_registration_undoes_a_known_shift(tmp_path, monkeypatch):
    monkeypatch.setenv("SCCG_CACHE_DIR", str(tmp_path))
    ct, mr = _pair()
    moved = np.roll(ct, (4, -3), axis=(0, 1))
    reg = register_pair(moved, mr, "rigid")
    assert reg.accepted and reg.reason == "ok" and reg.mi_after > reg.mi_before
    assert reg.shift_px == pytest.approx(5.0, abs=1.0) and abs(reg.rotation_deg) < 2.0
    mr_head = head_mask_from_uint8(mr * 255)
    assert _iou(head_mask_from_uint8(reg.ct * 255), mr_head) > _iou(head_mask_from_uint8(moved * 255), mr_head)
    again = register_pair(moved, mr, "rigid")  # from the cache, identical
    assert np.array_equal(again.ct, reg.ct) and list(tmp_path.rglob("*.npz"))


def test_registration_keeps_the_raw_ct_without_a_head(tmp_path, monkeypatch):
    monkeypatch.setenv("SCCG_CACHE_DIR", str(tmp_path))
    ct, mr = _pair()
    reg = register_pair(np.zeros_like(ct), mr, "affine")
    assert not reg.accepted and np.array_equal(reg.ct, np.zeros_like(ct))


def test_flip_tta_is_exact_for_a_mirror_equivariant_model_and_averages_otherwise():
    x = np.random.default_rng(0).normal(size=(2, 1, 8, 6)).astype(np.float32)
    assert np.allclose(with_tta(lambda a: 2 * a, "flip")(x), 2 * x)
    ramp = np.arange(6, dtype=np.float32)  # a model that adds a left-to-right ramp: TTA cancels its asymmetry
    out = with_tta(lambda a: a + ramp, "flip")(x)
    assert np.allclose(out, x + ramp.mean())
