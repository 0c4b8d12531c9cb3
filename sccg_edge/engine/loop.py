"""The resumable epoch/step loop that ``train`` (the teacher) and ``distill`` (the students) share.

A run's position is ``state = {"epoch", "step_in_epoch", "global_step", "wall_s", ...}``, saved in every checkpoint.
The batch order of an epoch depends on the seed and the epoch alone (:func:`~sccg_edge.data.slices.epoch_order`),
so a run resumed from ``checkpoints/last`` replays exactly the batches an uninterrupted run would have seen, and the
log records written after that checkpoint are dropped before they are written again.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from sccg_edge.config import dump_yaml
from sccg_edge.data.slices import SliceSet, epoch_order, make_batch
from sccg_edge.engine.checkpoint import load_checkpoint, save_checkpoint
from sccg_edge.engine.parallel import dist_setup
from sccg_edge.errors import InputError
from sccg_edge.utils.fs import atomic_write_text, check_writable

if TYPE_CHECKING:
    from typing_extensions import Self

#: ``step(mr, ct) -> logs``: one optimisation step on a batch (the loop has set the learning rate of every
#: optimizer); the logs are floats for the log and the progress bar.
Step = Callable[[torch.Tensor, torch.Tensor], dict[str, float]]


def now() -> float:
    """The loop's clock (seconds, monotonic)."""
    return time.perf_counter()


def lr_factor(step: int, total: int, cfg: Any, frac: float | None = None) -> float:
    """Learning-rate multiplier at ``step`` of ``total``: warm-up, then constant / linear decay / cosine.

    ``frac`` (the share of a wall-clock budget spent) replaces ``step / total`` as the schedule's progress.
    """
    o = cfg.optim
    if o.warmup_steps and step < o.warmup_steps:
        return (step + 1) / o.warmup_steps
    if o.schedule == "constant" or (total <= 0 and frac is None):
        return 1.0
    frac = min(1.0, step / total if frac is None else frac)
    if o.schedule == "linear":  # CycleGAN: constant for the first half, then linearly to zero
        return 1.0 if frac < 0.5 else max(0.0, 2.0 * (1.0 - frac))
    return 0.5 * (1.0 + math.cos(math.pi * frac))


@dataclass
class Run:
    """A run folder being trained: what is checkpointed, where, and by which rank."""

    cfg: Any  # TrainConfig or DistillConfig: both have seed, optim, data, loss.paired, save_every_steps, max_*
    out: Path
    modules: dict[str, nn.Module]
    optims: dict[str, torch.optim.Optimizer]
    config_yaml: str
    rank: int = 0
    world: int = 1
    state: dict[str, Any] = field(default_factory=dict)
    t_start: float = 0.0
    wall_before: float = 0.0
    cpu_start: float = 0.0
    cpu_before: float = 0.0

    def wall_s(self) -> float:
        """Training wall time of the run so far, over every resume."""
        return self.wall_before + now() - self.t_start

    def cpu_s(self) -> float:
        """CPU time of the training process (all its threads) so far, over every resume."""
        return self.cpu_before + time.process_time() - self.cpu_start

    def budget_s(self) -> float:
        """Seconds spent on the clock the budget counts (``budget_clock``: wall or cpu)."""
        return self.cpu_s() if getattr(self.cfg, "budget_clock", "wall") == "cpu" else self.wall_s()

    def checkpoint(self, folder: Path) -> None:
        """Write a checkpoint (rank 0 only): weights, optimizer states, the run state and the config."""
        if self.rank == 0:
            self.state["wall_s"] = self.wall_s()
            self.state["cpu_s"] = self.cpu_s()
            save_checkpoint(folder, self.modules, self.optims, dict(self.state), self.config_yaml)

    def restore(self, resume: bool) -> dict[str, Any]:
        """The run's position: a fresh start, or (``resume``) the last checkpoint's state with its weights loaded."""
        self.state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best_score": -1.0, "wall_s": 0.0,
                      **(restore_last(self.out, self.modules, self.optims, self.rank) if resume else {})}
        return self.state

    def log(self, record: dict[str, Any]) -> None:
        """Append a record to ``log.jsonl`` (rank 0 only)."""
        if self.rank == 0:
            with (self.out / "log.jsonl").open("a") as fh:
                fh.write(json.dumps(record) + "\n")


@dataclass(frozen=True)
class Session:
    """Where a training process runs: its rank of ``world`` ranks, its torch device, and the resolved config text."""

    rank: int
    world: int
    device: str
    config_yaml: str


@contextmanager
def failed_start_leaves_nothing(out: Path, resume: bool) -> Iterator[None]:
    """Around a whole run: if it fails (or is interrupted) before its first checkpoint, remove what it wrote.

    A new run folder is removed, an existing empty one emptied again, so the same command can simply be rerun; once
    a checkpoint exists the folder stays, and ``--resume`` continues it. A resumed run is never touched.
    """
    out = Path(out)
    fresh = not resume and not (out.is_dir() and any(out.iterdir()))
    existed = out.exists()
    try:
        yield
    except BaseException:
        if fresh and int(os.environ.get("RANK", "0")) == 0 and out.is_dir() and not (out / "checkpoints").exists():
            if existed:
                for child in out.iterdir():
                    if child.is_dir():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            else:
                shutil.rmtree(out, ignore_errors=True)
        raise


def start_session(cfg: Any, out: Path, resume: bool) -> Session:
    """Set a run up: data parallelism under torchrun, CPU threads, and (rank 0) the run folder with its config.yaml.

    Refuses a folder holding another run (unless resuming it) before anything is written.
    """
    rank, world, device = dist_setup(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    config_yaml = dump_yaml(cfg)
    if rank == 0:
        check_writable(out)
        prepare_run_dir(out, resume)
        atomic_write_text(out / "config.yaml", config_yaml)
    return Session(rank, world, device, config_yaml)


def prepare_run_dir(out: Path, resume: bool) -> None:
    """Check a run folder: an existing run to resume, or a new or empty folder (never overwrite a run)."""
    if resume:
        if not (out / "config.yaml").is_file():
            raise InputError("cannot resume: this is not a run folder (config.yaml is missing)", out)
        return
    if out.exists() and any(out.iterdir()):
        raise InputError("output folder exists and is not empty; nothing was overwritten. Resume it with "
                         "`--resume` or choose a new --out", out)
    out.mkdir(parents=True, exist_ok=True)


def restore_last(out: Path, modules: dict[str, nn.Module], optims: dict[str, torch.optim.Optimizer],
                 rank: int) -> dict[str, Any]:
    """Load the last checkpoint of a run (if any) and drop log records written after it; returns its state."""
    last = out / "checkpoints" / "last"
    if not last.exists() and last.with_name("last.old").exists():
        last = last.with_name("last.old")  # a crash during the folder swap: the previous one is complete
    state: dict[str, Any] = {}
    if last.exists():
        state = load_checkpoint(last, modules, optims)
        state.pop("optimizers", None)
    if rank == 0:
        _truncate_log(out / "log.jsonl", int(state.get("global_step", 0)))
    return state


def _truncate_log(log: Path, step: int) -> None:
    """Drop log records written after the checkpoint we resume from (they will be replayed)."""
    if not log.exists():
        return
    keep = [line for line in log.read_text().splitlines() if line and json.loads(line).get("step", 0) <= step]
    atomic_write_text(log, "".join(line + "\n" for line in keep))


def write_csv_row(path: Path, row: dict[str, Any]) -> None:
    """Append a row to a CSV file, writing the header first when the file is new."""
    new = not path.exists()
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def schedule(cfg: Any, n_train: int, rank: int = 0, world: int = 1) -> tuple[int, int]:
    """(steps per epoch, total steps) of a run on ``n_train`` training slices."""
    per_rank = len(epoch_order(n_train, 0, cfg.seed, rank, world))
    steps_per_epoch = max(1, per_rank // cfg.optim.batch_size)
    return steps_per_epoch, steps_per_epoch * cfg.optim.epochs


def budget_fraction(cfg: Any, spent_s: float) -> float | None:
    """Share of the run's budget (``budget_minutes``) spent after ``spent_s`` seconds; None without a budget."""
    budget = float(getattr(cfg, "budget_minutes", 0.0) or 0.0)
    return spent_s / (60.0 * budget) if budget > 0 else None


def should_stop(cfg: Any, state: dict[str, Any], t_start: float, spent_s: float = 0.0) -> str:
    """Why the run must stop now ("max_steps", "budget", "max_minutes"), or "" to go on.

    ``spent_s``: seconds spent on the budget's clock (:meth:`Run.budget_s`).
    """
    if cfg.max_steps and state["global_step"] >= cfg.max_steps:
        return "max_steps"
    spent = budget_fraction(cfg, spent_s)
    if spent is not None and spent >= 1.0:
        return "budget"
    if cfg.max_minutes and (now() - t_start) / 60.0 >= cfg.max_minutes:
        return "max_minutes"
    return ""


def run_epochs(run: Run, train: SliceSet, step: Step, end_epoch: Callable[[int], None], bar: Any,
               device: str) -> str:
    """Train from ``run.state`` to the last epoch or a stop condition; returns the stop reason ("" = all epochs).

    ``end_epoch(epoch)`` runs on rank 0 after each completed epoch (validation, best checkpoint); ``last`` is then
    written. ``bar`` has ``advance(logs)``. Every ``cfg.save_every_steps`` steps ``last`` is written as well.
    """
    cfg, state = run.cfg, run.state
    run.t_start, run.wall_before = now(), float(state["wall_s"])
    run.cpu_start, run.cpu_before = time.process_time(), float(state.get("cpu_s", 0.0))
    batch = cfg.optim.batch_size
    steps_per_epoch, total_steps = schedule(cfg, len(train), run.rank, run.world)
    last = run.out / "checkpoints" / "last"
    stop_reason = should_stop(cfg, state, run.t_start, run.budget_s())  # a resumed run whose budget is spent
    if stop_reason:
        return stop_reason
    while state["epoch"] < cfg.optim.epochs:
        epoch = state["epoch"]
        order = epoch_order(len(train), epoch, cfg.seed, run.rank, run.world)
        while state["step_in_epoch"] < steps_per_epoch:
            k = state["step_in_epoch"]
            idx = order[k * batch:(k + 1) * batch]
            mr, ct = make_batch(train, idx, epoch, cfg.seed, cfg.data,
                                unpaired_shift=0 if cfg.loss.paired else 1 + epoch)
            lr = cfg.optim.lr * lr_factor(state["global_step"], total_steps, cfg, budget_fraction(cfg, run.budget_s()))
            for opt in run.optims.values():
                for group in opt.param_groups:
                    group["lr"] = lr
            logs = step(mr.to(device), ct.to(device))
            state["step_in_epoch"] += 1
            state["global_step"] += 1
            run.log({"type": "step", "step": state["global_step"], "epoch": epoch, "batch": idx, "lr": lr, **logs})
            bar.advance(logs)
            if cfg.save_every_steps and state["global_step"] % cfg.save_every_steps == 0:
                run.checkpoint(last)
            stop_reason = should_stop(cfg, state, run.t_start, run.budget_s())
            if stop_reason:
                break
        if stop_reason and state["step_in_epoch"] < steps_per_epoch:
            break
        state["epoch"] += 1
        state["step_in_epoch"] = 0
        if run.rank == 0:
            end_epoch(epoch)
        run.checkpoint(last)
        if stop_reason:
            break
    return stop_reason


class StepProgress:
    """A rich progress bar over optimisation steps (a no-op when disabled); subclasses format the logs."""

    label = "train"

    def __init__(self, enabled: bool, total: int, done: int) -> None:
        self.enabled = enabled
        if enabled:
            self.progress = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                     console=Console(stderr=True))
            self.task = self.progress.add_task(self.label, total=total, completed=done, info="")

    def __enter__(self) -> Self:
        if self.enabled:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.__exit__(*exc)

    def info(self, logs: dict[str, float]) -> str:
        return f"G {logs['g_total']:.3f} D {logs['d_ct'] + logs['d_mr']:.3f}"

    def advance(self, logs: dict[str, float]) -> None:
        if self.enabled:
            self.progress.update(self.task, advance=1, info=self.info(logs))

    def epoch_line(self, row: dict[str, Any]) -> str:
        return (f"epoch {row['epoch']}: sCT SSIM {row['sct_ssim']:.3f} MAE {row['sct_mae']:.1f} | "
                f"sMR SSIM {row['smr_ssim']:.3f} MAE {row['smr_mae']:.1f}")

    def epoch_done(self, row: dict[str, Any]) -> None:
        if self.enabled:
            self.progress.console.print(self.epoch_line(row))
