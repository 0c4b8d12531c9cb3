"""CLI: ``demo``, the main job on the embedded default data, step by step with a summary at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def demo(
    out: Optional[Path] = typer.Option(None, help="New folder for everything the demo writes "
                                       "(default: runs/demo-<timestamp>)."),
    patients: int = typer.Option(4, help="Synthetic phantom patients to generate."),
    size: int = typer.Option(256, help="Phantom slice size."),
    slices: int = typer.Option(12, help="Slices per phantom patient."),
    iters: int = typer.Option(10, help="Timed runs per model in the quick speed check."),
    bench: bool = typer.Option(False, "--bench", help="Also run the full benchmark (every shipped model x "
                                                      "backend x precision; many minutes) into OUT/bench."),
    bench_iters: int = typer.Option(10, help="Timed runs per case of the full benchmark (with --bench)."),
    json_out: bool = typer.Option(False, "--json", help="Print the final report as one JSON object."),
) -> None:
    """The main job: write the synthetic phantom, run the shipped teacher, student and an INT8 student on it, time
    them and show them side by side (the long benchmark with --bench)."""
    from sccg_edge.cli._common import print_json, result_stream
    from sccg_edge.demo import run_demo

    report = run_demo(out, patients=patients, size=size, slices=slices, iters=iters, bench=bench,
                      bench_iters=bench_iters)
    if json_out:
        print_json(report)
    else:
        result_stream().write("\n" + "\n".join(report["summary"]) + "\n")


def register(app: typer.Typer) -> None:
    """Add ``demo``."""
    app.command("demo")(demo)
