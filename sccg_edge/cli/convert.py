"""CLI: ``convert`` (DICOM series or PNG slices through a generator)."""

from __future__ import annotations

from pathlib import Path

import typer


def convert(
    model: str = typer.Option(..., help="Shipped model name (teacher, ...), model/run folder, .safetensors file, "
                                        "or an exported artifact (.onnx, OpenVINO .xml, TensorRT .engine)."),
    direction: str = typer.Option(..., help="mr2ct (MR in, synthetic CT out) or ct2mr (CT in, synthetic MR out)."),
    input: Path = typer.Option(..., "--input", help="DICOM series folder, folder of several series, one DICOM "
                                                    "file, or a folder of PNG slices."),
    out: Path = typer.Option(..., help="New output folder (refused if it exists or lies inside the input)."),
    backend: str | None = typer.Option(None, help="torch, onnxruntime, openvino or tensorrt (default: torch for "
                                                     "a model spec, implied by an artifact's suffix)."),
    series: str | None = typer.Option(None, "--series", help="Convert only this SeriesInstanceUID."),
    size: int | None = typer.Option(None, help="Slice size to run the model at (default: the model's own)."),
    threads: int = typer.Option(0, help="Inference threads (0 = the runtime's default)."),
    tta: str = typer.Option("none", help="Test-time augmentation: none, or flip (mean with the mirrored prediction "
                                         "of the mirrored slice; twice the inference time)."),
    set_: list[str] = typer.Option([], "--set", help="Override any ConvertConfig key: --set device=cuda"),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
) -> None:
    """Translate slices with a generator; DICOM input gives a new DICOM series on the input's grid."""
    from sccg_edge.cli._common import print_json, print_kv_table
    from sccg_edge.config import ConvertConfig, apply_overrides, parse_set
    from sccg_edge.convert import convert_path

    cfg = ConvertConfig(model=model, direction=direction, backend=backend, series=series, size=size, threads=threads,
                        tta=tta)
    cfg = apply_overrides(cfg, parse_set(set_), "--set")
    summary = convert_path(input, out, cfg, progress=progress)
    if as_json:
        print_json(summary)
        return
    rows = {k: v for k, v in summary.items() if k not in ("series", "skipped")}
    for i, row in enumerate(summary.get("series", [])):
        rows[f"series {i + 1}"] = f"{row['input_modality']} -> {row['output_modality']}, {row['n_slices']} slices, " \
                                  f"{row['out']}"
    for row in summary.get("skipped", []):
        rows[f"skipped {row['series_uid']}"] = f"{row['modality']}: {row['reason']}"
    print_kv_table("convert", rows)


def register(app: typer.Typer) -> None:
    """Add ``convert``."""
    app.command("convert")(convert)
