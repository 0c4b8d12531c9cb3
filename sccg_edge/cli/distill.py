"""CLI: ``distill`` (a student generator learns from the frozen teacher).

Bare ``sccg-edge distill`` distils the default student (``student-s``) from the shipped ``teacher`` with the
``distill-cpu`` recipe on a CPU (``distill`` with CUDA) into a new ``runs/distill-<student>-<timestamp>/``, and
says so before it starts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

DEFAULT_TEACHER = "teacher"


def distill(
    teacher: Optional[str] = typer.Option(None, help="Teacher: shipped name, model folder or teacher run folder "
                                          "(its d_ct/d_mr initialise the adversarial term). Default: the shipped "
                                          "teacher."),
    student: Optional[str] = typer.Option(None, help="Student preset: student-s (default), student-ps, "
                                                    "student-s-plain, student-xs."),
    data: Optional[Path] = typer.Option(None, help="Paired slices (PNG pair folder or phantom folder). Default: "
                                        "../shared/data pairs if present, else the embedded phantom."),
    out: Optional[Path] = typer.Option(None, help="New run folder (refused if it exists and is not empty). "
                                       "Default: runs/distill-<student>-<timestamp>."),
    resume: Optional[Path] = typer.Option(None, help="Continue a distillation run folder where it stopped."),
    recipe: Optional[str] = typer.Option(None, help="Packaged recipe (distill, distill-cpu) or a YAML file. "
                                         "Default: distill-cpu on a CPU, distill with CUDA."),
    directions: Optional[str] = typer.Option(None, help="both, mr2ct or ct2mr."),
    epochs: Optional[int] = typer.Option(None, help="Override optim.epochs."),
    device: Optional[str] = typer.Option(None, help="auto, cpu or cuda."),
    max_minutes: Optional[float] = typer.Option(None, help="Stop (with a checkpoint) after this much wall time."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many steps in total."),
    set_: list[str] = typer.Option([], "--set", help="Override any config key: --set loss.lambda_feat=0"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object (default: a short table)."),
) -> None:
    """Distil the frozen teacher into a small student (both directions or one)."""
    from sccg_edge.cli._common import command_wall_s, env_set, print_json, print_kv_table, say
    from sccg_edge.config import load_distill_config, parse_set
    from sccg_edge.distill import distill as run_distill
    from sccg_edge.errors import InputError

    overrides = parse_set(env_set("distill") + list(set_))
    for key, value in (("data.root", str(data) if data else None), ("student.preset", student),
                       ("directions", directions), ("optim.epochs", epochs), ("device", device),
                       ("max_minutes", max_minutes), ("max_steps", max_steps), ("teacher", teacher)):
        if value is not None:
            overrides[key] = value
    if resume is not None:
        if not (Path(resume) / "config.yaml").is_file():
            raise InputError("cannot resume: not a distillation run folder (config.yaml is missing)", resume)
        cfg = load_distill_config(str(Path(resume) / "config.yaml"), overrides)
        say(f"distill: resuming {resume}")
        summary = run_distill(cfg, None, resume, resume=True)
    else:
        chosen = []
        if recipe is None:
            recipe = _default_recipe(device)
            chosen.append("--recipe")
        cfg = load_distill_config(recipe, overrides)
        if teacher is None:
            teacher = DEFAULT_TEACHER
            chosen.append("--teacher")
        if out is None:
            out = Path("runs") / time.strftime(f"distill-{cfg.student.preset}-%Y%m%d-%H%M%S")
            chosen.append("--out")
        say(f"distill: student {cfg.student.preset} from teacher '{teacher}', recipe {cfg.recipe} "
            f"({cfg.optim.epochs} epochs{_limits(cfg)}, directions {cfg.directions}) into {out}")
        if chosen or student is None:
            say("  defaults chosen for " + ", ".join(chosen + ([] if student else ["--student"])) +
                "; change them with --teacher, --student, --recipe, --epochs, --max-minutes, --out; stop with Ctrl-C "
                f"and continue with --resume {out}")
        summary = run_distill(cfg, teacher, out)
    summary = {**summary, "train_wall_s": round(float(summary.get("wall_s", 0.0)), 1),
               "wall_s": round(command_wall_s(), 1)}
    if json_out:
        print_json(summary)
    else:
        print_kv_table("distill", _human(summary))


def _default_recipe(device: Optional[str]) -> str:
    import torch

    return "distill" if device == "cuda" or (device in (None, "auto") and torch.cuda.is_available()) \
        else "distill-cpu"


def _limits(cfg) -> str:  # type: ignore[no-untyped-def]
    parts = [f"at most {cfg.max_steps} steps" if cfg.max_steps else "",
             f"at most {cfg.max_minutes:g} min" if cfg.max_minutes else "",
             f"budget {cfg.budget_minutes:g} min" if cfg.budget_minutes else ""]
    return "".join(f", {p}" for p in parts if p)


def _human(summary: dict) -> dict:
    """The few fields a person reads after a distillation (``--json`` has everything)."""
    rows = {"run": summary.get("run"), "stopped by": summary.get("stopped_by"),
            "epochs done": summary.get("epoch"), "steps": summary.get("global_step"),
            "wall time (s)": summary.get("wall_s"), "of it training (s)": summary.get("train_wall_s")}
    best = summary.get("best_metrics") or summary.get("last_metrics") or {}
    teacher = summary.get("teacher_metrics") or {}
    for prefix, name in (("sct", "sCT"), ("smr", "sMR")):
        if f"{prefix}_ssim" in best:
            rows[f"val {name} SSIM (teacher)"] = (f"{best[f'{prefix}_ssim']:.4f} "
                                                  f"({teacher.get(f'{prefix}_ssim', float('nan')):.4f})")
    for key in ("student", "card"):
        if summary.get(key):
            rows[key] = summary[key]
    return rows


def register(app: typer.Typer) -> None:
    """Add ``distill``."""
    app.command("distill")(distill)
