"""CLI: ``demo``, the main job on the embedded default data, step by step with a report at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def demo(
    out: Optional[Path] = typer.Option(None, help="New folder for everything the demo writes "
                                       "(default: runs/demo-<timestamp>)."),
    patients: int = typer.Option(4, help="Synthetic phantom patients to generate."),
    size: int = typer.Option(256, help="Phantom slice size."),
    bench_iters: int = typer.Option(10, help="Timed runs per benchmark case."),
    json_out: bool = typer.Option(False, "--json", help="Print the final report as one JSON object."),
) -> None:
    """The main job: write the synthetic phantom, inspect it, run the shipped models on it, then bench them."""
    from sccg_edge.cli._common import print_json, print_kv_table
    from sccg_edge.demo import run_demo

    report = run_demo(out, patients=patients, size=size, bench_iters=bench_iters)
    if json_out:
        print_json(report)
    else:
        print_kv_table("sccg-edge demo", {k: v for k, v in report.items() if not isinstance(v, (dict, list))})


def register(app: typer.Typer) -> None:
    """Add ``demo``."""
    app.command("demo")(demo)
