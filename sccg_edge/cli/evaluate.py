"""CLI: ``evaluate``, test-split metrics of a model in both directions."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def evaluate(
    model: str = typer.Option(..., help="Shipped model name, model folder or training run folder."),
    split: str = typer.Option("test", help="train, val, test or calibration (patient-level)."),
    data: Optional[Path] = typer.Option(None, help="Paired slices (default: ../shared pairs, else the phantom)."),
    direction: str = typer.Option("both", help="both, mr2ct or ct2mr."),
    patients: str = typer.Option("", help="Score these patients (comma-separated ids) instead of a split, e.g. "
                                          "to check a run on patients it trained on."),
    tta: str = typer.Option("none", help="Test-time augmentation: none, or flip (mean with the mirrored "
                                         "prediction; twice the inference cost)."),
    register_gt: str = typer.Option("none", "--register", help="Score against ground truth registered onto the "
                                    "input: none, rigid or affine (mutual information; needs SimpleITK)."),
    set_: list[str] = typer.Option([], "--set", help="Override any EvalConfig key: --set size=128"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """PSNR / SSIM / MAE / IoU of sCT and sMR on a split, whole slice and inside the head mask (0..255 scale)."""
    from sccg_edge.cli._common import print_json, print_kv_table
    from sccg_edge.config import EvalConfig, apply_overrides, parse_set
    from sccg_edge.evaluate import evaluate_model

    dirs = ("mr2ct", "ct2mr") if direction == "both" else direction
    cfg = EvalConfig(split=split, directions=dirs, data=str(data) if data else "", patients=patients,
                     register=register_gt, tta=tta)
    report = evaluate_model(model, apply_overrides(cfg, parse_set(set_), "--set"))
    if json_out:
        print_json(report)
        return
    rows = {k: v for k, v in report.items() if not isinstance(v, dict)}
    for key in ("sct", "smr"):
        for metric, value in report.get(key, {}).items():
            rows[f"{key}.{metric}"] = f"{value:.4f}"
    print_kv_table(f"evaluate {model} on {f'patients {patients}' if patients else split}", rows)


def register(app: typer.Typer) -> None:
    """Add ``evaluate``."""
    app.command("evaluate")(evaluate)
