"""Cross-check sccg-edge's latency harness against OpenVINO's benchmark_app on the same IR, threads and shape.

Usage (from the repository root):
    python benchmarks/openvino_benchmark_app_check.py [--preset student-s] [--size 256] [--threads N] [--niter 20]
        [--out benchmarks/runs/benchmark_app_check.json]

Writes a JSON result and exits 1 when the two medians differ by more than 15%.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from sccg_edge.bench.machine import machine_info
    from sccg_edge.bench.openvino_check import compare_with_benchmark_app, make_ir
    from sccg_edge.utils.fs import atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="student-s")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--niter", type=int, default=20)
    parser.add_argument("--tolerance", type=float, default=0.15)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/runs/benchmark_app_check.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        xml = make_ir(Path(tmp), args.preset, args.size)
        result = compare_with_benchmark_app(xml, args.threads, args.size, niter=args.niter, tolerance=args.tolerance)
    result.update({"preset": args.preset, "xml": f"{args.preset}-{args.size}.xml (temporary)",
                   "machine": machine_info(args.threads)})
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["within_tolerance"] else 1


if __name__ == "__main__":
    sys.exit(main())
