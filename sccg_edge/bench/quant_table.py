"""The quantization table: every deployable precision of one model, scored on the test patients.

``quant_table(spec, out, cfg)`` builds each variant with :func:`sccg_edge.quantize.quantize_artifact`, so a
row is exactly what ``sccg-edge quantize`` ships (its own card, measured on the validation split, lies beside it),
then scores it on the test split against ground truth and against the FP32 source run in PyTorch, and times it at
the artifact's static size. Variants are named ``<runtime>-<precision>[-<mode>]``:

* ``ov-fp16``: OpenVINO IR with FP16 weights (and the f16/bf16 hint where the CPU has it);
* ``ov-int8``: NNCF post-training INT8 IR; ``ov-int8-budget@D``: NNCF accuracy control with a PSNR budget of D dB;
* ``qdq-int8``: explicitly quantized Q/DQ ONNX on ONNX Runtime (the graph TensorRT takes);
* ``ov-int8-qat`` / ``qdq-int8-qat``: quantization-aware fine-tuning, then the same artifacts.

Output folder: ``results.json`` (machine, config, one row per direction x variant), ``report.md``, and
``artifacts/<variant>-<direction>/`` (reused when present, so an interrupted run resumes without rebuilding).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.backends import Backend, load_backend, open_artifact
from sccg_edge.backends.inspect import size_on_disk
from sccg_edge.bench.harness import time_backend
from sccg_edge.bench.machine import machine_info
from sccg_edge.bench.suite import random_input
from sccg_edge.config import DataConfig, QATConfig, QuantConfig, QuantTableConfig, to_dict
from sccg_edge.data.slices import load_split, resolve_data_root
from sccg_edge.errors import ConfigError
from sccg_edge.export import export_onnx, to_openvino
from sccg_edge.metrics.score import fidelity
from sccg_edge.models.loading import LoadedGenerator
from sccg_edge.quantize import quantize_artifact
from sccg_edge.utils.fs import atomic_write_text, check_writable
from sccg_edge.utils.progress import track

BASE_VARIANTS = ("ov-fp16", "ov-int8", "qdq-int8", "ov-int8-budget", "ov-int8-qat", "qdq-int8-qat")


def parse_variant(name: str) -> tuple[str, float]:
    """``"ov-int8-budget@0.05"`` -> ("ov-int8-budget", 0.05); other names carry no budget (0.0)."""
    base, _, budget = name.partition("@")
    if base not in BASE_VARIANTS:
        raise ConfigError(f"unknown variant '{name}'; choose from {', '.join(BASE_VARIANTS)} "
                          "(ov-int8-budget takes a PSNR budget in dB: ov-int8-budget@0.3)")
    if (base == "ov-int8-budget") != bool(budget):
        raise ConfigError(f"'{name}': a PSNR budget goes with ov-int8-budget only, as ov-int8-budget@0.3")
    try:
        value = float(budget) if budget else 0.0
    except ValueError:
        raise ConfigError(f"'{name}': the budget must be a number of dB, as ov-int8-budget@0.3") from None
    if budget and value <= 0:
        raise ConfigError(f"'{name}': the budget must be > 0 dB")
    return base, value


def variant_config(name: str, cfg: QuantTableConfig) -> QuantConfig:
    """The :class:`QuantConfig` that builds variant ``name``."""
    base, budget = parse_variant(name)
    target = "onnx" if base.startswith("qdq") else "openvino"
    mode = "fp16" if base == "ov-fp16" else "int8"
    return QuantConfig(mode=mode, target=target, size=cfg.size, data=cfg.data, max_psnr_drop=budget,
                       qat=base.endswith("-qat"), qat_cfg=replace(QATConfig(), steps=cfg.qat_steps))


def quant_table(spec: str, out: Path, cfg: QuantTableConfig, progress: bool = True) -> dict[str, Any]:
    """Build, score and time every variant of ``spec`` for each direction; writes results.json and report.md."""
    variants = cfg.variants
    for name in variants:
        parse_variant(name)
    directions = cfg.directions
    if not directions or any(d not in ("mr2ct", "ct2mr") for d in directions):
        raise ConfigError(f"directions must be mr2ct and/or ct2mr, got '{','.join(directions)}'")
    out = Path(out)
    check_writable(out)
    out.mkdir(parents=True, exist_ok=True)
    _, data_desc = resolve_data_root(DataConfig(root=cfg.data))
    jobs = [(d, v) for d in directions for v in ["fp32", *variants]]
    rows: list[dict[str, Any]] = []
    refs: dict[str, Any] = {}
    for direction, variant in track(jobs, "quantization table", total=len(jobs), enabled=progress):
        if direction not in refs:  # the FP32 source in PyTorch and the test pairs, once per direction
            reference = load_backend("torch", spec, direction=direction)
            data = DataConfig(root=cfg.data, size=cfg.size, ct_window=str(reference.ct_window))
            refs[direction] = (reference, load_split(data, "test").pair(direction))
        reference, pairs = refs[direction]
        rows.append(_row(spec, direction, variant, cfg, out, reference, pairs))
        result = {"model": spec, "data": data_desc, "split": "test", "machine": machine_info(cfg.threads),
                  "config": to_dict(cfg), "rows": rows}
        atomic_write_text(out / "results.json", json.dumps(result, indent=2, default=str) + "\n")
    atomic_write_text(out / "report.md", report_markdown(result))
    return {**result, "out": str(out)}


def _row(spec: str, direction: str, variant: str, cfg: QuantTableConfig, out: Path, reference: Backend,
         pairs: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    folder = out / "artifacts" / f"{variant}-{direction}"
    if variant == "fp32":
        artifact, card = _fp32_ir(reference.loaded, folder, cfg.size), {}
    else:
        card, artifact = _build(spec, direction, variant, cfg, folder)
    hint = card.get("method", {}).get("inference_precision_hint", "f32")
    backend = open_artifact(artifact, threads=cfg.threads, hint=hint)
    runtime = backend.name
    fid = fidelity(backend, *pairs, reference=reference)
    latency = time_backend(backend, random_input(cfg.size), warmup=cfg.warmup, iters=cfg.iters)
    method = card.get("method", {})
    return {"direction": direction, "variant": variant, "artifact": str(artifact.relative_to(out)),
            "runtime": runtime, "precision": card.get("precision", "fp32"),
            "compute": getattr(backend, "inference_precision", None),  # OpenVINO's hint for non-INT8 layers
            "bytes": card.get("bytes") or size_on_disk(artifact),
            "convs": card.get("precision_per_group", {}).get("convs"), "test": fid,
            "val": card.get("fidelity"), "latency_ms": latency.median_ms, "latency": latency.to_dict(),
            "build_s": card.get("build_s"), "qat": method.get("qat"),
            "kept_higher_precision": method.get("kept_higher_precision", method.get("kept_fp32"))}


def _fp32_ir(loaded: LoadedGenerator, folder: Path, size: int) -> Path:
    """The FP32 OpenVINO IR of the source (the latency and fidelity baseline of every row)."""
    xml = folder / "model.xml"
    if not xml.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        onnx = export_onnx(loaded.model, folder / "model.onnx", size)
        to_openvino(onnx, xml)
        onnx.unlink()
    return xml


def _build(spec: str, direction: str, variant: str, cfg: QuantTableConfig, folder: Path) -> tuple[dict, Path]:
    """Build one variant with ``quantize_artifact`` (or reuse a complete earlier build); returns (card, file)."""
    card_file, build_file = folder / "card.json", folder.with_name(folder.name + ".build.json")
    if not card_file.is_file():  # quantize_artifact writes the folder atomically: no card, no artifact
        start = time.perf_counter()
        quantize_artifact(spec, direction, variant_config(variant, cfg), folder)
        build_file.write_text(json.dumps({"build_s": round(time.perf_counter() - start, 1)}) + "\n")
    card = json.loads(card_file.read_text())
    card["build_s"] = json.loads(build_file.read_text())["build_s"] if build_file.is_file() else None
    return card, folder / card["file"]


def report_markdown(result: dict[str, Any]) -> str:
    """The table as Markdown: test fidelity vs ground truth, the drop vs FP32, agreement, latency, size."""
    m, c = result["machine"], result["config"]
    n = result["rows"][0]["test"]["slices"] if result["rows"] else 0
    intro = (f"Test split of {result['data']} ({n} slices per direction), 0..255 scale. Drops are FP32 (PyTorch) "
             "minus the variant, so a positive drop is a loss; agreement is the PSNR between the variant's and the "
             "FP32 outputs. A runtime in brackets computes its non-INT8 layers in that precision (OpenVINO's "
             f"inference precision hint; otherwise f32). Latency: median of {c['iters']} runs after {c['warmup']} "
             f"warm-up, batch 1, {c['size']}x{c['size']}, {m.get('threads', '?')} threads on "
             f"{m.get('cpu_model', '?')}.")
    header = ("| direction | variant | runtime | convs int8/fp16/fp32 | PSNR | SSIM | MAE | PSNR drop | SSIM drop "
              "| agreement dB | latency ms | MB | build s |")
    lines = [f"# Quantization table: {result['model']}", "", intro, "", header,
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        t = r["test"]
        convs = r["convs"] or {}
        conv_text = "/".join(str(convs.get(k, 0)) for k in ("int8", "fp16", "fp32")) if convs else "all fp32"
        compute = r.get("compute")
        runtime = f"{r['runtime']} ({compute})" if compute and compute != "f32" else r["runtime"]
        lines.append(f"| {r['direction']} | {r['variant']} | {runtime} | {conv_text} | {t['psnr']:.2f} | "
                     f"{t['ssim']:.4f} | {t['mae']:.2f} | {t['psnr_drop']:+.3f} | {t['ssim_drop']:+.4f} | "
                     f"{t['agreement_psnr']:.1f} | {r['latency_ms']:.1f} | {r['bytes'] / 1e6:.2f} | "
                     f"{r['build_s'] if r['build_s'] is not None else ''} |")
    budgets = [r for r in result["rows"] if r["variant"].startswith("ov-int8-budget")]
    if budgets:
        lines += ["", ("Budget rows keep these convolutions in higher precision (NNCF accuracy control, PSNR vs "
                       "ground truth on the validation split):"), ""]
        lines += [f"- {r['direction']} {r['variant']}: {', '.join(r['kept_higher_precision'] or []) or 'none'}"
                  for r in budgets]
    qat = [r for r in result["rows"] if r["qat"]]
    if qat:
        lines += ["", "QAT fine-tuning runs:", ""]
        lines += [f"- {r['direction']} {r['variant']}: {r['qat']}" for r in qat]
    return "\n".join(lines) + "\n"
