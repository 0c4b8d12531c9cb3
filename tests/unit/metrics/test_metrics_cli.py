"""``sccg-edge metrics`` end to end on real image pairs: values agree with scikit-image; bad inputs fail cleanly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sccg_edge.cli import main
from sccg_edge.metrics import head_mask_from_uint8, image_metrics
from tests.conftest import snapshot

NAMES = ("16010.png", "20012.png", "33015.png")


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path), dtype=np.float64)


@pytest.fixture()
def folders(pairs_root: Path, tmp_path: Path) -> tuple[Path, Path]:
    """pred/: two real MR slices and one blurred + noised real CT; gt/: copies of the real CTs."""
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    rng = np.random.default_rng(0)
    for i, name in enumerate(NAMES):
        shutil.copy(pairs_root / "ct" / name, gt / name)
        if i < 2:
            shutil.copy(pairs_root / "mr" / name, pred / name)
        else:
            blurred = ndimage.gaussian_filter(_load(pairs_root / "ct" / name), 1.5) + rng.normal(0, 5, (256, 256))
            Image.fromarray(np.clip(np.rint(blurred), 0, 255).astype(np.uint8)).save(pred / name)
    return pred, gt


def _run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["metrics", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _run_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["metrics", *args]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == "" and err.startswith("error: ") and "\n" not in err
    return err


def test_json_agrees_with_skimage(folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pred, gt = folders
    out = _run_json(capsys, str(pred), str(gt))
    assert out["scale"] == "uint8" and out["n"] == 3 and out["iou_threshold"] == "iou@20"
    assert [row["name"] for row in out["images"]] == list(NAMES)
    for row in out["images"]:
        p, g = _load(pred / row["name"]), _load(gt / row["name"])
        assert row["psnr"] == pytest.approx(peak_signal_noise_ratio(g, p, data_range=255), abs=1e-6)
        assert row["ssim"] == pytest.approx(structural_similarity(g, p, data_range=255), abs=1e-6)
        assert row["mae"] == pytest.approx(np.mean(np.abs(p - g)), abs=1e-9)
        assert row["iou"] == pytest.approx(np.sum((p > 20) & (g > 20)) / np.sum((p > 20) | (g > 20)), abs=1e-9)
    for key in ("psnr", "ssim", "mae", "iou"):
        assert out["mean"][key] == pytest.approx(np.mean([r[key] for r in out["images"]]), abs=1e-9)
    blurred = out["images"][2]
    assert blurred["ssim"] > max(r["ssim"] for r in out["images"][:2])  # a blurred CT beats an MR


def test_head_mask_option(folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pred, gt = folders
    out = _run_json(capsys, str(pred), str(gt), "--head-mask")
    assert out["mask"].startswith("head mask")
    g, p = _load(gt / NAMES[0]), _load(pred / NAMES[0])
    expected = image_metrics(p, g, mask=head_mask_from_uint8(g))
    for key in ("psnr", "ssim", "mae", "iou"):
        assert out["images"][0][key] == pytest.approx(expected[key], abs=1e-9)


def test_table_output(folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pred, gt = folders
    assert main(["metrics", str(pred), str(gt)]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in NAMES) and "mean" in text and "iou@20" in text


def test_dicom_ground_truth_identical_gives_null_psnr(dicom_singles: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    for sub in ("pred", "gt"):
        (tmp_path / sub).mkdir()
        shutil.copy(dicom_singles / "ct.dcm", tmp_path / sub / "slice.dcm")
    out = _run_json(capsys, str(tmp_path / "pred"), str(tmp_path / "gt"))
    row = out["images"][0]
    assert row["psnr"] is None and row["mae"] == 0.0 and row["ssim"] == pytest.approx(1.0)


def test_hu_scale_on_real_head_ct(head_ct_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pydicom

    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    shutil.copy(head_ct_dir / "I20.dcm", tmp_path / "gt" / "I20.dcm")
    ds = pydicom.dcmread(head_ct_dir / "I20.dcm")
    stored = ds.pixel_array.astype(np.int32) + np.random.default_rng(1).integers(-60, 60, (512, 512))
    stored[100:110, 100:110] = 4500  # 3476 HU: beyond the 3000 HU clip
    ds.set_pixel_data(np.clip(stored, -32768, 32767).astype(np.int16), "MONOCHROME2", 16)
    ds.save_as(tmp_path / "pred" / "I20.dcm")
    before = snapshot(tmp_path)
    out = _run_json(capsys, str(tmp_path / "pred"), str(tmp_path / "gt"), "--scale", "hu")
    assert out["iou_threshold"] == "iou@300HU" and out["mask"].startswith("body mask")
    gt_hu = pydicom.dcmread(head_ct_dir / "I20.dcm").pixel_array * 1.0 - 1024.0
    expected = image_metrics(stored - 1024.0, gt_hu, scale="hu")
    for key in ("psnr", "ssim", "mae", "iou"):
        assert out["images"][0][key] == pytest.approx(expected[key], abs=1e-6)
    assert snapshot(tmp_path) == before


def test_truncated_png(folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pred, gt = folders
    data = (pred / NAMES[1]).read_bytes()
    (pred / NAMES[1]).write_bytes(data[: len(data) // 2])
    before = snapshot(pred.parent)
    err = _run_error(capsys, str(pred), str(gt))
    assert str(pred / NAMES[1]) in err and "decode" in err
    assert snapshot(pred.parent) == before


def test_flipped_byte_png(folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pred, gt = folders
    data = bytearray((gt / NAMES[0]).read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the compressed image data
    (gt / NAMES[0]).write_bytes(bytes(data))
    before = snapshot(pred.parent)
    err = _run_error(capsys, str(pred), str(gt))
    assert str(gt / NAMES[0]) in err
    assert snapshot(pred.parent) == before


def test_empty_folder(folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, gt = folders
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    err = _run_error(capsys, str(empty), str(gt))
    assert str(empty) in err and "no images" in err


def test_mismatched_names(folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pred, gt = folders
    (pred / NAMES[0]).rename(pred / "99001.png")
    before = snapshot(pred.parent)
    err = _run_error(capsys, str(pred), str(gt))
    assert "99001" in err and "16010" in err and str(pred) in err and str(gt) in err
    assert snapshot(pred.parent) == before


def test_shape_mismatch_and_png_for_hu(folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pred, gt = folders
    err = _run_error(capsys, str(pred), str(gt), "--scale", "hu")
    assert "Hounsfield" in err and str(pred) in err
    Image.fromarray(np.zeros((128, 128), np.uint8)).save(pred / NAMES[2])
    before = snapshot(pred.parent)
    err = _run_error(capsys, str(pred), str(gt))
    assert str(pred / NAMES[2]) in err and "(128, 128)" in err and "(256, 256)" in err
    assert snapshot(pred.parent) == before
