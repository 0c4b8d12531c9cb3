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

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from sccg_edge.config import TrainConfig, load_recipe, to_dict
from sccg_edge.errors import InputError
from sccg_edge.train.loop import Run, StepProgress, prepare_run_dir, restore_last, run_epochs, schedule, write_csv_row
from sccg_edge.train.slices import SliceSet, load_splits
from sccg_edge.train.teacher import Networks, build_networks, train_step, translate
from sccg_edge.utils.fs import atomic_write_text


def _dist_setup(cfg: TrainConfig) -> tuple[int, int, str]:
    """Initialise torch.distributed under torchrun; returns (rank, world, device)."""
    import torch.distributed as dist

    want_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but PyTorch sees no CUDA device; use --device cpu")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if want_cuda else "gloo")
    device = f"cuda:{local}" if want_cuda else "cpu"
    if want_cuda:
        torch.cuda.set_device(local)
    return rank, world, device


def autocast_for(amp: str, device: str) -> Any:
    """A context-manager factory for mixed precision: bf16/fp16 on CUDA, bf16 on a CPU, or nothing.

    On CPUs with AVX512-BF16 or AMX, bf16 autocast makes a training step 2-3x faster (measured on the
    development machine); on CPUs without them oneDNN emulates bf16 and it is slower, which is logged.
    """
    if amp == "none":
        return contextlib.nullcontext
    if device.startswith("cuda"):
        dtype = torch.bfloat16 if amp == "bf16" else torch.float16
        return lambda: torch.autocast(device_type="cuda", dtype=dtype)
    if amp == "fp16":
        from sccg_edge.errors import ConfigError

        raise ConfigError("amp=fp16 needs a CUDA device; on a CPU use amp=bf16 (fast on CPUs with AVX512-BF16 or "
                          "AMX) or amp=none")
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        import logging

        logging.getLogger("sccg_edge").warning("amp=bf16: this CPU has no native bf16 support; training will be "
                                               "slower than amp=none")
    return lambda: torch.autocast(device_type="cpu", dtype=torch.bfloat16)


def evaluate(nets: Networks, val: SliceSet, device: str, max_slices: int = 0) -> dict[str, float]:
    """Validation PSNR/SSIM/MAE/IoU of both directions on the paper's 0..255 scale."""
    from sccg_edge.metrics import image_metrics, summarize

    n = len(val) if not max_slices else min(max_slices, len(val))
    out: dict[str, float] = {}
    g_mr2ct, g_ct2mr = nets.inference()
    for direction, gen, src, tgt in (("sct", g_mr2ct, val.mr[:n], val.ct[:n]),
                                     ("smr", g_ct2mr, val.ct[:n], val.mr[:n])):
        pred = translate(gen, src, device=device)
        rows = [image_metrics(to_255(p), to_255(t), scale="uint8") for p, t in zip(pred, tgt)]
        out.update({f"{direction}_{k}": v for k, v in summarize(rows).items() if isinstance(v, (int, float))})
    out["score"] = 0.5 * (out["sct_ssim"] + out["smr_ssim"])
    return out


def to_255(t: torch.Tensor) -> Any:
    """(1, H, W) or (H, W) tensor in [-1, 1] -> float64 numpy image on the 0..255 scale."""
    import numpy as np

    return np.clip((t.squeeze().double().numpy() + 1.0) * 127.5, 0.0, 255.0)


def save_samples(nets: Networks, val: SliceSet, path: Path, device: str, n: int = 3) -> None:
    """A PNG grid: per row MR | sCT | CT | sMR for ``n`` validation slices spread along the head."""
    import numpy as np
    from PIL import Image

    idx = np.linspace(0, len(val) - 1, num=min(n, len(val))).round().astype(int).tolist()
    g_mr2ct, g_ct2mr = nets.inference()
    sct = translate(g_mr2ct, val.mr[idx], device=device)
    smr = translate(g_ct2mr, val.ct[idx], device=device)
    rows = [np.concatenate([to_255(val.mr[i]), to_255(sct[k]), to_255(val.ct[i]), to_255(smr[k])], axis=1)
            for k, i in enumerate(idx)]
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
    return load_recipe(str(Path(out) / "config.yaml"), overrides=overrides)


def train_teacher(cfg: TrainConfig, out: Path, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) the teacher; returns a summary with the last validation metrics and paths."""
    import yaml

    out = Path(out)
    _check_sizes(cfg)
    rank, world, device = _dist_setup(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    config_yaml = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    if rank == 0:
        prepare_run_dir(out, resume)
        atomic_write_text(out / "config.yaml", config_yaml)
    splits = load_splits(cfg.data, seed=cfg.seed)
    train, val = splits["train"], splits.get("val") or splits["train"]
    nets = build_networks(cfg, seed=cfg.seed)
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    for module in nets.as_dict().values():
        module.to(device, memory_format=layout).train()
    betas = (cfg.optim.beta1, cfg.optim.beta2)
    opt_g = torch.optim.Adam([p for g in nets.generators() for p in g.parameters()], lr=cfg.optim.lr, betas=betas)
    opt_d = torch.optim.Adam([p for d in nets.discriminators() for p in d.parameters()], lr=cfg.optim.lr, betas=betas)
    run = Run(cfg, out, nets.as_dict(), {"opt_g": opt_g, "opt_d": opt_d}, config_yaml, rank, world)
    run.state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best_score": -1.0, "wall_s": 0.0,
                 **(restore_last(out, run.modules, run.optims, rank) if resume else {})}
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
        metrics = evaluate(nets, val, device, cfg.val_max_slices)
        save_samples(nets, val, out / "samples" / f"epoch_{epoch + 1:03d}.png", device)
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
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return summary


def _check_sizes(cfg: TrainConfig) -> None:
    """Refuse slice/crop sizes the networks cannot take, before any work is done."""
    from sccg_edge.errors import ConfigError
    from sccg_edge.models import resolve_generator_config
    from sccg_edge.train.teacher import generator_overrides

    if cfg.val_every < 1:
        raise ConfigError(f"val_every={cfg.val_every}: validate at least every epoch (val_every >= 1)")
    step = 2 ** resolve_generator_config(cfg.model.generator, **generator_overrides(cfg)).n_down
    for key, value in (("data.size", cfg.data.size), ("data.crop", cfg.data.crop or cfg.data.size)):
        if value < 24 or value % step:
            raise ConfigError(f"{key}={value}: the discriminator needs at least 24 pixels and the generator a "
                              f"multiple of {step}; choose e.g. {max(32, value - value % step)}")


def _tensorboard(out: Path) -> Any:
    """A TensorBoard writer under ``out/tb`` when the tensorboard package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(out / "tb"))
