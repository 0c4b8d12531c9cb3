"""DICOM series reader on real files: sorting, units, multi-frame, compression, and every bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from sccg_edge.data.dicom import iter_slices, list_series, read_series, scan_series, translate_pixel_error
from sccg_edge.errors import InputError
from tests.conftest import snapshot

pydicom = pytest.importorskip("pydicom")
get_testdata_file = pydicom.data.get_testdata_file


def _testfile(name: str) -> Path:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} not available (install pydicom-data)")
    return Path(path)


def _copy(files: list[Path], dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, dest / f.name)
    return dest


def _raises_naming(where: Path, fn, *args, match: str = "", **kwargs) -> str:
    """Call ``fn`` expecting an InputError that names ``where`` and leaves every file under it byte-identical."""
    before = snapshot(where)
    with pytest.raises(InputError, match=match) as info:
        fn(*args, **kwargs)
    assert snapshot(where) == before
    message = str(info.value)
    assert where.name in message, message
    return message


# ---------------------------------------------------------------------------------------------- real series


def test_head_ct_sorted_by_position_in_hu(head_ct_dir: Path) -> None:
    series = read_series(head_ct_dir)
    assert series.modality == "CT"
    assert series.volume.shape == (34, 512, 512) and series.volume.dtype == np.float32
    z = series.positions[:, 2]
    assert np.all(np.diff(z) > 0), "slices must be sorted along the normal"
    assert series.spacing[0] == pytest.approx(5.0, abs=1e-3)
    assert series.spacing[1:] == pytest.approx((0.488281, 0.488281), abs=1e-5)
    names = [f.name for f in series.files]
    assert names != sorted(names), "file-name order is not position order for this series"
    assert -1100 < np.percentile(series.volume, 1) < -900  # air
    assert 0 < np.median(series.volume[17][200:300, 200:300]) < 80  # brain tissue in HU
    assert len(series.tags) == 34 and series.tags[0]["RescaleIntercept"] == -1024.0
    assert not any(k.startswith("Patient") for k in series.tags[0])
    header = series.header(0)
    assert "PixelData" not in header and header.SOPInstanceUID == series.tags[0]["SOPInstanceUID"]


def test_porcine_mr_ignores_license_file(porcine_t2_dir: Path) -> None:
    assert any(p.suffix != ".dcm" for p in porcine_t2_dir.iterdir())
    uids = list_series(porcine_t2_dir)
    assert len(uids) == 1 and len(next(iter(uids.values()))) == 16
    series = read_series(porcine_t2_dir)
    assert series.modality == "MR" and series.volume.shape == (16, 512, 512)
    assert series.spacing[0] == pytest.approx(2.5, abs=1e-3)
    assert np.isfinite(series.volume).all() and series.volume.max() > 100


def test_iter_slices_streams_the_same_sorted_slices(porcine_t2_dir: Path) -> None:
    info = scan_series(porcine_t2_dir)
    stream = iter_slices(info)
    assert not isinstance(stream, (list, tuple))
    first = next(stream)
    volume = read_series(porcine_t2_dir).volume
    np.testing.assert_array_equal(first, volume[0])
    rest = list(stream)
    assert len(rest) == 15
    np.testing.assert_array_equal(rest[-1], volume[-1])


def test_single_file_is_a_one_slice_series(dicom_singles: Path) -> None:
    series = read_series(dicom_singles / "ct.dcm")
    assert series.volume.shape == (1, 512, 512) and series.modality == "CT"
    assert series.volume.min() >= -1100  # padding outside the field of view becomes air


def test_multiframe_stacked_frames() -> None:
    series = read_series(_testfile("emri_small.dcm"))
    assert series.volume.shape == (10, 64, 64) and series.modality == "MR"
    assert series.frames == list(range(10))
    assert series.spacing[0] == pytest.approx(1.2)


def test_multiframe_per_frame_positions_sorted_along_normal() -> None:
    series = read_series(_testfile("eCT_Supplemental.dcm"))
    assert series.volume.shape == (2, 512, 512) and series.modality == "CT"
    normal = np.cross(series.orientation[:3], series.orientation[3:])
    offsets = series.positions @ normal
    assert np.all(np.diff(offsets) > 0)
    assert series.spacing[0] == pytest.approx(10.0)


@pytest.mark.parametrize(("compressed", "plain"), [
    ("693_J2KR.dcm", "693_UNCR.dcm"),  # JPEG 2000 lossless head CT
    ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),  # JPEG-LS lossless
    ("emri_small_jpeg_2k_lossless.dcm", "emri_small.dcm"),  # compressed multi-frame, decoded frame by frame
])
def test_lossless_compressed_decodes_to_the_uncompressed_pixels(compressed: str, plain: str) -> None:
    got, want = read_series(_testfile(compressed)), read_series(_testfile(plain))
    assert got.modality == want.modality
    np.testing.assert_array_equal(got.volume, want.volume)


def test_jpeg_extended_lossy_decodes() -> None:
    volume = read_series(_testfile("JPGExtended.dcm")).volume
    assert volume.shape == (1, 1024, 256) and np.isfinite(volume).all() and volume.std() > 0


# ---------------------------------------------------------------------------------------------- bad inputs


def test_not_dicom_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    _raises_naming(bad, read_series, bad, match="not a DICOM file")


def test_folder_without_dicom_and_empty_folder(tmp_path: Path, porcine_t2_dir: Path) -> None:
    only_license = _copy([p for p in porcine_t2_dir.iterdir() if p.suffix == ".txt"], tmp_path / "lic")
    _raises_naming(only_license, read_series, only_license, match="no DICOM image series")
    empty = tmp_path / "empty"
    empty.mkdir()
    _raises_naming(empty, read_series, empty, match="empty folder")


@pytest.mark.parametrize("cut", [0.5, 0.99])
def test_truncated_file(tmp_path: Path, head_ct_dir: Path, cut: float) -> None:
    data = (head_ct_dir / "I10.dcm").read_bytes()
    bad = tmp_path / "I10.dcm"
    bad.write_bytes(data[: int(len(data) * cut)])
    _raises_naming(bad, read_series, bad, match="truncated|corrupt")


def test_truncated_pixel_data(tmp_path: Path) -> None:
    bad = _copy([_testfile("MR_truncated.dcm")], tmp_path) / "MR_truncated.dcm"
    _raises_naming(bad, read_series, bad, match="truncated")


def test_tiny_dcm_in_folder_is_an_error(tmp_path: Path, porcine_t2_dir: Path) -> None:
    folder = _copy(sorted(porcine_t2_dir.glob("*.dcm"))[:3], tmp_path / "s")
    (folder / "broken.dcm").write_bytes(b"\0" * 60)
    message = _raises_naming(folder, read_series, folder, match="not a DICOM file")
    assert "broken.dcm" in message


def test_missing_pixel_data(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_testfile("CT_small.dcm"))
    del ds.PixelData
    bad = tmp_path / "nopix.dcm"
    ds.save_as(bad)
    _raises_naming(bad, read_series, bad, match="no pixel data")


@pytest.mark.parametrize("name", ["rtstruct.dcm", "test-SR.dcm"])
def test_non_image_object(tmp_path: Path, name: str) -> None:
    bad = _copy([_testfile(name)], tmp_path) / name
    _raises_naming(bad, read_series, bad, match="non-image")


def test_two_series_mixed(tmp_path: Path, head_ct_dir: Path, porcine_t2_dir: Path) -> None:
    folder = _copy(sorted(head_ct_dir.glob("*.dcm")) + sorted(porcine_t2_dir.glob("*.dcm")), tmp_path / "mixed")
    message = _raises_naming(folder, read_series, folder, match="--series")
    uids = list_series(folder)
    assert len(uids) == 2 and all(uid in message for uid in uids)
    assert "CT" in message and "MR" in message and "34 files" in message and "16 files" in message
    mr_uid = next(u for u, files in uids.items() if len(files) == 16)
    assert read_series(folder, series_uid=mr_uid).modality == "MR"
    _raises_naming(folder, read_series, folder, series_uid="1.2.3", match="no series 1.2.3")


def test_missing_slice_is_a_spacing_error(tmp_path: Path, head_ct_dir: Path) -> None:
    files = scan_series(head_ct_dir).files
    folder = _copy(files[:17] + files[18:], tmp_path / "gap")
    message = _raises_naming(folder, read_series, folder, match="spacing is inconsistent")
    assert files[16].name in message and files[18].name in message


def test_duplicate_slice_position(tmp_path: Path, porcine_t2_dir: Path) -> None:
    files = sorted(porcine_t2_dir.glob("*.dcm"))
    folder = _copy(files, tmp_path / "dup")
    shutil.copy2(files[3], folder / "copy_of_slice.dcm")
    _raises_naming(folder, read_series, folder, match="share one position")


@pytest.mark.parametrize(("keyword", "value", "match"), [
    ("ImageOrientationPatient", [0, 1, 0, 0, 0, -1], "ImageOrientationPatient differs"),
    ("Columns", 256, "Rows/Columns differs"),
])
def test_inconsistent_geometry(tmp_path: Path, porcine_t2_dir: Path, keyword: str, value, match: str) -> None:
    folder = _copy(sorted(porcine_t2_dir.glob("*.dcm")), tmp_path / "geom")
    victim = sorted(folder.glob("*.dcm"))[5]
    ds = pydicom.dcmread(victim)
    setattr(ds, keyword, value)
    ds.save_as(victim)
    message = _raises_naming(folder, read_series, folder, match=match)
    assert victim.name in message


def test_nan_after_rescale(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_testfile("CT_small.dcm"))
    pixels = ds.pixel_array.astype(np.float32)
    pixels[3, 3] = np.nan
    del ds.PixelData
    del ds.PixelRepresentation
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    ds.FloatPixelData = pixels.tobytes()
    bad = tmp_path / "nan.dcm"
    ds.save_as(bad)
    _raises_naming(bad, read_series, bad, match="NaN")


@pytest.mark.parametrize(("name", "package"), [
    ("MR_small_jp2klossless.dcm", "pylibjpeg-openjpeg"),
    ("JPGExtended.dcm", "pylibjpeg-libjpeg"),
])
def test_missing_decoder_error_is_translated(name: str, package: str) -> None:
    """pydicom's real 'missing dependencies' error, provoked by asking for the (absent) gdcm plugin."""
    from pydicom.pixels import pixel_array

    path = _testfile(name)
    try:
        pixel_array(path, decoding_plugin="gdcm")
    except RuntimeError as exc:
        err = translate_pixel_error(exc, path, str(pydicom.dcmread(path).file_meta.TransferSyntaxUID))
    else:
        pytest.skip("python-gdcm is installed, so its plugin is not missing")
    assert isinstance(err, InputError)
    assert name in str(err) and package in str(err) and "pip install" in str(err)
