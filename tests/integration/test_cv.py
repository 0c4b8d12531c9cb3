"""``sccg-edge cv`` end to end: folds train to their budget, are scored, resume, and refuse other options."""

from __future__ import annotations

import importlib.util
import json

import pytest

from sccg_edge.cli import main
from tests.conftest import TINY


@pytest.fixture(scope="module")
def five_patients(tmp_path_factory):
    from sccg_edge.data.phantom import write_phantom_dataset

    root = tmp_path_factory.mktemp("cv") / "data"
    write_phantom_dataset(root, patients=5, size=32, seed=1, slices=4)
    return root


def test_cv_trains_scores_resumes_and_refuses_other_options(five_patients, tmp_path, capsys):
    out = tmp_path / "study"
    sets = [x for pair in zip(["--set"] * 20, [a for a in TINY if a != "--set"]) for x in pair]
    args = ["cv", "--data", str(five_patients), "--folds", "2", "--budget-minutes", "0.02", "--out", str(out),
            "--json", *sets, "--set", "loss.lambda_cyc=0", "--set", "budget_clock=cpu", "--set", "loss.lambda_ssim=1"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["folds_done"] == [0, 1]
    assert all(f["cpu_s"] >= 0.02 * 60 and f["budget_clock"] == "cpu" for f in result["folds"])
    tested = [p for f in result["folds"] for p in f["test"]]
    assert sorted(tested) == sorted(set(tested)) and len(tested) == 5
    views = ["sct", "smr", "sct_tta", "smr_tta"]
    if importlib.util.find_spec("SimpleITK") is not None:
        views += ["sct_registered", "smr_registered"]
    for d in views:
        for m in ("psnr", "ssim", "mae", "iou", "head_ssim", "head_mae"):
            assert set(result["mean_std"][d][m]) == {"mean", "std"}
    for name in ("cv.json", "folds.csv", "curves.csv", "curves.png", "report.md"):
        assert (out / name).stat().st_size > 0, name
    assert "mean +- std" in (out / "report.md").read_text()
    steps = json.loads((out / "fold0" / "test.json").read_text())["steps"]
    assert main([*args, "--report-only"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_std"] == result["mean_std"]
    assert main(args) == 0  # a finished study: nothing is trained again
    again = json.loads(capsys.readouterr().out)
    assert again["folds"][0]["steps"] == steps and again["mean_std"] == result["mean_std"]
    assert main([*args, "--students", "student-xs", "--student-budget-minutes", "0.01", "--student-set",
                 "student.ngf=4", "--student-set", "data.crop=32", "--student-set", "optim.batch_size=2"]) == 0
    gaps = json.loads(capsys.readouterr().out)["student_gaps"]["student-xs"]
    assert [r["fold"] for r in gaps["per_fold"]] == [0, 1]
    assert set(gaps["mean"]) == {"sct_psnr", "sct_ssim", "smr_psnr", "smr_ssim"}
    student = json.loads((out / "fold0" / "students" / "student-xs" / "test.json").read_text())
    assert student["patients"] == result["folds"][0]["test"]  # scored on the fold's own test patients
    assert main([*args[:-2], "--set", "loss.lambda_ssim=2"]) == 2
    assert "same options" in capsys.readouterr().err
