"""``sccg-edge bench``: latency, memory, size and fidelity of models x backends x precisions x sizes."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to ``app``."""
    app.command("bench")(bench)


def bench(
    device: str = typer.Option("cpu", help="cpu or cuda."),
    models: str | None = typer.Option(None, help="Comma-separated model specs (shipped names, folders, "
                                         ".safetensors). Default: the shipped models, else untrained presets."),
    precisions: str | None = typer.Option(None, help="Comma-separated: fp32,fp16,bf16,int8."),
    backends: str | None = typer.Option(None, help="Comma-separated: torch,onnxruntime,openvino,tensorrt. "
                                           "Default: every backend available here."),
    size: int | None = typer.Option(None, help="One slice size (overrides --sizes)."),
    sizes: str | None = typer.Option(None, help="Comma-separated slice sizes (default 512,256)."),
    data: Path | None = typer.Option(None, help="Paired data folder for fidelity (default: shared pairs, "
                                        "else the phantom)."),
    threads: int | None = typer.Option(None, help="CPU threads per backend (0: all usable cores)."),
    warmup: int | None = typer.Option(None, help="Untimed calls per case (also for heavy models)."),
    iters: int | None = typer.Option(None, help="Timed calls per case (also for heavy models)."),
    fidelity_slices: int | None = typer.Option(None, help="Test slices per direction for fidelity (0: every test "
                                                         "slice, the default)."),
    config: Path | None = typer.Option(None, help="Suite YAML (e.g. benchmarks/cpu.yaml); flags override it."),
    out: Path | None = typer.Option(None, help="Output folder (new or empty, or an interrupted run's to continue "
                                       "it). Default: benchmarks/runs/<timestamp>/."),
    keep_artifacts: bool = typer.Option(False, help="Keep the generated ONNX/IR files under OUT/artifacts."),
    no_paper_baseline: bool = typer.Option(False, help="Do not add the paper-architecture FP32 baseline."),
    set_: list[str] = typer.Option([], "--set", help="Override any SuiteConfig key: --set heavy_gmac=50"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
) -> None:
    """Benchmark models x backends x precisions x sizes; writes results.json/.csv, report.md and pareto.png."""
    from sccg_edge.backends.speed import fastest_lines
    from sccg_edge.bench import check_device, check_out_dir, default_out_dir, run_bench
    from sccg_edge.bench.report import results_table, summary
    from sccg_edge.cli._common import env_set, print_json, result_console
    from sccg_edge.config import apply_overrides, load_suite_config, parse_set
    from sccg_edge.utils.jsonsafe import json_safe

    check_device(device)
    target = out if out is not None else default_out_dir()
    check_out_dir(target)
    cfg = load_suite_config(config, device=device, models=models, precisions=precisions, backends=backends,
                            sizes=str(size) if size else sizes, data=str(data) if data else None, threads=threads,
                            warmup=warmup, iters=iters, heavy_warmup=warmup, heavy_iters=iters,
                            fidelity_slices=fidelity_slices, paper_baseline=False if no_paper_baseline else None)
    cfg = apply_overrides(cfg, parse_set(env_set("bench") + list(set_)), "--set")
    result, folder = run_bench(cfg, target, keep_artifacts=keep_artifacts, progress=True)
    if as_json:
        print_json(json_safe({"out": str(folder), "summary": summary(result), "machine": result["machine"],
                              "records": result["records"],
                              "fastest": fastest_lines(result["records"])}, inf_as_text=True))
        return
    console = result_console()
    console.print(results_table(result, console.width if console.is_terminal else None))
    for line in fastest_lines(result["records"]):
        typer.echo(line)
    typer.echo(f"wrote {folder}/ (results.json, results.csv, report.md, pareto.png)")
