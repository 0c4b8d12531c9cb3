"""CLI: ``train`` (the scCycleGAN teacher)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def train(
    recipe: str = typer.Option("cpu", help="Packaged recipe (paper, cpu) or a YAML file."),
    data: Optional[Path] = typer.Option(None, help="Paired slices: PNG pair folder (ct/, mr/) or a phantom folder. "
                                        "Default: ../shared/data pairs if present, else the embedded phantom."),
    out: Optional[Path] = typer.Option(None, help="New run folder (refused if it exists and is not empty)."),
    resume: Optional[Path] = typer.Option(None, help="Continue a run folder exactly where it stopped."),
    epochs: Optional[int] = typer.Option(None, help="Override optim.epochs."),
    batch_size: Optional[int] = typer.Option(None, help="Override optim.batch_size."),
    lr: Optional[float] = typer.Option(None, help="Override optim.lr."),
    size: Optional[int] = typer.Option(None, help="Override data.size."),
    device: Optional[str] = typer.Option(None, help="auto, cpu or cuda."),
    max_minutes: Optional[float] = typer.Option(None, help="Stop (with a checkpoint) after this much wall time."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many steps in total."),
    set_: list[str] = typer.Option([], "--set", help="Override any config key: --set loss.lambda_str=5"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config and model cost, then exit."),
) -> None:
    """Train the scCycleGAN teacher (MR->CT and CT->MR together)."""
    from sccg_edge.cli._common import print_json, result_stream
    from sccg_edge.config import TrainConfig, dump_yaml, load_recipe, parse_set
    from sccg_edge.errors import InputError
    from sccg_edge.train import model_cost, resume_config, train_teacher

    overrides = parse_set(set_)
    for key, value in (("data.root", str(data) if data else None), ("optim.epochs", epochs),
                       ("optim.batch_size", batch_size), ("optim.lr", lr), ("data.size", size), ("device", device),
                       ("max_minutes", max_minutes), ("max_steps", max_steps)):
        if value is not None:
            overrides[key] = value
    if resume is not None:
        cfg = resume_config(resume, overrides)
    else:
        cfg = load_recipe(recipe, cls=TrainConfig, overrides=overrides)
    if dry_run:
        result_stream().write(dump_yaml(cfg))
        print_json({"model_cost": model_cost(cfg)})
        return
    if resume is None and out is None:
        raise InputError("give --out RUN_DIR for a new run (or --resume RUN_DIR to continue one)")
    summary = train_teacher(cfg, resume or out, resume=resume is not None)
    print_json(summary)


def ship(
    run: Path = typer.Option(..., help="Training or distillation run folder (its checkpoints/best is shipped)."),
    dest: Path = typer.Option(..., help="New model folder, e.g. sccg_edge/weights/teacher."),
    fp32: bool = typer.Option(False, "--fp32", help="Keep FP32 weights (default: FP16 storage, half the size)."),
    notes: str = typer.Option("", help="Text placed at the top of the model card."),
    compare: str = typer.Option("", help="Also score this model (e.g. teacher) on the test split, side by side."),
    cv: str = typer.Option("", help="A cross-validation result (cv.json of `sccg-edge cv`) shown on the card as the "
                                    "accuracy to expect on unseen patients."),
) -> None:
    """Package a run's best checkpoint as a model folder with a measured model card (val and test metrics)."""
    from sccg_edge.cli._common import print_json
    from sccg_edge.config import ShipConfig
    from sccg_edge.ship import ship_run

    card = ship_run(run, dest, ShipConfig(half=not fp32, notes=notes, compare=compare, cv=cv))
    print_json({"dest": str(dest), "val": card["val"], "test": card["test"]})


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``ship``."""
    app.command("train")(train)
    app.command("ship")(ship)
