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
    import yaml

    from sccg_edge.cli._common import print_json
    from sccg_edge.config import load_recipe, parse_set, to_dict
    from sccg_edge.errors import InputError

    overrides = parse_set(set_)
    for key, value in (("data.root", str(data) if data else None), ("optim.epochs", epochs),
                       ("optim.batch_size", batch_size), ("optim.lr", lr), ("data.size", size), ("device", device),
                       ("max_minutes", max_minutes), ("max_steps", max_steps)):
        if value is not None:
            overrides[key] = value
    if resume is not None:
        from sccg_edge.train.run import resume_config

        cfg = resume_config(resume, overrides)
    else:
        cfg = load_recipe(recipe, overrides=overrides)
    if dry_run:
        from sccg_edge.cli._common import result_stream

        result_stream().write(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        print_json({"model_cost": _model_cost(cfg)})
        return
    if resume is None and out is None:
        raise InputError("give --out RUN_DIR for a new run (or --resume RUN_DIR to continue one)")
    from sccg_edge.train.run import train_teacher

    summary = train_teacher(cfg, resume or out, resume=resume is not None)
    print_json(summary)


def _model_cost(cfg) -> dict:
    from sccg_edge.models import count_macs, format_macs, resolve_generator_config
    from sccg_edge.models.discriminator import PatchDiscriminator
    from sccg_edge.train.teacher import generator_overrides

    gcfg = resolve_generator_config(cfg.model.generator, **generator_overrides(cfg))
    from sccg_edge.models import build_generator

    shape = (1, 1, cfg.data.size, cfg.data.size)
    g = count_macs(build_generator(gcfg), shape)
    d = count_macs(PatchDiscriminator(in_ch=1, ndf=cfg.model.ndf), shape)
    return {"input": list(shape), "generator": gcfg.to_dict(), "generator_macs": g.macs,
            "generator_macs_human": format_macs(g.macs), "generator_params": g.params,
            "discriminator_macs": d.macs, "discriminator_params": d.params}


def ship(
    run: Path = typer.Option(..., help="Training or distillation run folder (its checkpoints/best is shipped)."),
    dest: Path = typer.Option(..., help="New model folder, e.g. sccg_edge/weights/teacher."),
    fp32: bool = typer.Option(False, "--fp32", help="Keep FP32 weights (default: FP16 storage, half the size)."),
    notes: str = typer.Option("", help="Text placed at the top of the model card."),
    compare: str = typer.Option("", help="Also score this model (e.g. teacher) on the test split, side by side."),
) -> None:
    """Package a run's best checkpoint as a model folder with a measured model card (val and test metrics)."""
    from sccg_edge.cli._common import print_json
    from sccg_edge.train.ship import ship_run

    card = ship_run(run, dest, half=not fp32, notes=notes, compare=compare)
    print_json({"dest": str(dest), "val": card["val"], "test": card["test"]})


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``ship``."""
    app.command("train")(train)
    app.command("ship")(ship)
