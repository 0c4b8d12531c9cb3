"""Latency timing of a backend, peak memory of the process, and artifact size on disk."""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.backends import Backend
from sccg_edge.backends.inspect import size_on_disk
from sccg_edge.errors import ConfigError


@dataclass(frozen=True)
class LatencyRecord:
    """Wall-clock latency of ``iters`` timed calls (after ``warmup`` untimed ones) on a batch of ``batch``."""

    median_ms: float
    p90_ms: float
    p99_ms: float
    min_ms: float
    mean_ms: float
    iters: int
    warmup: int
    batch: int
    slices_per_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def latency_stats(times_s: list[float] | np.ndarray, batch: int = 1, warmup: int = 0) -> LatencyRecord:
    """Summary statistics of per-call times in seconds."""
    t = np.asarray(times_s, dtype=np.float64) * 1000.0
    if t.size == 0:
        raise ConfigError("no timed iterations; use iters >= 1")
    median = float(np.median(t))
    return LatencyRecord(median_ms=median, p90_ms=float(np.percentile(t, 90)), p99_ms=float(np.percentile(t, 99)),
                         min_ms=float(t.min()), mean_ms=float(t.mean()), iters=int(t.size), warmup=int(warmup),
                         batch=int(batch), slices_per_s=float(batch * 1000.0 / median) if median > 0 else float("inf"))


def time_backend(backend: Backend, x: np.ndarray, warmup: int = 3, iters: int = 10) -> LatencyRecord:
    """Time ``backend(x)``: ``warmup`` untimed calls, then ``iters`` timed ones, each fenced by ``synchronize()``.

    Args:
        backend: a loaded backend.
        x: the input batch (B, 1, H, W) float32 in [-1, 1].
        warmup: untimed calls first (compilation, caches, first-shape reshape).
        iters: timed calls (>= 1).
    """
    if iters < 1 or warmup < 0:
        raise ConfigError(f"iters must be >= 1 and warmup >= 0, got iters={iters}, warmup={warmup}")
    for _ in range(warmup):
        backend(x)
    backend.synchronize()
    times = []
    for _ in range(iters):
        backend.synchronize()
        start = time.perf_counter()
        backend(x)
        backend.synchronize()
        times.append(time.perf_counter() - start)
    return latency_stats(times, batch=int(x.shape[0]), warmup=warmup)


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux: ``/proc/self/clear_refs`` 5); False if refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (VmHWM since the last reset, else ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def artifact_size_mb(path: str | Path | None) -> float | None:
    """Size on disk in MiB of a file, an OpenVINO IR (.xml + .bin) or a folder; None if unknown."""
    size = size_on_disk(path)
    return None if size is None else size / 2**20
