"""``distill(cfg, teacher_spec, out)``: a small student generator learns from the frozen scCycleGAN teacher.

Per direction (MR->CT, CT->MR, or one of them) a *branch* holds the frozen teacher generator (eval mode, no
gradients, its forward under ``torch.no_grad``), the student, the 1x1 feature adapters and, when
``loss.lambda_adv > 0``, a PatchGAN for the target domain. The discriminator starts from the teacher's own
(``d_ct`` for MR->CT, ``d_mr`` for CT->MR) when the teacher spec is a run or checkpoint folder whose weights
folder holds them (its width is read from the file); otherwise it starts fresh with ``loss.ndf``.

Student loss per direction x -> y: ``lambda_out * L1(S(x), T(x)) + lambda_gt * L1(S(x), y) [paired]
+ lambda_feat * mean_pairs dist(A(S_l(x)), T_l'(x)) + lambda_adv * LSGAN(D(S(x))) + lambda_str * SC(x, S(x))``.

Run folder (the conventions of :mod:`sccg_edge.engine.loop`, as the teacher's)::

    RUN/config.yaml, log.jsonl, metrics.csv (student beside teacher per epoch), checkpoints/{last,best}/
    RUN/student/g_mr2ct.safetensors, g_ct2mr.safetensors   self-describing (load_generator(RUN/student, ...))
    RUN/student/student_card.json, student_card.md          preset, MACs/params, val metrics vs the teacher
                                                             (written by :mod:`sccg_edge.distill.card`)
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sccg_edge.backends import load_backend
from sccg_edge.config import DistillConfig
from sccg_edge.data.slices import SliceSet, load_train_val, resolve_data_root
from sccg_edge.distill.card import export_students
from sccg_edge.engine.loop import (
    Run,
    StepProgress,
    failed_start_leaves_nothing,
    run_epochs,
    schedule,
    start_session,
    write_csv_row,
)
from sccg_edge.engine.parallel import (
    allreduce_grads,
    autocast_for,
    broadcast_buffers,
    dist_finish,
    set_requires_grad,
)
from sccg_edge.errors import ConfigError, InputError
from sccg_edge.losses import l1, lsgan_d_loss, lsgan_g_loss, structure_loss
from sccg_edge.losses.distill import FeatureAdapters, feature_distill_loss, output_distill_loss, parse_feature_pairs
from sccg_edge.metrics.score import validation_scores
from sccg_edge.models import PatchDiscriminator, build_generator
from sccg_edge.models.generator import Generator
from sccg_edge.models.init import init_weights
from sccg_edge.models.loading import LoadedGenerator, load_generator
from sccg_edge.models.weights import load_module, tensor_shape

TARGET = {"mr2ct": "ct", "ct2mr": "mr"}
PREFIX = {"mr2ct": "sct", "ct2mr": "smr"}


@dataclass
class Branch:
    """One distilled direction."""

    direction: str
    teacher: Generator
    student: Generator
    adapters: FeatureAdapters
    disc: PatchDiscriminator | None
    disc_source: str  # the teacher's discriminator file, "fresh", or "" without an adversarial term

    def trainable(self) -> dict[str, nn.Module]:
        """Checkpointed modules, keyed as saved."""
        out: dict[str, nn.Module] = {f"s_{self.direction}": self.student}
        if self.adapters.pairs:
            out[f"a_{self.direction}"] = self.adapters
        if self.disc is not None:
            out[f"d_{TARGET[self.direction]}"] = self.disc
        return out


def load_teacher(spec: str | Path, direction: str) -> LoadedGenerator:
    """The frozen teacher generator of ``direction`` (eval mode, ``requires_grad`` off) as a LoadedGenerator."""
    loaded = load_generator(spec, direction)
    loaded.model.eval().requires_grad_(False)
    return loaded


def _discriminator(source: Path | None, key: str, ndf: int) -> tuple[PatchDiscriminator, str]:
    """The teacher run's discriminator ``key`` (d_ct / d_mr) beside its generator weights, else a fresh one."""
    path = source.parent / f"{key}.safetensors" if source is not None else None
    if path is not None and path.is_file():
        width, in_ch = (int(v) for v in tensor_shape(path, "layers.0.weight")[:2])
        if in_ch != 1:
            raise ConfigError("the teacher's discriminator is conditional (it sees input and output stacked); the "
                              "students' adversarial term uses an unconditional one: set loss.lambda_adv=0 (the "
                              "distill-cpu default) or distil from a teacher trained with loss.conditional_d=false",
                              path)
        disc = PatchDiscriminator(in_ch=1, ndf=width)
        load_module(disc, path)
        return disc, str(path)
    disc = PatchDiscriminator(in_ch=1, ndf=ndf)
    disc.apply(init_weights)
    return disc, "fresh"


def build_branches(cfg: DistillConfig, teacher_spec: str | Path) -> tuple[list[Branch], dict[str, Any]]:
    """Load the teacher(s), build seeded students, adapters and discriminators; returns them and teacher info."""
    pairs = parse_feature_pairs(cfg.loss.feature_pairs) if cfg.loss.lambda_feat else []
    torch.manual_seed(cfg.seed)
    branches, info = [], {}
    for direction in cfg.direction_list:
        loaded = load_teacher(teacher_spec, direction)
        student = build_generator(cfg.student.preset, **cfg.student.overrides())
        student.apply(init_weights)
        adapters = FeatureAdapters(pairs, student.config, loaded.config)
        disc, disc_source = None, ""
        if cfg.loss.lambda_adv:
            disc, disc_source = _discriminator(loaded.source, f"d_{TARGET[direction]}", cfg.loss.ndf)
        branches.append(Branch(direction, loaded.model, student, adapters, disc, disc_source))
        info[direction] = {"source": str(loaded.source), "config": loaded.config.to_dict(), "size": loaded.size,
                           "ct_window": loaded.ct_window, "discriminator": disc_source}
        if loaded.ct_window != cfg.data.ct_window:
            raise ConfigError(f"the teacher was trained with ct_window '{loaded.ct_window}' but data.ct_window is "
                              f"'{cfg.data.ct_window}'; use --set data.ct_window={loaded.ct_window}")
    return branches, {"spec": str(teacher_spec), "directions": info}


def _check_sizes(cfg: DistillConfig, branches: list[Branch]) -> None:
    step = max(max(b.student.config.size_multiple, b.teacher.config.size_multiple) for b in branches)
    least = 24 if cfg.loss.lambda_adv else step
    for key, value in (("data.size", cfg.data.size), ("data.crop", cfg.data.crop or cfg.data.size)):
        if value < least or value % step:
            raise ConfigError(f"{key}={value}: the student and teacher need a multiple of {step}"
                              f"{' and the discriminator at least 24 pixels' if cfg.loss.lambda_adv else ''}; "
                              f"choose e.g. {max(32, value - value % step)}")


def branch_loss(b: Branch, src: torch.Tensor, tgt: torch.Tensor, cfg: DistillConfig) -> tuple[torch.Tensor, dict]:
    """Weighted student loss of one direction, its named terms (floats) and the student output."""
    lo = cfg.loss
    need_feats = bool(lo.lambda_feat and b.adapters.pairs)
    with torch.no_grad():
        t_out, t_feats = b.teacher.forward_features(src) if need_feats else (b.teacher(src), {})
    s_out, s_feats = b.student.forward_features(src)
    terms = {"out": output_distill_loss(s_out, t_out)}
    weights = {"out": lo.lambda_out, "gt": lo.lambda_gt, "feat": lo.lambda_feat, "adv": lo.lambda_adv,
               "str": lo.lambda_str}
    if lo.paired and lo.lambda_gt:
        terms["gt"] = l1(s_out, tgt)
    if need_feats:
        terms["feat"] = feature_distill_loss(b.adapters(s_feats, t_feats), lo.feat_distance)
    if b.disc is not None:
        terms["adv"] = lsgan_g_loss(b.disc(s_out))
    if lo.lambda_str:
        terms["str"] = structure_loss(src, s_out)
    total = sum(weights[k] * v for k, v in terms.items())
    return total, {f"{b.direction}_{k}": float(v.detach()) for k, v in terms.items()}, s_out.detach()


def distill_step(branches: list[Branch], opt_s: torch.optim.Optimizer, opt_d: torch.optim.Optimizer | None,
                 mr: torch.Tensor, ct: torch.Tensor, cfg: DistillConfig,
                 autocast: Any = contextlib.nullcontext) -> dict[str, float]:
    """One optimisation step of the students (and adapters), then of the discriminators.

    ``autocast`` is a context-manager factory (see :func:`sccg_edge.engine.parallel.autocast_for`) wrapping the forward
    passes; the backward passes and optimizer steps stay in float32.
    """
    discs = [b.disc for b in branches if b.disc is not None]
    set_requires_grad(discs, False)
    opt_s.zero_grad(set_to_none=True)
    total, logs, fakes = 0.0, {}, []
    for b in branches:
        src, tgt = (mr, ct) if b.direction == "mr2ct" else (ct, mr)
        with autocast():
            loss, terms, fake = branch_loss(b, src, tgt, cfg)
        total = total + loss
        logs.update(terms)
        fakes.append((b, tgt, fake))
    total.backward()
    allreduce_grads([m for b in branches for m in (b.student, b.adapters)])
    opt_s.step()
    if opt_d is not None:
        set_requires_grad(discs, True)
        opt_d.zero_grad(set_to_none=True)
        d_total = 0.0
        for b, tgt, fake in fakes:
            with autocast():
                d_loss = lsgan_d_loss(b.disc(tgt), b.disc(fake))
            logs[f"d_{TARGET[b.direction]}"] = float(d_loss.detach())
            d_total = d_total + d_loss
        d_total.backward()
        allreduce_grads(discs)
        opt_d.step()
        broadcast_buffers(discs)
    broadcast_buffers([b.student for b in branches])
    return {"s_total": float(total.detach()), **logs}


def evaluate_generators(gens: dict[str, nn.Module], val: SliceSet, max_slices: int = 0) -> dict[str, float]:
    """Validation PSNR/SSIM/MAE/IoU (0..255 scale) of the given directions; ``score`` is their mean SSIM."""
    return validation_scores({d: load_backend("torch", g) for d, g in gens.items()}, val, max_slices)


def _optimizers(branches: list[Branch], cfg: DistillConfig) -> dict[str, torch.optim.Optimizer]:
    """Adam over students + adapters ("opt_s") and, with an adversarial term, over the discriminators ("opt_d")."""
    betas = (cfg.optim.beta1, cfg.optim.beta2)
    s_params = [p for b in branches for m in (b.student, b.adapters) for p in m.parameters()]
    optims = {"opt_s": torch.optim.Adam(s_params, lr=cfg.optim.lr, betas=betas)}
    discs = [b.disc for b in branches if b.disc is not None]
    if discs:
        optims["opt_d"] = torch.optim.Adam([p for d in discs for p in d.parameters()], lr=cfg.optim.lr, betas=betas)
    return optims


class _DistillProgress(StepProgress):
    label = "distill"

    def info(self, logs: dict[str, float]) -> str:
        return f"student loss {logs['s_total']:.3f}"

    def epoch_line(self, row: dict[str, Any]) -> str:
        parts = [f"{p} SSIM {row[f'{p}_ssim']:.3f} (teacher {row[f'teacher_{p}_ssim']:.3f})"
                 for p in ("sct", "smr") if f"{p}_ssim" in row]
        return f"epoch {row['epoch']}: " + " | ".join(parts)


def distill(cfg: DistillConfig, teacher_spec: str | Path | None, out: Path, resume: bool = False,
            progress: bool = True) -> dict[str, Any]:
    """Distil the teacher into student generator(s); returns a summary (paths, steps, metrics).

    Args:
        cfg: the resolved config (``cfg.teacher`` is used when ``teacher_spec`` is None, e.g. on resume).
        teacher_spec: teacher model spec (shipped name, model folder, teacher run folder, .safetensors).
        out: the run folder (new, or an existing one with ``resume=True``).
        resume: continue ``out`` from its last checkpoint, replaying the same batch order.
        progress: show a progress bar on stderr.

    A run that fails before its first checkpoint leaves nothing under ``out`` (the same command can be rerun).
    """
    with failed_start_leaves_nothing(Path(out), resume):
        return _distill(cfg, teacher_spec, Path(out), resume, progress)


def _distill(cfg: DistillConfig, teacher_spec: str | Path | None, out: Path, resume: bool,
             progress: bool) -> dict[str, Any]:
    spec = str(teacher_spec) if teacher_spec is not None else cfg.teacher
    if not spec:
        raise InputError("no teacher given; pass --teacher (a shipped name, a model folder or a teacher run)")
    cfg = dataclasses.replace(cfg, teacher=spec)
    branches, teacher_info = build_branches(cfg, spec)
    _check_sizes(cfg, branches)
    session = start_session(cfg, out, resume)
    rank, world, device = session.rank, session.world, session.device
    train, val = load_train_val(cfg.data, seed=cfg.seed)
    modules = {k: m for b in branches for k, m in b.trainable().items()}
    for b in branches:
        b.teacher.to(device)
    for m in modules.values():
        m.to(device).train()
    optims = _optimizers(branches, cfg)
    run = Run(cfg, out, modules, optims, session.config_yaml, rank, world)
    state = run.restore(resume)
    if rank == 0 and "teacher_metrics" not in state:
        state["teacher_metrics"] = evaluate_generators({b.direction: b.teacher for b in branches}, val,
                                                       cfg.val_max_slices)
    autocast = autocast_for(cfg.amp, device)
    bar = _DistillProgress(progress and rank == 0, schedule(cfg, len(train), rank, world)[1], state["global_step"])

    def step(mr: torch.Tensor, ct: torch.Tensor) -> dict[str, float]:
        return distill_step(branches, optims["opt_s"], optims.get("opt_d"), mr, ct, cfg, autocast)

    with bar:
        stop_reason = run_epochs(run, train, step, lambda epoch: _end_epoch(run, branches, val, epoch, bar), bar,
                                 device)
    if rank == 0:
        run.checkpoint(out / "checkpoints" / "last")
        n_val = len(val) if not cfg.val_max_slices else min(cfg.val_max_slices, len(val))
        data = {"description": resolve_data_root(cfg.data)[1], "val_slices": n_val,
                "val_patients": len(set(val.patients[:n_val]))}
        export = export_students(branches, cfg, out, teacher_info, state, data)
    else:
        export = {}
    dist_finish(world)
    return {"run": str(out), "stopped_by": stop_reason or "epochs", **state, **export}


def _end_epoch(run: Run, branches: list[Branch], val: SliceSet, epoch: int, bar: _DistillProgress) -> None:
    """Validate the students, log them beside the teacher, keep the best checkpoint."""
    state = run.state
    metrics = evaluate_generators({b.direction: b.student for b in branches}, val, run.cfg.val_max_slices)
    teacher = {f"teacher_{k}": v for k, v in state["teacher_metrics"].items()}
    row = {"epoch": epoch + 1, "step": state["global_step"], "wall_s": round(run.wall_s(), 1), **metrics, **teacher}
    run.log({"type": "epoch", **row})
    write_csv_row(run.out / "metrics.csv", row)
    bar.epoch_done(row)
    state["last_metrics"] = metrics
    if metrics["score"] > state["best_score"]:
        state.update(best_score=metrics["score"], best_epoch=epoch + 1, best_metrics=metrics)
        run.checkpoint(run.out / "checkpoints" / "best")
