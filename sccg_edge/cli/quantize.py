"""CLI: ``calibrate`` (pick calibration slices) and ``quantize`` (FP16 / INT8 artifacts with model cards)."""

from __future__ import annotations

from pathlib import Path

import typer


def calibrate(
    data: str = typer.Option("", help="Paired data folder (default: the real shared pairs, else the phantom)."),
    out: Path = typer.Option(..., help="Manifest to write, e.g. calibration/default.json."),
    size: int = typer.Option(32, help="Number of calibration slices."),
    strategy: str = typer.Option("stratified", help="stratified (spread along the head) | random."),
    seed: int = typer.Option(0, help="Random seed (random strategy)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Select calibration slices from the calibration split (training patients only) into a hashed manifest."""
    from sccg_edge.cli._common import print_json, print_kv_table
    from sccg_edge.config import DataConfig
    from sccg_edge.data.slices import resolve_data_root
    from sccg_edge.quantize import write_calibration_manifest

    root, _ = resolve_data_root(DataConfig(root=data))
    result = write_calibration_manifest(root, out, n=size, strategy=strategy, seed=seed)
    print_json(result) if json_out else print_kv_table("calibration", result)


def quantize(
    model: str = typer.Option("", help="Shipped model name, model/run folder or generator .safetensors file. "
                                       "Default: the shipped student-s."),
    direction: str = typer.Option("both", help="mr2ct, ct2mr or both (into OUT/mr2ct and OUT/ct2mr)."),
    fp16: bool = typer.Option(False, "--fp16", help="FP16 artifact."),
    int8: bool = typer.Option(False, "--int8", help="INT8 artifact."),
    qat: bool = typer.Option(False, "--qat", help="Quantization-aware fine-tuning (with --int8)."),
    target: str = typer.Option("", help="openvino | onnx | tensorrt (onnx/tensorrt: Q/DQ or FP16 ONNX). Default: "
                                        "the fastest INT8 target here (OpenVINO on a CPU)."),
    calibration: str = typer.Option("", help="Calibration manifest (default: the data's calibration split)."),
    max_psnr_drop: float = typer.Option(0.0, help="OpenVINO INT8: keep layers in FP32 until the PSNR drop "
                                                   "vs ground truth is within this many dB (0: plain PTQ)."),
    size: int = typer.Option(256, help="Static input size: build for the slices you will convert (512 for a "
                                       "512x512 series); `convert` resamples other sizes to it and back, and says so."),
    data: str = typer.Option("", help="Paired data folder (validation and QAT data)."),
    qat_steps: int = typer.Option(300, help="QAT optimisation steps."),
    out: Path = typer.Option(None, help="New artifact folder. Default: runs/quantize-<model>-<precision>-<target>-"
                                        "<timestamp>."),
    set_: list[str] = typer.Option([], "--set", help="Override any QuantConfig key: --set subset_size=32 "
                                                     "--set keep_fp32=head,blocks/block0"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Build an FP16 or INT8 artifact and its model card (fidelity vs the FP32 source on the validation split)."""
    from dataclasses import replace

    from sccg_edge.cli._common import env_set, print_json, print_kv_table, say
    from sccg_edge.config import QATConfig, QuantConfig, apply_overrides, parse_set
    from sccg_edge.errors import ConfigError
    from sccg_edge.utils.fs import check_writable
    from sccg_edge.quantize import (
        DEFAULT_MODEL,
        default_out,
        fastest_int8_target,
        quantize_artifact,
        quantize_directions,
    )

    if fp16 == int8:
        raise ConfigError("give exactly one of --fp16 and --int8")
    chosen = []
    if not model:
        model, _ = DEFAULT_MODEL, chosen.append(f"--model {DEFAULT_MODEL} (the shipped default student)")
    if not target:
        target, why = fastest_int8_target("cpu")
        chosen.append(f"--target {target} ({why})")
    mode = "fp16" if fp16 else "int8"
    if out is None:
        out = default_out(model, mode, target)
        chosen.append(f"--out {out}")
    cfg = QuantConfig(mode=mode, target=target, size=size, calibration=calibration,
                      data=data, max_psnr_drop=max_psnr_drop, qat=qat)
    cfg = apply_overrides(replace(cfg, qat_cfg=replace(QATConfig(), steps=qat_steps)),
                          parse_set(env_set("quantize") + list(set_)), "--set")
    check_writable(out)  # a read-only or full output is one line, before the plan is printed
    say(f"quantize: {model} to {mode.upper()} for {target}, direction {direction}, {cfg.size}x{cfg.size}, into {out}")
    if chosen:
        say("  chosen: " + "; ".join(chosen) + ". Change with --model, --direction, --target, --size, --out")
    if direction == "both":
        result = quantize_directions(model, ("mr2ct", "ct2mr"), cfg, out)
        per = result["directions"]
    else:
        result = quantize_artifact(model, direction, cfg, out)
        per = {direction: result}
    if json_out:
        print_json(result)
        return
    for name, res in per.items():
        print_kv_table(f"quantize {name}", {k: res[k] for k in ("out", "format", "precision", "bytes")}
                       | {f"fidelity.{k}": v for k, v in res["fidelity"].items()})
        if res.get("speed"):
            typer.echo(f"{name}: {res['speed']['note']}", err=True)
    say(f"wrote {out}: model file, card.md (fidelity vs the FP32 source on the validation split)"
        + (" per direction" if direction == "both" else ""))


def quant_table(
    model: str = typer.Option(..., help="Shipped model name, model/run folder (both directions)."),
    out: Path = typer.Option(..., help="Results folder (results.json, report.md, artifacts/); reused to resume."),
    variants: str = typer.Option("", help="Comma-separated variants (default: ov-fp16, ov-int8, qdq-int8, "
                                          "ov-int8-budget@0.3, ov-int8-budget@0.05, ov-int8-qat, qdq-int8-qat)."),
    directions: str = typer.Option("mr2ct,ct2mr", help="mr2ct and/or ct2mr."),
    size: int = typer.Option(256, help="Static input size of every artifact."),
    data: str = typer.Option("", help="Paired data folder (default: the real shared pairs, else the phantom)."),
    qat_steps: int = typer.Option(300, help="QAT optimisation steps per QAT variant and direction."),
    threads: int = typer.Option(0, help="CPU threads for timing (0: runtime default)."),
    iters: int = typer.Option(10, help="Timed runs per variant (median reported)."),
    set_: list[str] = typer.Option([], "--set", help="Override any QuantTableConfig key: --set warmup=1"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Every FP16/INT8 form of a model (PTQ, budgeted, QAT) built as `quantize` ships it, scored on the test split."""
    from sccg_edge.bench import quant_table as run_table
    from sccg_edge.cli._common import print_json
    from sccg_edge.config import DEFAULT_VARIANTS, QuantTableConfig, apply_overrides, parse_set

    cfg = QuantTableConfig(variants=variants or DEFAULT_VARIANTS, directions=directions, size=size, data=data,
                           qat_steps=qat_steps, threads=threads, iters=iters)
    cfg = apply_overrides(cfg, parse_set(set_), "--set")
    result = run_table(model, out, cfg)
    if json_out:
        print_json(result)
    else:
        typer.echo((Path(out) / "report.md").read_text(), err=False)


def register(app: typer.Typer) -> None:
    """Add ``calibrate``, ``quantize`` and ``quant-table``."""
    app.command("calibrate")(calibrate)
    app.command("quantize")(quantize)
    app.command("quant-table")(quant_table)
