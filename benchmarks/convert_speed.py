"""Series conversion at model speed (issue 18): model-only time and `convert` of a real series, in one run.

    python benchmarks/convert_speed.py --out benchmarks/results/<date>_convert_speed \
        [--input ../shared/data/head-ct-dicom] [--model student-ps] [--direction ct2mr] [--sizes 256,512] [--repeats 2]

For each size, an OpenVINO INT8 artifact is built as ``sccg-edge quantize --int8 --target openvino --size S`` builds it
(in a temporary folder), then:

* model only: the artifact's backend on one (1, 1, S, S) slice and on a batch of 4, median over 30 calls;
* ``sccg-edge convert`` of the series in a fresh process (``python -m sccg_edge convert ... --model <folder>``), once
  as it runs now (4 slices per call, 2 decoder processes, a writer thread) and once slice by slice in one thread
  (``--set batch=1 --set workers=0``, how it ran before). Per run: wall seconds of the process; CPU seconds of it
  (user + system, all threads); start-up, from process start to the first output file less one slice; and the
  steady per-slice time, from the first to the last output file's modification time. A conversion of a one-slice
  copy of the series gives the start-up CPU seconds, and (CPU of the series - CPU of one slice) / (slices - 1) the
  CPU per slice after start-up.

The CPU is shared with other work while this runs, so wall times are inflated; compare ratios measured in one run
(model vs convert, pipelined vs slice by slice), and CPU seconds, which others' work inflates far less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from sccg_edge.backends import load_backend
from sccg_edge.bench.machine import machine_info

LOAD_AT_START = os.getloadavg()[0]  # how busy the machine was when this benchmark started
from sccg_edge.config import QuantConfig
from sccg_edge.metrics.score import capped_psnr
from sccg_edge.quantize import quantize_artifact

MODES = {"pipelined (batch 4, 2 decoder processes, writer thread)": [],
         "slice by slice (batch 1, one thread)": ["--set", "batch=1", "--set", "workers=0"]}


def model_only(folder: Path, size: int, calls: int = 30) -> dict[str, float]:
    """Median wall ms and mean CPU ms per slice of the artifact alone, at batch 1 and batch 4."""
    backend = load_backend("openvino", folder)
    out = {}
    for batch in (1, 4):
        x = np.random.default_rng(0).uniform(-1, 1, (batch, 1, size, size)).astype(np.float32)
        backend(x), backend(x)
        walls, cpu0 = [], time.process_time()
        for _ in range(calls):
            t0 = time.perf_counter()
            backend(x)
            walls.append(time.perf_counter() - t0)
        out[f"batch{batch}_wall_ms_per_slice"] = round(float(np.median(walls)) * 1e3 / batch, 2)
        out[f"batch{batch}_cpu_ms_per_slice"] = round((time.process_time() - cpu0) * 1e3 / calls / batch, 2)
    return out


def run_convert(folder: Path, args: argparse.Namespace, extra: list[str], out: Path) -> dict[str, Any]:
    """One ``convert`` in a fresh process; wall, CPU, start-up and per-slice figures."""
    cmd = [sys.executable, "-m", "sccg_edge", "convert", "--model", str(folder), "--direction", args.direction,
           "--input", str(args.input), "--out", str(out), "--no-progress", "--json", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), check=False)
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"convert failed: {proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout)
    mtimes = sorted(p.stat().st_mtime for p in out.rglob("*.dcm"))
    n = len(mtimes)
    per_slice = (mtimes[-1] - mtimes[0]) / max(n - 1, 1)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "slices": n,
            "wall_ms_per_slice": round(wall * 1e3 / n, 1), "cpu_ms_per_slice": round(cpu * 1e3 / n, 1),
            "steady_ms_per_slice": round(per_slice * 1e3, 1),
            "startup_s": round(mtimes[0] - start - per_slice, 3), "resampled": summary.get("resampled")}


def agreement(a: Path, b: Path) -> float:
    """Mean PSNR (capped, 0..4095 -> 0..255 scale) between two converted series, slice by slice."""
    def load(d: Path) -> list[np.ndarray]:
        return [pydicom.dcmread(p).pixel_array.astype(np.float64) / 4095.0 * 2 - 1 for p in sorted(d.glob("*.dcm"))]
    return round(float(np.mean([capped_psnr(x, y) for x, y in zip(load(a), load(b))])), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--input", type=Path, default=Path("../shared/data/head-ct-dicom"))
    ap.add_argument("--model", default="student-ps")
    ap.add_argument("--direction", default="ct2mr")
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--repeats", type=int, default=5, help="convert runs per mode (the median run is reported, with "
                    "the range of its steady and start-up times)")
    ap.add_argument("--report-only", action="store_true", help="rewrite report.md from results.json")
    args = ap.parse_args()
    if args.report_only:
        write_report(args.out)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="convert-speed-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            folder = Path(tmp) / f"ov-int8-{size}"
            quantize_artifact(args.model, args.direction, QuantConfig(mode="int8", target="openvino", size=size),
                              folder)
            row: dict[str, Any] = {"artifact": f"{args.model} {args.direction} OpenVINO INT8 {size}x{size}",
                                   "model_only": model_only(folder, size), "convert": {}}
            one = Path(tmp) / f"one-{size}"  # a one-slice copy of the series: start-up CPU + one slice
            one.mkdir()
            first = sorted(args.input.glob("*.dcm"))[0]
            (one / first.name).write_bytes(first.read_bytes())
            row["startup"] = run_convert(folder, argparse.Namespace(**{**vars(args), "input": one}), [],
                                         Path(tmp) / f"out-one-{size}")
            outs = {}
            for mode, extra in MODES.items():
                runs = []
                for r in range(args.repeats):
                    outs[mode] = Path(tmp) / f"out-{size}-{len(row['convert'])}-{r}"
                    runs.append(run_convert(folder, args, extra, outs[mode]))
                best = sorted(runs, key=lambda x: x["wall_s"])[len(runs) // 2]  # the median run
                best["repeats"] = len(runs)
                for key in ("steady_ms_per_slice", "startup_s"):
                    best[key.replace("_ms_per_slice", "").replace("_s", "") + "_range"] = [
                        min(x[key] for x in runs), max(x[key] for x in runs)]
                best["cpu_ms_per_slice_after_startup"] = round(
                    (best["cpu_s"] - row["startup"]["cpu_s"]) * 1e3 / max(best["slices"] - 1, 1), 1)
                row["convert"][mode] = best
            a, b = outs.values()
            row["agreement_psnr_pipelined_vs_slice_by_slice"] = agreement(a, b)
            rows.append(row)
            print(json.dumps(row), flush=True)
    doc = {"machine": machine_info(), "command": " ".join(["python", *sys.argv]), "rows": rows,
           "load_average_at_start": LOAD_AT_START}
    (args.out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    write_report(args.out)


def write_report(out: Path) -> None:
    """report.md: per artifact, model-only time beside each convert mode, and their ratios (from results.json)."""
    doc = json.loads((out / "results.json").read_text())
    m = doc["machine"]
    lines = ["# convert at model speed", "", f"`{doc['command']}`", "",
             f"Machine: {m.get('cpu_model', '?')}, {m.get('usable_cores', '?')} usable cores; " + (
                 f"1-minute load average {doc['load_average_at_start']:.2f} when the run started (above about 0.5 "
                 "other work shared the CPU: compare the ratios and the CPU seconds)."
                 if doc.get("load_average_at_start") is not None else
                 "shared with a training run and other work while measured: wall times are inflated, compare the "
                 "ratios and the CPU seconds."), "",
             "Each convert mode ran `--repeats` times in fresh processes; the median run (by wall time) is shown, the "
             "range of the steady time and of the start-up over all runs in brackets.", "",
             "| artifact | mode | wall ms/slice | CPU ms/slice (after start-up) | steady wall ms/slice | "
             "start-up wall s (range) (one-slice CPU s) | model-only ms/slice "
             "(b1 / b4, wall) | model-only CPU ms/slice (b1 / b4) | convert wall / model b1 wall |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in doc["rows"]:
        mo = row["model_only"]
        for mode, c in row["convert"].items():
            steady, start = c.get("steady_range"), c.get("startup_range")
            lines.append(f"| {row['artifact']} | {mode} | {c['wall_ms_per_slice']} | {c['cpu_ms_per_slice']} "
                         f"({c['cpu_ms_per_slice_after_startup']}) | {c['steady_ms_per_slice']}"
                         + (f" ({steady[0]}-{steady[1]})" if steady else "") + f" | {c['startup_s']}"
                         + (f" ({start[0]}-{start[1]})" if start else "") +
                         f" ({row['startup']['cpu_s']} CPU) | {mo['batch1_wall_ms_per_slice']} / "
                         f"{mo['batch4_wall_ms_per_slice']} | {mo['batch1_cpu_ms_per_slice']} / "
                         f"{mo['batch4_cpu_ms_per_slice']} | "
                         f"{c['wall_ms_per_slice'] / mo['batch1_wall_ms_per_slice']:.1f}x |")
        modes = list(row["convert"].values())
        if len(modes) == 2:
            lines.append(f"| {row['artifact']} | pipelined vs slice by slice | "
                         f"{modes[0]['wall_ms_per_slice'] / modes[1]['wall_ms_per_slice']:.2f}x wall | "
                         f"{modes[0]['cpu_ms_per_slice'] / modes[1]['cpu_ms_per_slice']:.2f}x CPU | | | | | |")
        lines.append(f"| {row['artifact']} | outputs agree (PSNR, pipelined vs slice by slice) | "
                     f"{row['agreement_psnr_pipelined_vs_slice_by_slice']} dB | | | | | | |")
        lines.append(f"| {row['artifact']} | resampled | {modes[0]['resampled'] or 'no'} | | | | | | |")
    (out / "report.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
