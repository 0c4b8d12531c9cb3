"""Which precision / runtime is fastest on this CPU, measured: interleaved timing and the sentence that says so.

``quantize`` times the artifact it built against its FP32 source on the same runtime, ``bench`` reads its own latency
records; both name the fastest form with :func:`fastest` instead of offering a slower one silently.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sccg_edge.backends.apply import Run


def time_interleaved(runs: Mapping[str, Run], x: np.ndarray, rounds: int = 10, warmup: int = 2) -> dict[str, float]:
    """Median wall ms per call of each run on ``x``, timed round robin (each round calls every run once), so that
    other work on the machine slows every candidate alike."""
    for run in runs.values():
        for _ in range(warmup):
            run(x)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(max(rounds, 1)):
        for name, run in runs.items():
            start = time.perf_counter()
            run(x)
            times[name].append(time.perf_counter() - start)
    return {k: round(float(np.median(v)) * 1e3, 2) for k, v in times.items()}


def fastest(ms: Mapping[str, float], chosen: str | None = None) -> dict[str, Any]:
    """The fastest of ``ms`` (label -> ms per slice) and a sentence; ``chosen`` (what was just built) is named as
    slower when it is."""
    ranked = sorted(ms.items(), key=lambda kv: kv[1])
    best, best_ms = ranked[0]
    listing = ", ".join(f"{k} {v:.1f} ms" for k, v in ranked)
    note = f"fastest on this CPU: {best} ({listing} per slice, measured here)"
    if chosen is not None and chosen != best:
        note += f"; {chosen} is {ms[chosen] / best_ms:.2f}x slower than {best} here"
    return {"fastest": best, "ms": dict(ranked), "note": note}


def fastest_lines(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per (model, size) of bench records: which backend and precision ran fastest (median latency)."""
    groups: dict[tuple[str, int], dict[str, float]] = {}
    for r in records:
        if r.get("status") == "ok" and isinstance(r.get("lat_median_ms"), (int, float)):
            key = (str(r.get("label") or r["model"]), int(r["size"]))
            groups.setdefault(key, {})[f"{r['backend']} {r['precision']}"] = float(r["lat_median_ms"])
    return [f"{model} {size}x{size}: {fastest(ms)['note']}" for (model, size), ms in sorted(groups.items())
            if len(ms) > 1]
