"""Cross-check our harness against OpenVINO's own ``benchmark_app`` on the same IR, threads and shape."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from sccg_edge.backends import load_backend
from sccg_edge.bench.artifacts import export_onnx_file, openvino_ir
from sccg_edge.bench.harness import time_backend
from sccg_edge.bench.suite import random_input
from sccg_edge.errors import MissingDependencyError, SccgError
from sccg_edge.models import build_generator

_MEDIAN = re.compile(r"Median:\s*([0-9.]+)\s*ms")


def benchmark_app_path() -> Path:
    """The ``benchmark_app`` console script of the openvino package (beside this Python, else on PATH)."""
    here = Path(sys.executable).with_name("benchmark_app")
    if here.is_file():
        return here
    found = shutil.which("benchmark_app")
    if found is None:
        raise MissingDependencyError("openvino", "openvino", "the benchmark_app cross-check")
    return Path(found)


def parse_median_ms(text: str) -> float:
    """The median latency (ms) in ``benchmark_app`` output."""
    match = _MEDIAN.search(text)
    if match is None:
        raise SccgError("benchmark_app printed no 'Median: ... ms' line:\n" + text[-2000:])
    return float(match.group(1))


def benchmark_app_median(xml: Path, threads: int, size: int, niter: int = 20, timeout: float = 600) -> float:
    """Run ``benchmark_app -hint latency -niter N -shape [1,1,S,S]`` with T threads on ``xml``; its median in ms.

    benchmark_app refuses ``-nthreads`` together with ``-hint latency`` (a rule of its command line, not of
    OpenVINO), so the thread count goes in through ``-load_config`` as INFERENCE_NUM_THREADS, which is exactly
    what our OpenVINO backend sets. The inference precision is pinned to f32 as in our backend: left alone,
    OpenVINO picks bf16 on CPUs with native bf16 (AVX512_BF16/AMX), which would compare different computations.
    """
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps({"CPU": {"INFERENCE_NUM_THREADS": str(threads),
                                          "INFERENCE_PRECISION_HINT": "f32"}}))
        cmd = [str(benchmark_app_path()), "-m", str(xml), "-d", "CPU", "-hint", "latency", "-niter", str(niter),
               "-shape", f"[1,1,{size},{size}]", "-load_config", str(config)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise SccgError(f"benchmark_app failed (exit {proc.returncode}): {proc.stderr[-1000:] or proc.stdout[-1000:]}")
    return parse_median_ms(proc.stdout)


def compare_with_benchmark_app(xml: Path, threads: int, size: int, niter: int = 20, warmup: int = 3,
                               tolerance: float = 0.15) -> dict[str, Any]:
    """Median latency of our harness vs benchmark_app for the same IR, threads and shape.

    Returns:
        ``{"xml", "threads", "size", "niter", "ours_ms", "benchmark_app_ms", "relative_diff", "tolerance",
        "within_tolerance"}``; ``relative_diff = |ours - theirs| / theirs``.
    """
    backend = load_backend("openvino", xml, threads=threads)
    ours = time_backend(backend, random_input(size), warmup=warmup, iters=niter).median_ms
    del backend
    theirs = benchmark_app_median(xml, threads, size, niter=niter)
    rel = abs(ours - theirs) / theirs
    return {"xml": str(xml), "threads": threads, "size": size, "niter": niter, "ours_ms": ours,
            "benchmark_app_ms": theirs, "relative_diff": rel, "tolerance": tolerance,
            "within_tolerance": rel <= tolerance}


def make_ir(folder: Path, preset: str = "student-s", size: int = 256, seed: int = 0) -> Path:
    """An FP32 IR of an untrained ``preset`` generator (for the cross-check; weights do not affect latency)."""
    torch.manual_seed(seed)
    model = build_generator(preset).eval()
    onnx = export_onnx_file(model, Path(folder) / f"{preset}-{size}.onnx", size)
    return openvino_ir(onnx, Path(folder) / f"{preset}-{size}.xml", compress_to_fp16=False)
