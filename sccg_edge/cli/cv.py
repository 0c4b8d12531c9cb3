"""CLI: ``cv``, patient cross-validation of a training recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def cv(
    recipe: str = typer.Option("cpu", help="Packaged recipe (paper, cpu) or a YAML file."),
    folds: int = typer.Option(4, help="Patient folds; each tests on its share of the patients."),
    budget_minutes: float = typer.Option(30.0, help="Wall-clock minutes of training per fold (over every resume)."),
    out: Path = typer.Option(..., help="Study folder: one run per fold (fold0, ...); an existing one is continued."),
    data: Optional[Path] = typer.Option(None, help="Paired slices (default: ../shared pairs, else the phantom)."),
    only: str = typer.Option("", help="Train only these folds now, e.g. 0,3 (the report covers every finished one)."),
    report_only: bool = typer.Option(False, "--report-only", help="Train nothing; rewrite the report of the "
                                     "finished folds (e.g. after folds ran as separate processes)."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe key: --set loss.lambda_ssim=1"),
    students: str = typer.Option("", help="Also distil these student presets from each fold's teacher (e.g. "
                                          "student-s,student-ps) and score them beside it on the fold's test patients."),
    student_budget_minutes: float = typer.Option(10.0, help="Budget per student and fold (the teacher's clock)."),
    student_set: list[str] = typer.Option([], "--student-set", help="Override a distill-cpu key for the students."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Cross-validate a recipe over patient folds: per-fold and mean +- std metrics, learning curves, a report."""
    from sccg_edge.cli._common import print_json, result_stream
    from sccg_edge.config import CvConfig, parse_set
    from sccg_edge.train import run_cv

    cfg = CvConfig(recipe=recipe, folds=folds, budget_minutes=budget_minutes, out=str(out),
                   data=str(data) if data else "", only=only, report_only=report_only, overrides=parse_set(set_),
                   students=students, student_budget_minutes=student_budget_minutes,
                   student_overrides=parse_set(student_set))
    result = run_cv(cfg)
    if json_out:
        print_json(result)
        return
    result_stream().write((out / "report.md").read_text())


def register(app: typer.Typer) -> None:
    """Add ``cv``."""
    app.command("cv")(cv)
