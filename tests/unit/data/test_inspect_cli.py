"""``sccg-edge data inspect`` and ``data phantom`` through the CLI entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sccg_edge.cli import main


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_inspect_head_ct(capsys: pytest.CaptureFixture[str], head_ct_dir: Path) -> None:
    info = _json(capsys, ["data", "inspect", str(head_ct_dir), "--json"])
    assert info["kind"] == "dicom-series" and info["modality"] == "CT"
    assert info["n_slices"] == 34 and (info["rows"], info["columns"]) == (512, 512)
    assert info["pixel_spacing"] == pytest.approx([0.488, 0.488], abs=1e-3)
    assert info["slice_spacing"] == pytest.approx(5.0, abs=1e-3)
    assert -1100 < info["p1"] < -900 and info["min"] >= -1100 and info["max"] > 1000
    assert info["series_uid_count"] == 1


def test_inspect_porcine_mr_table(capsys: pytest.CaptureFixture[str], porcine_t2_dir: Path) -> None:
    info = _json(capsys, ["data", "inspect", str(porcine_t2_dir), "--json"])
    assert info["modality"] == "MR" and info["n_slices"] == 16
    assert main(["data", "inspect", str(porcine_t2_dir)]) == 0
    out = capsys.readouterr().out
    assert "n_slices" in out and "16" in out


def test_inspect_png_pairs(capsys: pytest.CaptureFixture[str], pairs_root: Path) -> None:
    info = _json(capsys, ["data", "inspect", str(pairs_root), "--json"])
    assert info["kind"] == "png-pairs" and info["n_pairs"] == 144 and info["n_patients"] == 8
    assert info["image_size"] == [256, 256] and info["ct_values"]["max"] <= 1.0


def test_inspect_mixed_folder_needs_series(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           porcine_t2_dir: Path, dicom_singles: Path) -> None:
    for f in sorted(porcine_t2_dir.glob("*.dcm"))[:4]:
        shutil.copy2(f, tmp_path / f.name)
    shutil.copy2(dicom_singles / "ct.dcm", tmp_path / "ct.dcm")
    assert main(["data", "inspect", str(tmp_path), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--series" in err
    ct_uid = next(line for line in err.split("; ") if "(CT," in line).split(" (")[0].split()[-1]
    info = _json(capsys, ["data", "inspect", str(tmp_path), "--series", ct_uid, "--json"])
    assert info["modality"] == "CT" and info["n_slices"] == 1 and info["series_uid_count"] == 2


def test_inspect_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["data", "inspect", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_phantom_command_then_inspect(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("sccg_edge.data.phantom")
    out = tmp_path / "ph"
    summary = _json(capsys, ["data", "phantom", "--out", str(out), "--patients", "2", "--size", "32", "--json"])
    assert summary["patients"] == 2 and (out / "p000" / "ct").is_dir()
    info = _json(capsys, ["data", "inspect", str(out), "--json"])
    assert info["kind"] == "dicom-pairs" and info["n_patients"] == 2 and info["image_size"] == [32, 32]
    assert info["ct_values"]["min"] < -900
