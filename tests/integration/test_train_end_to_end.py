"""The trainer end to end: a run killed by SIGKILL resumes to exactly the uninterrupted run, two processes of a
gloo data-parallel run end with identical weights, and the paper recipe's dry run prints its config and cost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from sccg_edge.cli import main
from tests.conftest import REPO_ROOT
from tests.conftest import logged_steps as _steps
from tests.conftest import train_cmd as _cmd


def test_sigkill_then_resume_matches_uninterrupted(phantom, tmp_path):
    ref = tmp_path / "ref"
    assert main(_cmd(phantom, ref, 12)) == 0
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
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
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
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
