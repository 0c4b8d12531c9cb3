"""The bench stage: latency, memory, size and fidelity of every model x backend x precision x size.

Entry points: :func:`run_bench` (the suite) and :func:`quant_table` (every deployable precision of one model).
Pieces: :mod:`.harness` (timing), :mod:`.fidelity`, :mod:`.suite` (cases), :mod:`.runner` (running them),
:mod:`.report` (files), :mod:`.machine`. Bench builds its artifacts through the export and quantize stages' public
functions and runs every one of them, PyTorch included, through a backend.
"""

from __future__ import annotations

from sccg_edge.bench.harness import LatencyRecord, artifact_size_mb, peak_rss_mb, time_backend
from sccg_edge.bench.quant_table import parse_variant, quant_table
from sccg_edge.bench.runner import check_device, check_out_dir, default_out_dir, run_bench, run_suite

__all__ = ["LatencyRecord", "artifact_size_mb", "check_device", "check_out_dir", "default_out_dir", "parse_variant",
           "peak_rss_mb", "quant_table", "run_bench", "run_suite", "time_backend"]
