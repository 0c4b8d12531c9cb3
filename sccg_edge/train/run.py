"""``train_teacher(cfg, out)``: the resumable training loop around :mod:`sccg_edge.train.teacher`.

Run folder layout::

    RUN/config.yaml              resolved config (also copied into every checkpoint)
    RUN/checkpoints/last/        written every ``save_every_steps`` steps and at each epoch end (atomic)
    RUN/checkpoints/best/        the best validation score so far (mean SSIM of both directions)
    RUN/log.jsonl                one record per step (with the batch's sample ids) and per epoch
    RUN/metrics.csv              validation metrics per epoch
    RUN/samples/epoch_NNN.png    MR | sCT | CT || CT | sMR | MR for a few validation slices
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from sccg_edge.backends import load_backend, run_batched
from sccg_edge.config import TrainConfig, load_recipe
from sccg_edge.data.slices import SliceSet, load_train_val
from sccg_edge.engine.loop import (
    Run,
    StepProgress,
    failed_start_leaves_nothing,
    run_epochs,
    schedule,
    start_session,
    write_csv_row,
)
from sccg_edge.engine.parallel import autocast_for, dist_finish
from sccg_edge.errors import ConfigError
from sccg_edge.metrics.score import image_255, validation_scores
from sccg_edge.models import build_generator, count_macs, format_macs, resolve_generator_config
from sccg_edge.models.discriminator import PatchDiscriminator
from sccg_edge.train.teacher import Networks, build_networks, train_step
from sccg_edge.utils.fs import atomic_write_text


def evaluate(nets: Networks, val: SliceSet, max_slices: int = 0) -> dict[str, float]:
    """Validation PSNR/SSIM/MAE/IoU of both directions on the paper's 0..255 scale (the shipped generators)."""
    g_mr2ct, g_ct2mr = nets.inference()
    runs = {"mr2ct": load_backend("torch", g_mr2ct), "ct2mr": load_backend("torch", g_ct2mr)}
    return validation_scores(runs, val, max_slices)


def save_samples(nets: Networks, val: SliceSet, path: Path, n: int = 3) -> None:
    """A PNG grid: per row MR | sCT | CT | sMR for ``n`` validation slices spread along the head."""
    idx = np.linspace(0, len(val) - 1, num=min(n, len(val))).round().astype(int).tolist()
    g_mr2ct, g_ct2mr = nets.inference()
    mr, ct = val.mr[idx].numpy(), val.ct[idx].numpy()
    sct = run_batched(load_backend("torch", g_mr2ct), mr, 4)
    smr = run_batched(load_backend("torch", g_ct2mr), ct, 4)
    rows = [np.concatenate([image_255(mr[k]), image_255(sct[k]), image_255(ct[k]), image_255(smr[k])], axis=1)
            for k in range(len(idx))]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0).round().astype(np.uint8)).save(path)


def weights_digest(nets: Networks) -> str:
    """SHA-256 over every parameter and buffer, to compare ranks or runs."""
    h = hashlib.sha256()
    for name, module in nets.as_dict().items():
        for key, value in sorted(module.state_dict().items()):
            h.update(f"{name}.{key}".encode())
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def resume_config(out: Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The resolved config of an existing run folder, with optional overrides (e.g. more epochs)."""
    return load_recipe(str(Path(out) / "config.yaml"), cls=TrainConfig, overrides=overrides)


def train_teacher(cfg: TrainConfig, out: Path, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) the teacher; returns a summary with the last validation metrics and paths.

    A run that fails before its first checkpoint leaves nothing under ``out`` (the same command can be rerun).
    """
    with failed_start_leaves_nothing(Path(out), resume):
        return _train_teacher(cfg, Path(out), resume, progress)


def _train_teacher(cfg: TrainConfig, out: Path, resume: bool, progress: bool) -> dict[str, Any]:
    _check_sizes(cfg)
    session = start_session(cfg, out, resume)
    rank, world, device = session.rank, session.world, session.device
    train, val = load_train_val(cfg.data, seed=cfg.seed)
    nets = build_networks(cfg, seed=cfg.seed)
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    for module in nets.as_dict().values():
        module.to(device, memory_format=layout).train()
    betas = (cfg.optim.beta1, cfg.optim.beta2)
    opt_g = torch.optim.Adam([p for g in nets.generators() for p in g.parameters()], lr=cfg.optim.lr, betas=betas)
    opt_d = torch.optim.Adam([p for d in nets.discriminators() for p in d.parameters()], lr=cfg.optim.lr, betas=betas)
    run = Run(cfg, out, nets.as_dict(), {"opt_g": opt_g, "opt_d": opt_d}, session.config_yaml, rank, world)
    run.restore(resume)
    autocast = autocast_for(cfg.amp, device)
    scaler = torch.amp.GradScaler("cuda") if cfg.amp == "fp16" and device.startswith("cuda") else None
    board = _tensorboard(out) if rank == 0 else None
    bar = StepProgress(progress and rank == 0, schedule(cfg, len(train), rank, world)[1], run.state["global_step"])

    def step(mr: torch.Tensor, ct: torch.Tensor) -> dict[str, float]:
        mr, ct = mr.contiguous(memory_format=layout), ct.contiguous(memory_format=layout)
        return train_step(nets, opt_g, opt_d, mr, ct, cfg, autocast, scaler, step=run.state["global_step"])

    def end_epoch(epoch: int) -> None:
        if (epoch + 1) % cfg.val_every and epoch + 1 != cfg.optim.epochs:
            return
        validate(epoch)

    def validate(epoch: int) -> None:
        run.state["validated_step"] = run.state["global_step"]
        metrics = evaluate(nets, val, cfg.val_max_slices)
        save_samples(nets, val, out / "samples" / f"epoch_{epoch + 1:03d}.png")
        row = {"epoch": epoch + 1, "step": run.state["global_step"], "wall_s": round(run.wall_s(), 1),
               "cpu_s": round(run.cpu_s(), 1), **metrics}
        run.log({"type": "epoch", **row})
        write_csv_row(out / "metrics.csv", row)
        if board is not None:
            for key, value in metrics.items():
                board.add_scalar(f"val/{key}", value, run.state["global_step"])
        bar.epoch_done(row)
        if metrics["score"] > run.state["best_score"]:
            run.state.update(best_score=metrics["score"], best_epoch=epoch + 1)
            run.checkpoint(out / "checkpoints" / "best")

    with bar:
        stop_reason = run_epochs(run, train, step, end_epoch, bar, device)
        if stop_reason == "budget" and rank == 0 and run.state.get("validated_step") != run.state["global_step"]:
            validate(run.state["epoch"])  # the budget ends mid-epoch: score the final (fully decayed) weights too
    run.checkpoint(out / "checkpoints" / "last")
    summary = {"run": str(out), "stopped_by": stop_reason or "epochs", **run.state}
    if world > 1:
        atomic_write_text(out / f"rank{rank}.digest", weights_digest(nets))
    dist_finish(world)
    return summary


def _check_sizes(cfg: TrainConfig) -> None:
    """Refuse slice/crop sizes the networks cannot take, before any work is done."""
    if cfg.val_every < 1:
        raise ConfigError(f"val_every={cfg.val_every}: validate at least every epoch (val_every >= 1)")
    step = 2 ** resolve_generator_config(cfg.model.generator, **cfg.model.overrides()).n_down
    for key, value in (("data.size", cfg.data.size), ("data.crop", cfg.data.crop or cfg.data.size)):
        if value < 24 or value % step:
            raise ConfigError(f"{key}={value}: the discriminator needs at least 24 pixels and the generator a "
                              f"multiple of {step}; choose e.g. {max(32, value - value % step)}")


def model_cost(cfg: TrainConfig) -> dict[str, Any]:
    """MACs and parameters of the generator and discriminator of ``cfg`` on one slice (``train --dry-run``)."""
    gcfg = resolve_generator_config(cfg.model.generator, **cfg.model.overrides())
    shape = (1, 1, cfg.data.size, cfg.data.size)
    g = count_macs(build_generator(gcfg), shape)
    d = count_macs(PatchDiscriminator(in_ch=1, ndf=cfg.model.ndf), shape)
    return {"input": list(shape), "generator": gcfg.to_dict(), "generator_macs": g.macs,
            "generator_macs_human": format_macs(g.macs), "generator_params": g.params,
            "discriminator_macs": d.macs, "discriminator_params": d.params}


def _tensorboard(out: Path) -> Any:
    """A TensorBoard writer under ``out/tb`` when the optional tensorboard package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(out / "tb"))
