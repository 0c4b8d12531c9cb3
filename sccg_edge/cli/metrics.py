"""CLI command ``metrics``: PSNR / SSIM / MAE / IoU of a folder of predictions against a folder of ground truths."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer


class ScaleChoice(str, Enum):
    """Intensity scale of the metrics."""

    uint8 = "uint8"
    hu = "hu"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("metrics")(metrics)


def metrics(
    pred: Annotated[Path, typer.Argument(help="Folder of predicted images (.png or .dcm).")],
    gt: Annotated[Path, typer.Argument(help="Folder of ground-truth images with the same file names.")],
    scale: Annotated[ScaleChoice, typer.Option(
        "--scale", help="uint8: the paper's 0..255 scale; hu: SynthRAD2023 HU metrics (DICOM only).")
    ] = ScaleChoice.uint8,
    head_mask: Annotated[bool, typer.Option("--head-mask", help="uint8 only: PSNR/SSIM/MAE inside a head mask.")
                         ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """PSNR, SSIM, MAE and IoU per image pair and their mean (definitions: sccg_edge.metrics.image)."""
    from sccg_edge.metrics.folders import compare_folders

    result = compare_folders(pred, gt, scale=scale.value, head_mask=head_mask)
    if as_json:
        from sccg_edge.cli._common import print_json
        from sccg_edge.utils.jsonsafe import json_safe

        print_json(json_safe(result))
    else:
        _print_table(result)


def _print_table(result: dict[str, Any]) -> None:
    from rich.table import Table

    units = "HU" if result["scale"] == "hu" else "0..255"
    table = Table(title=f"metrics ({result['scale']} scale, {result['n']} images, {result['mask']})")
    table.add_column("name")
    for header in ("PSNR dB", "SSIM", f"MAE {units}", result["iou_threshold"]):
        table.add_column(header, justify="right")
    keys = ("psnr", "ssim", "mae", "iou")
    for row in result["images"]:
        table.add_row(row["name"], *(_fmt(row[k]) for k in keys))
    table.add_section()
    table.add_row("mean", *(_fmt(result["mean"][k]) for k in keys), style="bold")
    from sccg_edge.cli._common import result_console

    result_console().print(table)


def _fmt(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else str(value)
