"""CLI: ``export`` (a generator -> ONNX, OpenVINO IR or TensorRT engine, with a model card)."""

from __future__ import annotations

from pathlib import Path

import typer


def export(
    model: str = typer.Option(..., help="Shipped model name, model/run folder or generator .safetensors file "
                                        "(for --format tensorrt also a quantized / FP16 model.onnx)."),
    direction: str = typer.Option(..., help="mr2ct or ct2mr."),
    format: str | None = typer.Option(None, "--format", help="onnx | openvino | tensorrt."),
    profile: str | None = typer.Option(None, help="Profile name in export/ (e.g. cpu-openvino-fp32) or YAML."),
    size: int = typer.Option(0, help="Static input size (0: the profile's first size, default 256); build for the "
                                     "slices you will convert (512 for a 512x512 series), or convert resamples."),
    out: Path | None = typer.Option(None, help="New artifact folder (default export/artifacts/<name>/)."),
    data: str = typer.Option("", help="Paired data folder for the fidelity check (default: the default data)."),
    set_: list[str] = typer.Option([], "--set", help="Override any ExportConfig key: --set val_max_slices=16 "
                                                     "--set profile.workspace_mb=4096"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Export a generator and write config.yaml + card.json/card.md beside it."""
    from sccg_edge.cli._common import print_json, print_kv_table
    from sccg_edge.config import ExportConfig, apply_overrides, parse_set, resolve_profile
    from sccg_edge.export import export_artifact

    cfg = ExportConfig(direction=direction, profile=resolve_profile(format, profile, size), data=data)
    cfg = apply_overrides(cfg, parse_set(set_), "--set")
    result = export_artifact(model, cfg, out)
    if json_out:
        print_json(result)
    else:
        print_kv_table("export", {k: v for k, v in result.items() if k not in ("precision_per_group",)})


def register(app: typer.Typer) -> None:
    """Add ``export``."""
    app.command("export")(export)
