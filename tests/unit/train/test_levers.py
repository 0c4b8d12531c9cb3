"""The recipe levers of the teacher study: SSIM loss, U-Net generator, conditional D, EMA, budget, channels_last."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sccg_edge.cli import main
from sccg_edge.losses.ssim import ssim_index, ssim_loss
from sccg_edge.metrics.image import ssim as ssim_metric
from sccg_edge.models import build_generator
from sccg_edge.models.loading import load_generator
from tests.conftest import TINY


def test_ssim_loss_matches_the_metric():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 255, (48, 40))
    pred = np.clip(gt + rng.normal(0, 30, gt.shape), 0, 255)
    want = ssim_metric(pred, gt, data_range=255)
    t = lambda a: torch.from_numpy(a / 127.5 - 1.0)[None, None]  # noqa: E731
    assert float(ssim_index(t(pred), t(gt))) == pytest.approx(want, abs=1e-6)
    assert float(ssim_loss(t(gt), t(gt))) == pytest.approx(0.0, abs=1e-6)
    fake = t(pred).float().requires_grad_(True)
    ssim_loss(fake, t(gt).float()).backward()
    assert fake.grad is not None and torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0


def test_unet_generator_uses_its_skips_and_keeps_names():
    g = build_generator("unet", ngf=4, n_blocks=1, n_down=2)
    x = torch.randn(2, 1, 32, 32)
    out, feats = g.forward_features(x)
    assert out.shape == x.shape and torch.allclose(g(x), out)
    assert {"stem", "down0", "down1", "enc", "block0", "up0", "up1", "dec"} <= set(feats)
    assert feats["up1"].shape[1] == 4 and g.head[0][1].in_channels == 8  # head sees dec + stem
    with pytest.raises(ValueError, match="multiples of 4"):
        g(torch.randn(1, 1, 30, 30))


def test_budgeted_paired_run_with_every_lever(phantom, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--recipe", "cpu", "--data", str(phantom), "--out", str(out), "--epochs", "1000", *TINY,
            "--set", "model.generator=unet", "--set", "data.size=48", "--set", "loss.lambda_cyc=0",
            "--set", "loss.lambda_str=0", "--set", "loss.lambda_ssim=1", "--set", "loss.conditional_d=true",
            "--set", "ema=0.9", "--set", "channels_last=true", "--set", "budget_minutes=0.05",
            "--set", "optim.schedule=linear"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["stopped_by"] == "budget" and 3.0 <= summary["wall_s"] < 30
    steps = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    logs = [r for r in steps if r["type"] == "step"]
    assert "g_ssim" in logs[0] and "g_str" not in logs[0] and "g_cyc" not in logs[0]
    assert logs[-1]["lr"] < logs[0]["lr"]  # the schedule runs over the budget, not over 1000 epochs
    epochs = [r for r in steps if r["type"] == "epoch"]
    assert epochs[-1]["step"] == logs[-1]["step"]  # the final weights were validated at the budget's end
    weights = out / "checkpoints" / "best" / "weights"
    assert (weights / "g_mr2ct_ema.safetensors").is_file()
    loaded = load_generator(out, "mr2ct")
    assert loaded.source.name == "g_mr2ct_ema.safetensors" and loaded.config.arch == "unet"
    assert main(["train", "--resume", str(out)]) == 0  # the budget is spent: a resume stops at once
    again = json.loads(capsys.readouterr().out)
    assert again["stopped_by"] == "budget" and again["global_step"] == summary["global_step"]


def test_ema_warms_up_so_short_runs_are_not_the_initial_weights():
    from sccg_edge.config import load_recipe
    from sccg_edge.train.teacher import build_networks

    cfg = load_recipe("cpu", overrides={"model.ngf": 4, "model.n_blocks": 1, "ema": 0.999})
    nets = build_networks(cfg, seed=0)
    w0 = [p.detach().clone() for p in nets.ema_mr2ct.parameters()]
    with torch.no_grad():
        for p in nets.g_mr2ct.parameters():
            p.add_(1.0)
    nets.update_ema(0.999, step=0)  # d = min(0.999, 1/10): 90 % of the new weights, not 0.1 %
    for e, p, a in zip(nets.ema_mr2ct.parameters(), nets.g_mr2ct.parameters(), w0):
        assert torch.allclose(e, 0.1 * a + 0.9 * p, atol=1e-6)
    before = [e.detach().clone() for e in nets.ema_mr2ct.parameters()]
    nets.update_ema(0.999, step=100_000)  # late in a run the configured decay applies
    for e, p, b in zip(nets.ema_mr2ct.parameters(), nets.g_mr2ct.parameters(), before):
        assert torch.allclose(e, 0.999 * b + 0.001 * p, atol=1e-6)


def test_paper_recipe_trains_the_full_sccyclegan(phantom, tmp_path):
    """The paired `cpu` recipe drops the cycle branch; the `paper` recipe keeps every term of the scCycleGAN."""
    out = tmp_path / "paper"
    assert main(["train", "--recipe", "paper", "--data", str(phantom), "--out", str(out), "--epochs", "1",
                 *TINY]) == 0
    steps = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    first = next(r for r in steps if r["type"] == "step")
    assert {"g_adv", "g_str", "g_cyc", "g_pix"} <= set(first) and "g_ssim" not in first
