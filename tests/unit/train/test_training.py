"""The trainer on a tiny model and the embedded phantom: run folder, validation schedule, patient splits.

Resuming after SIGKILL, two-process data parallelism and the paper recipe's dry run: tests/integration/.
"""

from __future__ import annotations

import json

import pytest

from sccg_edge.cli import main
from tests.conftest import logged_steps as _steps
from tests.conftest import train_cmd as _cmd


def test_train_writes_run_folder_and_refuses_overwrite(phantom, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_cmd(phantom, out, 2)) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epoch"] == 2 and summary["global_step"] == len(_steps(out))
    for rel in ("config.yaml", "metrics.csv", "samples/epoch_002.png", "checkpoints/last/state.json",
                "checkpoints/best/weights/g_mr2ct.safetensors"):
        assert (out / rel).exists(), rel
    assert main(_cmd(phantom, out, 2)) == 2
    assert "not empty" in capsys.readouterr().err


def test_val_every_validates_on_schedule_and_after_the_last_epoch(phantom, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*_cmd(phantom, out, 3), "--set", "val_every=2", "--set", "amp=bf16"]) == 0
    epochs = [int(line.split(",")[0]) for line in (out / "metrics.csv").read_text().splitlines()[1:]]
    assert epochs == [2, 3]
    assert main([*_cmd(phantom, tmp_path / "bad", 1), "--set", "val_every=0"]) == 2
    assert "val_every" in capsys.readouterr().err


def test_own_patient_split_is_trained_on_and_evaluated_on(phantom, tmp_path):
    from sccg_edge.config import EvalConfig
    from sccg_edge.evaluate import evaluate_model

    out = tmp_path / "run"  # the automatic split of this phantom is train p001, val p000, test p002
    split = ["--set", "data.train_patients=p002,p000", "--set", "data.test_patients=p001"]
    assert main([*_cmd(phantom, out, 1), *split]) == 0
    batches = {i for _, batch in _steps(out) for i in batch}
    assert batches == set(range(12))  # two training patients of 6 slices each (the automatic split trains on 6)
    report = evaluate_model(out, EvalConfig("test", directions=("mr2ct",), data=str(phantom)))
    assert report["patients"] == ["p001"] and report["n_slices"] == 6
    assert evaluate_model(out, EvalConfig("train", ("mr2ct",), str(phantom)))["patients"] == ["p000", "p002"]


def test_evaluate_named_patients(phantom, tmp_path, capsys):
    from sccg_edge.config import EvalConfig
    from sccg_edge.errors import InputError
    from sccg_edge.evaluate import evaluate_model

    def named(patients: str) -> EvalConfig:
        return EvalConfig(directions=("mr2ct",), data=str(phantom), patients=patients)

    out = tmp_path / "run"
    assert main([*_cmd(phantom, out, 1), "--set", "data.train_patients=p000,p001,p002"]) == 0
    one = evaluate_model(out, named("p002"))
    assert one["patients"] == ["p002"] and one["n_slices"] == 6 and one["split"] == "patients p002"
    every = evaluate_model(out, named("p000,p001,p002"))
    assert every["patients"] == ["p000", "p001", "p002"] and every["n_slices"] == 18
    with pytest.raises(InputError, match=r"\['p9'\] are not in the data"):
        evaluate_model(out, named("p9"))
