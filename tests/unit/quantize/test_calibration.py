from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sccg_edge.data.pairs import list_pairs
from sccg_edge.data.splits import split_records, write_manifest
from sccg_edge.errors import InputError
from sccg_edge.quantize.calibration import (
    BANDS,
    CalibrationSet,
    read_calibration_manifest,
    select_slices,
    slice_positions,
    write_calibration_manifest,
)


def test_stratified_manifest_covers_the_head_from_calibration_patients_only(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "calib.json"
    summary = write_calibration_manifest(tiny_data, out, n=6)
    splits = split_records(list_pairs(tiny_data))
    calib_patients = {r.patient for r in splits["calibration"]}
    doc = json.loads(out.read_text())
    assert summary["slices"] == 6 and len(doc["slices"]) == 6
    assert {s["patient"] for s in doc["slices"]} <= calib_patients
    assert not calib_patients & {r.patient for r in splits["test"] + splits["val"]}
    assert all(doc["bands"][b] >= 1 for b in BANDS)
    assert all(len(s["ct_sha256"]) == 64 and len(s["mr_sha256"]) == 64 for s in doc["slices"])
    records = read_calibration_manifest(out)
    assert [r.name for r in records] == [s["name"] for s in doc["slices"]]


def test_random_strategy_differs_from_stratified(tiny_data: Path) -> None:
    calib = split_records(list_pairs(tiny_data))["calibration"]
    pos = np.asarray(slice_positions(calib))
    strat = select_slices(calib, 3, "stratified")
    assert pos[strat].min() < 1 / 3 and pos[strat].max() > 2 / 3
    assert len(select_slices(calib, 3, "random", seed=1)) == 3
    with pytest.raises(InputError, match="strategy"):
        select_slices(calib, 3, "nope")


def test_too_small_size_and_set_are_refused(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least 4"):
        write_calibration_manifest(tiny_data, tmp_path / "c.json", n=2)
    with pytest.raises(InputError, match="has 0 slices"):
        CalibrationSet([])


def test_manifest_with_test_patient_slices_is_refused_naming_them(tiny_data: Path, tmp_path: Path) -> None:
    splits = split_records(list_pairs(tiny_data))
    bad = tmp_path / "bad.json"
    write_manifest(splits["calibration"][:4] + splits["test"][:2], bad, "calibration", root=tiny_data)
    with pytest.raises(InputError, match=splits["test"][0].name) as err:
        read_calibration_manifest(bad)
    assert "test patient" in str(err.value)


def test_hash_mismatch_names_the_file(tiny_data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(tiny_data, copy)
    out = tmp_path / "calib.json"
    write_calibration_manifest(copy, out, n=4)
    first = json.loads(out.read_text())["slices"][0]["ct"]
    target = copy / first
    target.write_bytes(target.read_bytes() + b"\0")
    with pytest.raises(InputError, match="changed since manifest") as err:
        read_calibration_manifest(out)
    assert str(target.name) in str(err.value)


def test_calibration_set_adapters_agree() -> None:
    items = [np.full((1, 1, 8, 8), i / 10, np.float32) for i in range(5)]
    calib = CalibrationSet(items, transform_fn=lambda a: a * 2)
    reader = calib.data_reader("input")
    fed = []
    while (batch := reader.get_next()) is not None:
        fed.append(batch["input"])
    assert len(fed) == 5 and np.allclose(fed[3], 0.6)
    nncf_items = list(calib.to_nncf().get_inference_data())
    assert np.allclose(nncf_items[4], 0.8)
    seen = []
    calib.forward_loop(lambda t: seen.append(float(t.mean())))
    assert np.allclose(seen, [0.0, 0.2, 0.4, 0.6, 0.8])
