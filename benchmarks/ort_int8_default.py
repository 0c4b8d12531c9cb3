"""Does the INT8 ONNX that `quantize --int8 --target onnx` writes run at least as fast as its FP32 on ONNX Runtime here?

    python benchmarks/ort_int8_default.py --out benchmarks/results/<date>_ort_int8 \
        [--models student-s,student-ps,student-xs,teacher] [--sizes 256,512] [--threads 1,2] [--iters 15]

For each shipped model (mr2ct) and size, the FP32 ONNX is exported once and quantized twice through the project's own
``quantize_onnx`` (calibration split, percentile calibration): as ``quantize`` does now (the stem and the head
convolutions kept FP32, the graph optimisation level measured and recorded in the file) and as it did before
(2026-12-04: only the head kept FP32, graph level EXTENDED). Then, per thread count, every variant is timed
interleaved with the FP32 model through the onnxruntime backend (round robin, median wall ms per slice of
``--iters`` rounds), the new file also at each graph level explicitly. Fidelity on the validation split against
ground truth (PSNR / SSIM, 0..255) and agreement with the FP32 output beside it.

Wall times: the figure is only as quiet as the machine; the 1-minute load average at the start is recorded, and
ratios to FP32 measured in the same rounds are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.backends.onnxruntime_backend import OnnxRuntimeBackend
from sccg_edge.backends.speed import time_interleaved
from sccg_edge.bench.machine import machine_info
from sccg_edge.config import DataConfig, QuantConfig
from sccg_edge.data.slices import load_split, resolve_data_root
from sccg_edge.export import export_onnx
from sccg_edge.metrics.score import fidelity
from sccg_edge.models.loading import load_generator
from sccg_edge.quantize import calibration_set, quantize_onnx

LOAD_AT_START = os.getloadavg()[0]
#: variant -> QuantConfig overrides: what quantize does now, and what it did on 2026-12-04
VARIANTS: dict[str, dict[str, Any]] = {
    "int8 (default now: stem+head FP32, measured level)": {},
    "int8 (2026-12-04: head FP32, extended)": {"keep_fp32": ("head",), "speed_rounds": 0},
}


def study(model: str, size: int, work: Path, threads: list[int], iters: int, subset: int,
          val_slices: int) -> list[dict[str, Any]]:
    direction = "mr2ct"
    loaded = load_generator(model, direction)
    root, _ = resolve_data_root(DataConfig())
    src, gt = load_split(DataConfig(size=size, ct_window=loaded.ct_window), "val", val_slices).pair(direction)
    fp32 = export_onnx(loaded.model, work / "fp32.onnx", size)
    calib = calibration_set(QuantConfig(target="onnx", size=size, subset_size=subset), root, direction,
                            loaded.ct_window)
    files, methods = {}, {}
    for k, (name, over) in enumerate(VARIANTS.items()):
        cfg = QuantConfig(mode="int8", target="onnx", size=size, subset_size=subset, **over)
        files[name] = work / f"int8-{k}.onnx"
        methods[name] = quantize_onnx(fp32, files[name], cfg, calib)
    now = next(iter(VARIANTS))
    rows = []
    x = np.random.default_rng(0).uniform(-1, 1, (1, 1, size, size)).astype(np.float32)
    for t in threads:
        runs = {"fp32": OnnxRuntimeBackend(fp32, threads=t)}
        for name, path in files.items():
            runs[name] = OnnxRuntimeBackend(path, threads=t, graph_level=None if name == now else "extended")
        for level in ("extended", "all-no-nhwc"):
            runs[f"{now} @ {level}"] = OnnxRuntimeBackend(files[now], threads=t, graph_level=level)
        ms = time_interleaved(runs, x, rounds=iters)
        for name, run in runs.items():
            row = {"model": model, "size": size, "threads": t, "variant": name, "graph_level": run.graph_level,
                   "wall_ms": ms[name], "x_fp32": round(ms[name] / ms["fp32"], 3), "iters": iters}
            if t == threads[0] and "@" not in name:
                fid = fidelity(run, src, gt, reference=runs["fp32"] if name != "fp32" else None)
                row.update(psnr=round(fid["psnr"], 3), ssim=round(fid["ssim"], 4), val_slices=len(src))
                if "agreement_psnr" in fid:
                    row["agreement_psnr"] = round(fid["agreement_psnr"], 2)
            if name in methods:
                row["kept_fp32"] = methods[name]["kept_fp32"]
                row["recorded_level"] = (methods[name].get("onnxruntime_graph_level") or {}).get("chosen")
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--models", default="student-s,student-ps,student-xs,teacher")
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--iters", type=int, default=15)
    ap.add_argument("--heavy-iters", type=int, default=4, help="rounds for the teacher")
    ap.add_argument("--subset", type=int, default=16, help="calibration slices")
    ap.add_argument("--val-slices", type=int, default=8)
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        write_report(args.out)
        return
    rows: list[dict[str, Any]] = []
    for model in args.models.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            with tempfile.TemporaryDirectory(prefix="ort-int8-") as work:
                rows += study(model, size, Path(work), [int(t) for t in args.threads.split(",")],
                              args.heavy_iters if model == "teacher" else args.iters, args.subset, args.val_slices)
    doc = {"machine": machine_info(), "command": " ".join(["python", *sys.argv]),
           "load_average_at_start": LOAD_AT_START, "rows": rows}
    (args.out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    write_report(args.out)


def write_report(out: Path) -> None:
    doc = json.loads((out / "results.json").read_text())
    m = doc["machine"]
    lines = ["# ONNX Runtime INT8 as quantize writes it, against FP32", "", f"`{doc['command']}`", "",
             f"Machine: {m.get('cpu_model', '?')}, {m.get('usable_cores', '?')} usable cores, "
             f"{', '.join(k for k, v in (m.get('isa') or {}).items() if v)}; ONNX Runtime "
             f"{(m.get('versions') or {}).get('onnxruntime')}; 1-minute load average at the start "
             f"{doc['load_average_at_start']:.2f}.", "",
             "| model | size | threads | variant | graph level | wall ms/slice | x FP32 | PSNR | SSIM | "
             "agreement PSNR |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in doc["rows"]:
        lines.append(f"| {r['model']} | {r['size']} | {r['threads']} | {r['variant']} | {r['graph_level']} | "
                     f"{r['wall_ms']} | {r['x_fp32']} | {r.get('psnr', '')} | {r.get('ssim', '')} | "
                     f"{r.get('agreement_psnr', '')} |")
    now = next(iter(VARIANTS))
    worst = max((r for r in doc["rows"] if r["variant"] == now), key=lambda r: r["x_fp32"], default=None)
    if worst:
        lines += ["", f"Slowest case of the default INT8 against its FP32: {worst['model']} {worst['size']} at "
                      f"{worst['threads']} thread(s), {worst['x_fp32']}x FP32 time."]
    (out / "report.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
