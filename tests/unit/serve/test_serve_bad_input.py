"""Bad input over the wire gets a DICOM failure status or is quarantined with a reason; the node keeps serving."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.serve.conftest import done_records, echo, send, series_datasets, wait_for

NOT_SUPPORTED, NO_MATCH, NO_DECODER, INCONSISTENT = 0x0122, 0xA900, 0xC100, 0xC200


def _quarantined(spool: Path, series_uid: str, timeout: float = 20.0) -> dict:
    path = spool / "quarantine" / series_uid / "reason.json"
    wait_for(path.is_file, timeout, f"series {series_uid} to be quarantined")
    return json.loads(path.read_text())


def test_wrong_modality_and_non_image_objects_are_refused(make_node, phantom: Path) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    from pynetdicom.sop_class import EncapsulatedPDFStorage

    node = make_node()
    ct = series_datasets(phantom / "p000" / "ct")
    assert send(node.port, ct[:2]) == [NOT_SUPPORTED] * 2  # CT Image Storage on an mr2ct node
    mislabelled = series_datasets(phantom / "p000" / "mr")
    for ds in mislabelled:
        ds.Modality = "CT"  # MR Image Storage that says it is CT
    assert send(node.port, mislabelled) == [NO_MATCH] * 6
    pdf = Dataset()
    pdf.file_meta = FileMetaDataset()
    pdf.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    pdf.SOPClassUID, pdf.SOPInstanceUID = EncapsulatedPDFStorage, generate_uid()
    pdf.SeriesInstanceUID, pdf.Modality = generate_uid(), "DOC"
    pdf.EncapsulatedDocument = b"%PDF-1.4\n%%EOF\n"
    assert send(node.port, [pdf], contexts=[(EncapsulatedPDFStorage, [ExplicitVRLittleEndian])]) == [NOT_SUPPORTED]
    reason = _quarantined(node.cfg.spool, mislabelled[0].SeriesInstanceUID)
    assert "Modality" in reason["reason"]
    assert echo(node.port)
    good = series_datasets(phantom / "p001" / "mr")
    assert send(node.port, good) == [0] * 6
    wait_for(lambda: done_records(node.cfg.spool), 30, "the good series after the bad ones")
    assert node.status()["counters"]["instances_refused"] == 9


def test_missing_pixels_and_inconsistent_geometry_quarantine_the_series(make_node, phantom: Path, tmp_path: Path
                                                                         ) -> None:
    import pydicom

    from sccg_edge.data.phantom import write_phantom_dataset

    node = make_node()
    no_pixels = series_datasets(phantom / "p001" / "mr")
    del no_pixels[2].PixelData
    assert send(node.port, no_pixels) == [0, 0, NO_MATCH, 0, 0, 0]
    assert "no pixel data" in _quarantined(node.cfg.spool, no_pixels[0].SeriesInstanceUID)["reason"]

    write_phantom_dataset(tmp_path / "big", patients=1, size=40, slices=6)
    mixed = series_datasets(phantom / "p002" / "mr")
    other = pydicom.dcmread(sorted((tmp_path / "big" / "p000" / "mr").glob("*.dcm"))[3])
    other.SeriesInstanceUID, other.SOPInstanceUID = mixed[3].SeriesInstanceUID, mixed[3].SOPInstanceUID
    other.file_meta.MediaStorageSOPInstanceUID = other.SOPInstanceUID
    other.FrameOfReferenceUID = mixed[0].FrameOfReferenceUID
    mixed[3] = other  # 40x40 slice inside a 32x32 series
    assert send(node.port, mixed) == [0, 0, 0, INCONSISTENT, 0, 0]
    reason = _quarantined(node.cfg.spool, mixed[0].SeriesInstanceUID)
    assert "differs from the series" in reason["reason"] and len(reason["instances"]) == 5

    gap = series_datasets(phantom / "p003" / "mr")
    del gap[3]  # a missing slice: convert refuses the series, the node quarantines it with convert's reason
    assert send(node.port, gap) == [0] * 5
    assert "slice spacing is inconsistent" in _quarantined(node.cfg.spool, gap[0].SeriesInstanceUID)["reason"]
    assert not done_records(node.cfg.spool) and not list(node.cfg.out.iterdir())
    assert echo(node.port)
    wait_for(lambda: node.status()["counters"]["series_quarantined"] == 3, 5, "three quarantined series counted")


def test_compressed_pixels_without_a_decoder_are_refused(child_node, make_node, tmp_path: Path,
                                                         tiny_model: Path) -> None:
    """A node whose environment has no JPEG-LS decoder answers 0xC100; one with it takes and converts the file."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.uid import JPEGLSLossless
    from pynetdicom.sop_class import MRImageStorage

    ds = dcmread(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))
    contexts = [(MRImageStorage, [JPEGLSLossless])]
    # the child sees no JPEG-LS decoder package (pylibjpeg + libjpeg, pyjpegls, gdcm), as on a base install
    block = "import sys\nfor _m in ('pylibjpeg', 'libjpeg', 'openjpeg', 'jpeg_ls', 'gdcm'):\n    sys.modules[_m] = None"
    child = child_node(["--model", str(tiny_model), "--direction", "mr2ct", "--port", "0", "--host", "127.0.0.1",
                        "--out", str(tmp_path / "out-child"), "--idle-timeout", "0.5", "--threads", "1"],
                       tmp_path / "spool-child", prelude=block)
    assert send(child.port, [ds], contexts=contexts) == [NO_DECODER]
    assert "no decoder installed for JPEG-LS" in child.log.read_text()
    assert echo(child.port)

    node = make_node()
    assert send(node.port, [ds], contexts=contexts) == [0]
    record = wait_for(lambda: done_records(node.cfg.spool), 30, "the JPEG-LS instance to be converted")[0]
    assert record["n_slices"] == 1 and record["input_series_uid"] == ds.SeriesInstanceUID
