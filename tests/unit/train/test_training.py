"""The trainer on a tiny model and the embedded phantom: runs, resumes exactly after SIGKILL, and data-parallel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sccg_edge.cli import main

TINY = ["--set", "model.ngf=4", "--set", "model.n_blocks=1", "--set", "model.ndf=8", "--set", "data.size=40",
        "--set", "data.crop=32", "--set", "optim.batch_size=2", "--set", "threads=1", "--set", "save_every_steps=1"]


def _steps(run: Path) -> list[tuple[int, list[int]]]:
    recs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [(r["step"], r["batch"]) for r in recs if r["type"] == "step"]


def _cmd(phantom: Path, out: Path, epochs: int) -> list[str]:
    return ["train", "--recipe", "cpu", "--data", str(phantom), "--out", str(out), "--epochs", str(epochs), *TINY]


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


def test_sigkill_then_resume_matches_uninterrupted(phantom, tmp_path):
    ref = tmp_path / "ref"
    assert main(_cmd(phantom, ref, 12)) == 0
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    proc = subprocess.Popen([sys.executable, "-m", "sccg_edge", *_cmd(phantom, killed, 12)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (killed / "log.jsonl").exists() and len(_steps(killed)) >= 5:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert main(["train", "--resume", str(killed)]) == 0
    assert _steps(killed) == _steps(ref)
    last_ref = json.loads((ref / "checkpoints/last/state.json").read_text())
    last_killed = json.loads((killed / "checkpoints/last/state.json").read_text())
    assert last_killed["global_step"] == last_ref["global_step"]
    assert (killed / "checkpoints/last/weights/g_mr2ct.safetensors").read_bytes() == \
        (ref / "checkpoints/last/weights/g_mr2ct.safetensors").read_bytes()


def test_two_process_gloo_ranks_end_identical(phantom, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "sccg_edge", *_cmd(phantom, out, 2), "--device", "cpu"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    d0, d1 = (out / "rank0.digest").read_text(), (out / "rank1.digest").read_text()
    assert d0 == d1
    assert len(_steps(out)) > 0


def test_dry_run_paper_prints_config_and_macs(capsys):
    assert main(["train", "--recipe", "paper", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "size: 512" in text and "batch_size: 8" in text
    cost = json.loads(text[text.index("{"):])["model_cost"]
    assert cost["input"] == [1, 1, 512, 512]
    assert 150e9 < cost["generator_macs"] < 300e9


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
