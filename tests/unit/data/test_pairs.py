"""Paired slice sources: the real PNG pair folder, the per-patient DICOM layout, and bad layouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from sccg_edge.data.pairs import PairRecord, list_pairs, load_pair, patient_of
from sccg_edge.errors import InputError
from tests.conftest import snapshot


@pytest.fixture(scope="module")
def phantom_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    phantom = pytest.importorskip("sccg_edge.data.phantom")
    out = tmp_path_factory.mktemp("phantom") / "data"
    phantom.write_phantom_dataset(out, patients=2, size=32, seed=3, slices=4)
    return out


def _copy_pairs(src: Path, dest: Path, names: list[str]) -> Path:
    for sub in ("ct", "mr"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
        for n in names:
            shutil.copy2(src / sub / n, dest / sub / n)
    return dest


def test_patient_of() -> None:
    assert patient_of("16003") == "16"
    assert patient_of("2005") == "2"
    assert patient_of("p000") == "p000"


def test_real_png_pairs(pairs_root: Path) -> None:
    records = list_pairs(pairs_root)
    assert len(records) == 144
    assert records == list_pairs(pairs_root)  # deterministic
    assert [r.name for r in records] == sorted(r.name for r in records)
    assert {r.patient for r in records} == {"2", "16", "20", "21", "28", "32", "33", "34"}
    rec = next(r for r in records if r.name == "16003")
    assert rec.patient == "16" and rec.ct.name == rec.mr.name == "16003.png" and rec.index == 0
    ct, mr = load_pair(rec)
    assert ct.shape == mr.shape == (256, 256) and ct.dtype == mr.dtype == np.float32
    assert 0.0 <= ct.min() and ct.max() <= 1.0 and mr.max() > 0.5


def test_unmatched_png_names(tmp_path: Path, pairs_root: Path) -> None:
    root = _copy_pairs(pairs_root, tmp_path / "pairs", ["16003.png", "16004.png", "16005.png"])
    (root / "mr" / "16004.png").unlink()
    before = snapshot(root)
    with pytest.raises(InputError, match="16004.png") as info:
        list_pairs(root)
    assert "pairs" in str(info.value) and snapshot(root) == before


def test_rgb_png_is_converted_to_grey(tmp_path: Path, pairs_root: Path) -> None:
    from PIL import Image

    root = _copy_pairs(pairs_root, tmp_path / "pairs", ["16003.png"])
    grey = np.asarray(Image.open(root / "mr" / "16003.png"))
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(root / "mr" / "16003.png")
    (rec,) = list_pairs(root)
    _, mr = load_pair(rec)
    assert mr.shape == grey.shape
    np.testing.assert_allclose(mr, grey / 255.0, atol=1 / 255.0 + 1e-6)


def test_phantom_dicom_layout(phantom_root: Path) -> None:
    from sccg_edge.data.dicom import slice_tags

    records = list_pairs(phantom_root)
    assert [r.name for r in records] == [f"p00{p}_00{k}" for p in range(2) for k in range(4)]
    assert {r.patient for r in records} == {"p000", "p001"}
    for rec in records[:4]:  # slice k of CT sits where slice k of MR sits
        ct_pos = slice_tags(rec.ct)["ImagePositionPatient"]
        assert np.allclose(ct_pos, slice_tags(rec.mr)["ImagePositionPatient"])
    z = [slice_tags(r.ct)["ImagePositionPatient"][2] for r in records[:4]]
    assert z == sorted(z) or z == sorted(z, reverse=True)
    ct, mr = load_pair(records[2])
    assert ct.shape == mr.shape == (32, 32)
    assert 0.0 <= ct.min() and ct.max() <= 1.0 and mr.max() == pytest.approx(1.0)


def test_swapped_ct_and_mr_is_an_error(phantom_root: Path) -> None:
    rec = list_pairs(phantom_root)[0]
    swapped = PairRecord(name=rec.name, patient=rec.patient, ct=rec.mr, mr=rec.ct)
    with pytest.raises(InputError, match="Modality is MR"):
        load_pair(swapped)


def test_unknown_and_empty_layouts(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_bytes(b"x")
    with pytest.raises(InputError, match="accepted layouts") as info:
        list_pairs(tmp_path)
    assert "ct/*.png" in str(info.value) and "<patient>/ct" in str(info.value)
    (tmp_path / "ct").mkdir()
    (tmp_path / "mr").mkdir()
    with pytest.raises(InputError, match="no .png files"):
        list_pairs(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        list_pairs(tmp_path / "missing")
