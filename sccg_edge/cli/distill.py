"""CLI: ``distill`` (a student generator learns from the frozen teacher)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def distill(
    teacher: Optional[str] = typer.Option(None, help="Teacher: shipped name (teacher), model folder or teacher run "
                                          "folder (its d_ct/d_mr initialise the adversarial term)."),
    student: Optional[str] = typer.Option(None, help="Student preset: student-s, student-ps, student-s-plain, "
                                                    "student-xs."),
    data: Optional[Path] = typer.Option(None, help="Paired slices (PNG pair folder or phantom folder). Default: "
                                        "../shared/data pairs if present, else the embedded phantom."),
    out: Optional[Path] = typer.Option(None, help="New run folder (refused if it exists and is not empty)."),
    resume: Optional[Path] = typer.Option(None, help="Continue a distillation run folder where it stopped."),
    recipe: str = typer.Option("distill", help="Packaged recipe (distill, distill-cpu) or a YAML file."),
    directions: Optional[str] = typer.Option(None, help="both, mr2ct or ct2mr."),
    epochs: Optional[int] = typer.Option(None, help="Override optim.epochs."),
    device: Optional[str] = typer.Option(None, help="auto, cpu or cuda."),
    max_minutes: Optional[float] = typer.Option(None, help="Stop (with a checkpoint) after this much wall time."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many steps in total."),
    set_: list[str] = typer.Option([], "--set", help="Override any config key: --set loss.lambda_feat=0"),
) -> None:
    """Distil the frozen teacher into a small student (both directions or one)."""
    from sccg_edge.cli._common import print_json
    from sccg_edge.config import load_distill_config, parse_set
    from sccg_edge.distill import distill as run_distill
    from sccg_edge.errors import InputError

    overrides = parse_set(set_)
    for key, value in (("data.root", str(data) if data else None), ("student.preset", student),
                       ("directions", directions), ("optim.epochs", epochs), ("device", device),
                       ("max_minutes", max_minutes), ("max_steps", max_steps), ("teacher", teacher)):
        if value is not None:
            overrides[key] = value
    if resume is not None:
        if not (Path(resume) / "config.yaml").is_file():
            raise InputError("cannot resume: not a distillation run folder (config.yaml is missing)", resume)
        cfg = load_distill_config(str(Path(resume) / "config.yaml"), overrides)
        summary = run_distill(cfg, None, resume, resume=True)
    else:
        if out is None:
            raise InputError("give --out RUN_DIR for a new distillation (or --resume RUN_DIR to continue one)")
        if teacher is None:
            raise InputError("give --teacher: a shipped model name, a model folder or a teacher run folder")
        cfg = load_distill_config(recipe, overrides)
        summary = run_distill(cfg, teacher, out)
    print_json(summary)


def register(app: typer.Typer) -> None:
    """Add ``distill``."""
    app.command("distill")(distill)
