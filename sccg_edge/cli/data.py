"""CLI commands: ``data inspect`` (describe a DICOM series or pair folder) and ``data phantom`` (write test data)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sccg_edge.cli._common import print_json, print_kv_table

data_app = typer.Typer(help="Inspect imaging data and write synthetic phantom datasets.", no_args_is_help=True)


def _flatten(summary: dict[str, Any]) -> dict[str, Any]:
    """One table row per leaf: nested dicts become ``parent.child`` keys."""
    rows: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, dict) and value and all(not isinstance(v, dict) for v in value.values()):
            for sub, v in value.items():
                rows[f"{key}.{sub}"] = f"{v:.4g}" if isinstance(v, float) else v
        else:
            rows[key] = f"{value:.4g}" if isinstance(value, float) else value
    return rows


@data_app.command("inspect")
def inspect_cmd(
    path: Annotated[Path, typer.Argument(help="DICOM file, series folder, PNG pair folder (ct/, mr/) or DICOM "
                                              "pair folder.")],
    series: Annotated[str | None, typer.Option("--series", help="SeriesInstanceUID to read when a folder holds "
                                                                 "several.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """Report modality, geometry (slices, size, spacing) and value statistics of PATH."""
    from sccg_edge.data.inspect import inspect_path

    summary = inspect_path(path, series_uid=series)
    if as_json:
        print_json(summary)
    else:
        print_kv_table(f"data inspect: {path}", _flatten(summary))


@data_app.command("phantom")
def phantom_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder to write <patient>/{ct,mr}/*.dcm into.")],
    patients: Annotated[int, typer.Option("--patients", help="Number of phantom patients (1-1000).")] = 4,
    size: Annotated[int, typer.Option("--size", help="Rows and columns of each slice (16 or more, a multiple of "
                                                     "4).")] = 256,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same files).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """Write a synthetic paired CT/MR DICOM phantom dataset (real DICOM files, CT in HU) for tests and demos."""
    from sccg_edge.data.phantom import write_phantom_dataset

    summary = write_phantom_dataset(out, patients=patients, size=size, seed=seed)
    if as_json:
        print_json(summary)
    else:
        print_kv_table(f"data phantom: {out}", _flatten(summary))


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the app."""
    app.add_typer(data_app, name="data")
