"""Benchmark harness: latency, memory, size and fidelity of every model x backend x precision x size.

Entry point for library users: :func:`run_bench`. Pieces: :mod:`.harness` (timing), :mod:`.fidelity`,
:mod:`.suite` (cases), :mod:`.runner` (one case), :mod:`.report` (files), :mod:`.machine`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from sccg_edge.bench.harness import LatencyRecord, artifact_size_mb, peak_rss_mb, time_backend
from sccg_edge.bench.suite import SuiteConfig, load_suite_config
from sccg_edge.errors import ConfigError, InputError

__all__ = ["LatencyRecord", "SuiteConfig", "artifact_size_mb", "check_device", "check_out_dir", "default_out_dir",
           "load_suite_config", "peak_rss_mb", "run_bench", "time_backend"]


def default_out_dir(root: Path = Path("benchmarks/runs")) -> Path:
    """``benchmarks/runs/<timestamp>/``."""
    return root / time.strftime("%Y%m%d-%H%M%S")


def check_out_dir(out: Path) -> None:
    """Refuse an output folder that exists and is not empty (nothing is ever overwritten)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("output folder exists and is not empty; nothing was overwritten. Give a new --out", out)


def check_device(device: str) -> None:
    """Refuse --device cuda on a machine where torch sees no CUDA device."""
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"--device must be cpu or cuda, got '{device}'")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but no CUDA device is visible here (torch "
                              f"{torch.__version__}, CUDA available: no); run with --device cpu")


def run_bench(cfg: SuiteConfig, out: Path | None = None, keep_artifacts: bool = False,
              progress: bool = True) -> tuple[dict[str, Any], Path]:
    """Run the suite and write results.json, results.csv, report.md and pareto.png into ``out``.

    The folder is filled in a temporary sibling and renamed into place at the end, so an interrupted run leaves
    no half-written results. Artifacts are built in a temporary cache (kept under ``out/artifacts`` with
    ``keep_artifacts``).
    """
    from sccg_edge.bench.report import write_outputs
    from sccg_edge.bench.suite import run_suite
    from sccg_edge.utils.fs import atomic_dir

    check_device(cfg.device)
    out = Path(out) if out is not None else default_out_dir()
    check_out_dir(out)
    cache = Path(tempfile.mkdtemp(prefix="sccg-bench-"))
    try:
        result = run_suite(cfg, cache, progress=progress)
        if out.exists():
            out.rmdir()  # empty (checked above); atomic_dir wants to create it
        with atomic_dir(out) as tmp:
            write_outputs(tmp, result)
            if keep_artifacts and (cache / "artifacts").is_dir():
                shutil.copytree(cache / "artifacts", tmp / "artifacts", dirs_exist_ok=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return result, out
