"""Which INT8 operator form makes ONNX Runtime INT8 at least as fast as its FP32 on this CPU (issue 18)?

    python benchmarks/ort_int8_forms.py --out benchmarks/results/<date>_ort_int8 [--models student-s,student-ps]
        [--sizes 256,512] [--iters 20] [--threads 1]

For each shipped student (mr2ct) and size, the FP32 ONNX is exported once, then quantized by ONNX Runtime's
``quantize_static`` in each form of :data:`FORMS` (Q/DQ vs QOperator, S8S8 vs U8S8, per-channel vs per-tensor weights,
reduce_range, and which operators get Q/DQ: every quantizable one, so InstanceNorm / Pad / Relu run between a
DequantizeLinear and a QuantizeLinear, or only the convolutions, so everything around InstanceNorm stays float). Every
form is timed interleaved with the FP32 model in the same process (round robin, ``--iters`` rounds), so a busy machine
inflates all forms alike; the figure is the median CPU time of the calling thread per slice (``time.thread_time``, ONNX
Runtime with one intra-op thread runs on the caller), wall time beside it. Fidelity: PSNR (0..255) against ground truth
on the validation split, and agreement PSNR with the FP32 model's output (:func:`sccg_edge.metrics.score.fidelity`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.backends import load_backend
from sccg_edge.backends.inspect import in_groups, onnx_conv_names
from sccg_edge.bench.machine import machine_info
from sccg_edge.config import DataConfig, QuantConfig
from sccg_edge.data.slices import load_split, resolve_data_root
from sccg_edge.export import export_onnx
from sccg_edge.metrics.score import fidelity
from sccg_edge.models.loading import load_generator
from sccg_edge.quantize import calibration_set

CONV_ONLY = ["Conv", "ConvTranspose"]
#: form name -> quantize_static options (format, activation / weight types, per_channel, reduce_range, op types,
#: symmetric activations). "all ops" quantizes every op ONNX Runtime's Q/DQ registry knows (Pad, Relu, InstanceNorm).
FORMS: dict[str, dict[str, Any]] = {
    "qdq-s8s8-pc-allops": dict(fmt="QDQ", act="QInt8", sym=True, per_channel=True, ops=None),  # the old default
    "qdq-s8s8-pc-conv": dict(fmt="QDQ", act="QInt8", sym=True, per_channel=True, ops=CONV_ONLY),
    "qdq-u8s8-pc-conv": dict(fmt="QDQ", act="QUInt8", sym=False, per_channel=True, ops=CONV_ONLY),
    "qdq-u8s8-pt-conv": dict(fmt="QDQ", act="QUInt8", sym=False, per_channel=False, ops=CONV_ONLY),
    "qdq-u8s8-pc-conv-rr": dict(fmt="QDQ", act="QUInt8", sym=False, per_channel=True, ops=CONV_ONLY, rr=True),
    "qop-u8s8-pc-conv": dict(fmt="QOperator", act="QUInt8", sym=False, per_channel=True, ops=["Conv"]),
    "qop-u8s8-pc-allops": dict(fmt="QOperator", act="QUInt8", sym=False, per_channel=True, ops=None),
}


def quantize_form(src: Path, dst: Path, calib: Any, form: dict[str, Any], keep_fp32: tuple[str, ...]) -> None:
    """``src`` (pre-processed FP32 ONNX) -> ``dst`` in ``form``; convolutions of ``keep_fp32`` groups excluded."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    excluded = [n for n in onnx_conv_names(src) if in_groups(n, keep_fp32)]
    quantize_static(str(src), str(dst), calib.data_reader(), quant_format=getattr(QuantFormat, form["fmt"]),
                    per_channel=form["per_channel"], reduce_range=form.get("rr", False),
                    activation_type=getattr(QuantType, form["act"]), weight_type=QuantType.QInt8,
                    op_types_to_quantize=form["ops"], calibrate_method=CalibrationMethod.Percentile,
                    nodes_to_exclude=excluded,
                    extra_options={"ActivationSymmetric": form["sym"], "WeightSymmetric": True})


def time_interleaved(runs: dict[str, Any], x: np.ndarray, iters: int) -> dict[str, dict[str, float]]:
    """Round-robin timing: each round runs every model once; medians of thread CPU ms and wall ms per model."""
    for run in runs.values():
        run(x), run(x)  # warm-up
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    wall: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(iters):
        for name, run in runs.items():
            c0, w0 = time.thread_time(), time.perf_counter()
            run(x)
            cpu[name].append((time.thread_time() - c0) * 1e3)
            wall[name].append((time.perf_counter() - w0) * 1e3)
    return {k: {"cpu_ms": round(float(np.median(cpu[k])), 2), "wall_ms": round(float(np.median(wall[k])), 2)}
            for k in runs}


def study(model: str, size: int, work: Path, iters: int, threads: int, subset: int, forms: list[str],
          extended: list[str]) -> list[dict[str, Any]]:
    from onnxruntime.quantization.shape_inference import quant_pre_process

    direction = "mr2ct"
    loaded = load_generator(model, direction)
    cfg = QuantConfig(target="onnx", size=size, subset_size=subset)
    root, _ = resolve_data_root(DataConfig())
    val = load_split(DataConfig(size=size, ct_window=loaded.ct_window), "val", 8)
    src, gt = val.pair(direction)
    calib = calibration_set(cfg, root, direction, loaded.ct_window)
    fp32 = export_onnx(loaded.model, work / f"{model}-{size}-fp32.onnx", size)
    pre = work / f"{model}-{size}-pre.onnx"
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    paths = {"fp32": fp32}
    for name in forms:
        paths[name] = work / f"{model}-{size}-{name}.onnx"
        quantize_form(pre, paths[name], calib, FORMS[name], cfg.keep_fp32)
    for name in extended:  # the same file at graph optimisation level EXTENDED instead of ALL
        paths[f"{name}@extended"] = paths[name]
    runs = {}
    for name, path in paths.items():
        runs[name] = load_backend("onnxruntime", path, threads=threads)
        if name.endswith("@extended"):
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
            so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
            runs[name].session = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    timing = time_interleaved(runs, src[:1], iters)
    rows = []
    for name, run in runs.items():
        fid = fidelity(run, src, gt, reference=runs["fp32"])
        rows.append({"model": model, "direction": direction, "size": size, "form": name, **timing[name],
                     "cpu_vs_fp32": round(timing[name]["cpu_ms"] / timing["fp32"]["cpu_ms"], 3),
                     "psnr": round(fid["psnr"], 3), "ssim": round(fid["ssim"], 4),
                     "agreement_psnr": round(fid.get("agreement_psnr", float("nan")), 2), "val_slices": len(src)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--models", default="student-s,student-ps")
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--subset", type=int, default=16, help="calibration slices")
    ap.add_argument("--forms", default=",".join(FORMS), help="forms of FORMS to build")
    ap.add_argument("--extended", default="fp32,qdq-u8s8-pc-conv,qdq-s8s8-pc-conv,qop-u8s8-pc-conv",
                    help="models also timed at graph optimisation level EXTENDED")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    old = json.loads((args.out / "results.json").read_text())["rows"] if (args.out / "results.json").exists() else []
    rows = list(old)  # resumable: (model, size) pairs already measured are kept, as measured by their command
    done = {(r["model"], r["size"]) for r in old}
    for model in args.models.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            if (model, size) in done:
                continue
            with tempfile.TemporaryDirectory(prefix="ort-int8-") as work:
                new = study(model, size, Path(work), args.iters, args.threads, args.subset, args.forms.split(","),
                            args.extended.split(","))
            rows += [dict(r, command=" ".join(["python", *sys.argv])) for r in new]
            (args.out / "results.json").write_text(json.dumps(
                {"machine": machine_info(threads=args.threads), "args": {k: str(v) for k, v in vars(args).items()},
                 "rows": rows}, indent=1) + "\n")
    write_report(args.out, rows)


def write_report(out: Path, rows: list[dict[str, Any]]) -> None:
    lines = ["| model | size | form | CPU ms/slice | x FP32 | wall ms | PSNR vs GT | SSIM | agreement PSNR vs FP32 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['model']} | {r['size']} | {r['form']} | {r['cpu_ms']} | {r['cpu_vs_fp32']} | {r['wall_ms']} | "
              f"{r['psnr']} | {r['ssim']} | {r['agreement_psnr']} |" for r in rows]
    (out / "table.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
