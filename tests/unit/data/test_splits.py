"""Patient-level splits (no patient in two splits, deterministic) and hashed manifests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sccg_edge.data.pairs import PairRecord, list_pairs
from sccg_edge.data.splits import (
    DEFAULT_SHARED_SPLIT,
    SplitSpec,
    auto_split,
    read_manifest,
    spec_from_lists,
    split_records,
    write_manifest,
)
from sccg_edge.errors import ConfigError, InputError


def _fake_records(patients: list[str], per: int = 3) -> list[PairRecord]:
    return [PairRecord(name=f"{p}_{k:03d}", patient=p, ct=Path(f"/x/{p}/ct/{k}.dcm"), mr=Path(f"/x/{p}/mr/{k}.dcm"))
            for p in patients for k in range(per)]


def _patients(split: list[PairRecord]) -> set[str]:
    return {r.patient for r in split}


def _assert_disjoint(splits: dict[str, list[PairRecord]]) -> None:
    train, val, test = (_patients(splits[k]) for k in ("train", "val", "test"))
    assert not (train & val) and not (train & test) and not (val & test)
    assert _patients(splits["calibration"]) <= train


def test_default_shared_split_on_real_pairs(pairs_root: Path) -> None:
    records = list_pairs(pairs_root)
    splits = split_records(records)
    _assert_disjoint(splits)
    assert _patients(splits["val"]) == {"33"} and _patients(splits["test"]) == {"34"}
    assert _patients(splits["calibration"]) == {"32"}
    assert sum(len(splits[k]) for k in ("train", "val", "test")) == len(records)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 12])
def test_auto_split_is_deterministic_and_disjoint(n: int) -> None:
    patients = [f"p{i:03d}" for i in range(n)]
    records = _fake_records(patients)
    splits = split_records(records, seed=5)
    assert splits == split_records(records, seed=5)
    _assert_disjoint(splits)
    assert splits["train"] and len(_patients(splits["calibration"])) == 1
    assert bool(splits["test"]) == (n >= 2) and bool(splits["val"]) == (n >= 3)
    assert sum(len(splits[k]) for k in ("train", "val", "test")) == len(records)


def test_auto_split_depends_on_seed() -> None:
    patients = [f"p{i:03d}" for i in range(10)]
    assert len({auto_split(patients, seed=s).test for s in range(6)}) > 1


def test_bad_specs() -> None:
    with pytest.raises(ConfigError, match="both train and test"):
        SplitSpec(train=("1", "2"), test=("2",))
    with pytest.raises(ConfigError, match="not training patients"):
        SplitSpec(train=("1",), val=("2",), calibration=("2",))
    with pytest.raises(ConfigError, match=r"\['9'\]"):
        split_records(_fake_records(["2", "9"]), spec=DEFAULT_SHARED_SPLIT)


def test_manifest_round_trip_and_tamper(tmp_path: Path, pairs_root: Path) -> None:
    data = tmp_path / "data"
    for sub in ("ct", "mr"):
        (data / sub).mkdir(parents=True)
        for name in ("32003.png", "32006.png"):
            shutil.copy2(pairs_root / sub / name, data / sub / name)
    records = list_pairs(data)
    path = write_manifest(records, tmp_path / "calib.json", "calibration")
    doc = json.loads(path.read_text())
    assert doc["split"] == "calibration" and doc["patients"] == ["32"]
    assert set(doc["slices"][0]) == {"name", "patient", "index", "ct", "ct_sha256", "mr", "mr_sha256"}
    assert doc["slices"][0]["ct"] == "ct/32003.png" and len(doc["slices"][0]["ct_sha256"]) == 64
    split, back = read_manifest(path)
    assert split == "calibration" and back == records
    moved = tmp_path / "moved"
    shutil.copytree(data, moved)
    assert read_manifest(path, root=moved)[1][0].ct == moved / "ct" / "32003.png"
    (data / "mr" / "32006.png").write_bytes(b"changed")
    with pytest.raises(InputError, match="changed since manifest") as info:
        read_manifest(path)
    assert "32006.png" in str(info.value)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="bad.json"):
        read_manifest(tmp_path / "bad.json")


def test_split_from_patient_lists() -> None:
    records = _fake_records(["1", "2", "3", "4"])
    spec = spec_from_lists(("1", "2"), val=("3",), test=("4",))
    assert spec == SplitSpec(train=("1", "2"), val=("3",), test=("4",), calibration=("2",))
    splits = split_records(records, spec)
    assert {r.patient for r in splits["val"]} == {"3"} and {r.patient for r in splits["calibration"]} == {"2"}
    assert spec_from_lists(()) is None
    with pytest.raises(ConfigError, match="train_patients is empty"):
        spec_from_lists((), test=("4",))
    with pytest.raises(ConfigError, match=r"\['4'\] are in no split"):
        split_records(records, spec_from_lists(("1", "2"), val=("3",)))
    with pytest.raises(ConfigError, match=r"\['7'\] of the split are not in the data"):
        split_records(records, spec_from_lists(("1", "2", "7"), val=("3",), test=("4",)))
