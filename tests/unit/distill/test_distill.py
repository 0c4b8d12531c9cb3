"""Distillation on a tiny teacher and the phantom: run folder, exported students, frozen teacher, resume."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import torch

from sccg_edge.config import DistillConfig, load_distill_config
from sccg_edge.distill.run import build_branches, distill, distill_step
from sccg_edge.engine.parallel import autocast_for
from sccg_edge.errors import ConfigError, InputError


def _cfg(data: Path, **extra) -> DistillConfig:
    overrides = {"data.root": str(data), "data.size": 32, "data.crop": 0, "optim.batch_size": 2, "threads": 1,
                 "optim.epochs": 2, "student.ngf": 4, "student.n_blocks": 2, "loss.feature_pairs": "enc:enc,block1:block0",
                 "loss.lambda_adv": 1.0, "loss.ndf": 8, "loss.lambda_str": 1.0, **extra}
    return load_distill_config("distill", overrides)


def _steps(run: Path) -> list[tuple[int, list[int]]]:
    recs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [(r["step"], r["batch"]) for r in recs if r["type"] == "step"]


def test_cli_distill_two_epochs_exports_loadable_students(phantom_data, tiny_teacher, tmp_path, capsys):
    from sccg_edge.cli import app, main
    from sccg_edge.cli import distill as distill_cli
    from sccg_edge.models.loading import load_generator
    from tests.conftest import snapshot

    if not any(c.name == "distill" for c in app.registered_commands):
        distill_cli.register(app)
    before = snapshot(tiny_teacher)
    out = tmp_path / "run"
    sets = ["data.size=32", "data.crop=0", "optim.batch_size=2", "threads=1", "student.ngf=4", "student.n_blocks=2",
            "loss.feature_pairs=enc:enc", "loss.lambda_adv=1", "loss.ndf=8"]
    argv = ["distill", "--teacher", str(tiny_teacher), "--data", str(phantom_data), "--out", str(out),
            "--epochs", "2", "--recipe", "distill", "--json", *[a for s in sets for a in ("--set", s)]]
    t0 = time.time()
    assert main(argv) == 0
    took = time.time() - t0
    summary = json.loads(capsys.readouterr().out)
    # wall_s is the command's own duration (set-up, teacher scoring and the card included), training a part of it
    assert summary["train_wall_s"] <= summary["wall_s"] <= took + 0.5 and summary["wall_s"] >= took - 1.0
    assert summary["epoch"] == 2 and summary["global_step"] == len(_steps(out)) > 0
    for rel in ("config.yaml", "metrics.csv", "checkpoints/last/state.json", "checkpoints/best/weights/s_mr2ct.safetensors",
                "student/student_card.md", "student/student_card.json"):
        assert (out / rel).exists(), rel
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"sct_ssim", "smr_ssim", "teacher_sct_ssim", "teacher_smr_ssim"} <= set(header)
    for direction in ("mr2ct", "ct2mr"):
        loaded = load_generator(out / "student", direction)
        assert loaded.config.ngf == 4 and loaded.size == 32
        assert loaded.meta["preset"] == "student-s" and loaded.meta["teacher"] == str(tiny_teacher)
        assert loaded.model(torch.zeros(1, 1, 32, 32)).shape == (1, 1, 32, 32)
    card = json.loads((out / "student" / "student_card.json").read_text())
    assert card["cost"]["student_macs_512"] == 4 * card["cost"]["student_macs_256"] > 0
    assert 0 <= card["val_student"]["sct_ssim"] <= 1 and "sct_ssim" in card["val_teacher"]
    assert snapshot(tiny_teacher) == before  # the teacher files are untouched
    assert main(argv) == 2 and "not empty" in capsys.readouterr().err


def test_teacher_frozen_and_output_loss_decreases(phantom_data, tiny_teacher):
    from sccg_edge.data.slices import load_splits

    cfg = _cfg(phantom_data, **{"loss.lambda_gt": 0.0, "loss.lambda_feat": 0.0, "loss.lambda_adv": 0.0,
                                "loss.lambda_str": 0.0, "optim.lr": 2e-3, "directions": "mr2ct"})
    (branch,), _ = build_branches(cfg, tiny_teacher)
    assert not branch.teacher.training and not any(p.requires_grad for p in branch.teacher.parameters())
    t_before = {k: v.clone() for k, v in branch.teacher.state_dict().items()}
    train = load_splits(cfg.data, seed=0)["train"]
    mr, ct = train.mr[:2], train.ct[:2]
    opt = torch.optim.Adam([*branch.student.parameters(), *branch.adapters.parameters()], lr=cfg.optim.lr)
    losses = [distill_step([branch], opt, None, mr, ct, cfg)["mr2ct_out"] for _ in range(12)]
    assert losses[-1] < 0.7 * losses[0]
    assert all(torch.equal(v, branch.teacher.state_dict()[k]) for k, v in t_before.items())
    bf16 = autocast_for("bf16", "cpu")  # mixed precision on the CPU: still learns, weights stay float32
    losses = [distill_step([branch], opt, None, mr, ct, cfg, bf16)["mr2ct_out"] for _ in range(6)]
    assert losses[-1] < losses[0] and all(p.dtype == torch.float32 for p in branch.student.parameters())


def test_resume_after_max_steps_replays_same_batches(phantom_data, tiny_teacher, tmp_path):
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    distill(_cfg(phantom_data), tiny_teacher, ref, progress=False)
    first = distill(_cfg(phantom_data, max_steps=2), tiny_teacher, cut, progress=False)
    assert first["stopped_by"] == "max_steps" and first["global_step"] == 2
    resumed_cfg = load_distill_config(str(cut / "config.yaml"), {"max_steps": 0})
    assert resumed_cfg.teacher == str(tiny_teacher)
    summary = distill(resumed_cfg, None, cut, resume=True, progress=False)
    assert summary["stopped_by"] == "epochs" and _steps(cut) == _steps(ref)
    for name in ("s_mr2ct", "s_ct2mr", "a_ct2mr", "d_ct"):
        rel = f"checkpoints/last/weights/{name}.safetensors"
        assert (cut / rel).read_bytes() == (ref / rel).read_bytes(), name


def test_one_direction_only(phantom_data, tiny_teacher, tmp_path):
    from sccg_edge.models.loading import load_generator

    out = tmp_path / "one"
    summary = distill(_cfg(phantom_data, directions="ct2mr", **{"optim.epochs": 1}), tiny_teacher, out,
                      progress=False)
    assert summary["epoch"] == 1 and "smr_ssim" in summary["teacher_metrics"]
    assert "sct_ssim" not in summary["teacher_metrics"]
    assert sorted(p.name for p in (out / "student").glob("*.safetensors")) == ["g_ct2mr.safetensors"]
    assert load_generator(out / "student", "ct2mr").direction == "ct2mr"
    with pytest.raises(InputError):
        load_generator(out / "student", "mr2ct")


def test_discriminator_starts_from_teacher_run(phantom_data, tiny_teacher, tmp_path):
    from sccg_edge.models import PatchDiscriminator
    from sccg_edge.models.weights import save_module

    folder = tmp_path / "teacher_with_d"
    shutil.copytree(tiny_teacher, folder)
    torch.manual_seed(3)
    d_ct = PatchDiscriminator(in_ch=1, ndf=6)
    save_module(d_ct, folder / "d_ct.safetensors")
    branches, info = build_branches(_cfg(phantom_data), folder)
    by_dir = {b.direction: b for b in branches}
    assert by_dir["mr2ct"].disc_source.endswith("d_ct.safetensors")
    assert torch.equal(by_dir["mr2ct"].disc.layers[0].weight, d_ct.layers[0].weight)
    assert by_dir["ct2mr"].disc_source == "fresh" and by_dir["ct2mr"].disc.layers[0].out_channels == 8
    assert info["directions"]["mr2ct"]["discriminator"].endswith("d_ct.safetensors")


def test_bad_configs_are_refused(phantom_data, tiny_teacher):
    with pytest.raises(ConfigError, match="valid teacher feature names: stem, down0, down1, enc, block0, up0"):
        build_branches(_cfg(phantom_data, **{"loss.feature_pairs": "enc:block7"}), tiny_teacher)
    with pytest.raises(ConfigError, match="'directions' must be one of"):
        _cfg(phantom_data, directions="sideways")
    with pytest.raises(ConfigError, match="unknown key"):
        _cfg(phantom_data, **{"loss.lambda_foo": 1.0})
