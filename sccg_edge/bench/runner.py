"""Runs the benchmark: every case (artifact on the fly, backend load, timing, memory, fidelity) of a suite."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sccg_edge.backends import available_backends, backend_names, load_backend, run_batched
from sccg_edge.backends.tta import with_tta
from sccg_edge.bench.artifacts import Unsupported, case_artifact
from sccg_edge.bench.fidelity import fidelity_record, load_test_slices
from sccg_edge.bench.harness import artifact_size_mb, peak_rss_mb, reset_peak_rss, time_backend
from sccg_edge.bench.machine import machine_info
from sccg_edge.bench.report import write_outputs
from sccg_edge.bench.suite import (
    Case,
    ModelEntry,
    build_cases,
    check_sizes,
    random_input,
    resolve_models,
    slug,
    teacher_name,
)
from sccg_edge.config import DataConfig, SuiteConfig, to_dict
from sccg_edge.data.slices import SliceSet, load_splits
from sccg_edge.errors import ConfigError, InputError, SccgError
from sccg_edge.metrics.score import DIRECTIONS, by_direction
from sccg_edge.models import count_macs
from sccg_edge.utils.fs import atomic_write_text, check_writable
from sccg_edge.utils.jsonsafe import json_safe
from sccg_edge.utils.progress import track


class CaseRunner:
    """Holds the models, test slices and FP32 reference outputs shared by the cases of one suite run."""

    def __init__(self, cfg: SuiteConfig, cache: Path) -> None:
        self.cfg, self.cache = cfg, Path(cache)
        self.entries: dict[str, ModelEntry] = {}
        self.teacher = ""
        self.data_source = ""
        self._slices: SliceSet | None = None
        self._refs: dict[tuple[str, str], np.ndarray] = {}
        self._calib: dict[tuple[str, int], np.ndarray] = {}

    def prepare(self) -> list[Case]:
        """Resolve models and backends, count MACs, and list the cases."""
        avail = available_backends(self.cfg.device)
        if not avail:
            raise ConfigError(f"no inference backend can run on {self.cfg.device} here")
        backends = list(self.cfg.backends) or avail
        known = backend_names()
        for b in backends:
            if b not in known:
                raise ConfigError(f"unknown backend '{b}'; choose from: {', '.join(known)}")
        entries = resolve_models(self.cfg, self.cache / "models")
        for e in entries:
            for size in self.cfg.sizes:
                cost = count_macs(e.models["mr2ct"], (1, 1, size, size))
                e.macs_per_size[size], e.params = cost.macs, cost.params
        self.entries = {e.name: e for e in entries}
        self.teacher = teacher_name(entries)
        self.available = avail
        sizes = list(self.cfg.sizes)
        fid = self.cfg.fidelity_size
        self.fidelity_size = 0 if not fid else (fid if fid in sizes else min(sizes))
        return build_cases(self.cfg, entries, backends)

    def config_dict(self) -> dict[str, Any]:
        """The suite's config as written to results.json."""
        return to_dict(self.cfg)

    def run_case(self, case: Case) -> dict[str, Any]:
        """One flat result record; never raises for an unsupported or failing case."""
        e = self.entries[case.model]
        heavy = e.macs_per_size[case.size] > self.cfg.heavy_gmac * 1e9
        rec: dict[str, Any] = {
            "model": case.model, "label": e.label, "arch": e.arch, "trained": e.trained, "backend": case.backend,
            "precision": case.precision, "size": case.size, "device": self.cfg.device,
            "threads": self.cfg.threads, "gmacs": e.macs_per_size[case.size] / 1e9, "params_m": e.params / 1e6,
            "is_teacher": case.model == self.teacher, "baseline_only": e.baseline_only, "note": "",
        }
        if case.backend not in self.available:
            return {**rec, "status": f"unsupported: the {case.backend} runtime cannot run on {self.cfg.device} "
                                     f"here (available: {', '.join(self.available)})"}
        try:
            rec.update(self._measure(case, e, heavy))
            rec["status"] = "ok"
        except Unsupported as why:
            rec["status"] = f"unsupported: {why}"
        except SccgError as err:
            rec["status"] = f"unsupported: {err}"
        except Exception as err:  # noqa: BLE001 - a benchmark records a crashing runtime and goes on
            rec["status"] = f"error: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        return rec

    def _backend(self, case: Case, e: ModelEntry, direction: str) -> tuple[Any, str]:
        folder = self.cache / "artifacts" / f"{slug(case.model)}-{direction}"
        calib = self._calibration(direction, case.size) if case.precision == "int8" else None
        path, options, note = case_artifact(case.backend, case.precision, self.cfg.device, e.specs[direction],
                                            e.models[direction], case.size, folder, calib)
        backend = load_backend(case.backend, path, device=self.cfg.device, threads=self.cfg.threads,
                               direction=direction, **options)
        return backend, note

    def _measure(self, case: Case, e: ModelEntry, heavy: bool) -> dict[str, Any]:
        reset_peak_rss()
        backend, note = self._backend(case, e, "mr2ct")
        warmup, iters = (self.cfg.heavy_warmup, self.cfg.heavy_iters) if heavy else (self.cfg.warmup, self.cfg.iters)
        lat = time_backend(backend, random_input(case.size, seed=self.cfg.seed), warmup=warmup, iters=iters)
        out: dict[str, Any] = {**{f"lat_{k}" if k.endswith("_ms") else k: v for k, v in lat.to_dict().items()},
                               "artifact": str(backend.artifact_path), "note": note,
                               "artifact_mb": artifact_size_mb(backend.artifact_path),
                               "backend_precision": backend.precision}
        scored = case.size == self.fidelity_size and not e.baseline_only
        # each direction's backend is loaded once and serves the plain and the flip-averaged scores alike
        backends = {"mr2ct": backend, "ct2mr": self._backend(case, e, "ct2mr")[0]} if scored else {}
        if scored:
            out.update(self._fidelity(case, e, backends))
        if self.cfg.tta == "flip":
            out.update(self._flip_tta(case, backend, backends, lat.median_ms, warmup, iters))
        out["peak_rss_mb"] = peak_rss_mb()
        return out

    def _flip_tta(self, case: Case, backend: Any, backends: dict[str, Any], plain_ms: float, warmup: int,
                  iters: int) -> dict[str, Any]:
        """What flip test-time averaging costs on this case: its latency (and the ratio to the plain latency,
        measured in the same case) and, when ``backends`` are scored, PSNR/SSIM/MAE against ground truth with it."""
        lat = time_backend(_Flipped(backend), random_input(case.size, seed=self.cfg.seed), warmup=warmup, iters=iters)
        out: dict[str, Any] = {"tta_flip_lat_median_ms": lat.median_ms, "tta_flip_cost_x": lat.median_ms / plain_ms}
        if backends:
            slices = self.slices(case.size)
            per = {}
            for direction in DIRECTIONS:
                src, gt = slices.pair(direction)
                rec = fidelity_record(run_batched(_Flipped(backends[direction]), src), gt, None, None)
                per[direction] = {k: rec[k] for k in ("psnr", "ssim", "mae")}
            out.update({f"tta_flip_{k}": v for k, v in by_direction(per).items()})
        return out

    def _fidelity(self, case: Case, e: ModelEntry, backends: dict[str, Any]) -> dict[str, Any]:
        slices = self.slices(case.size)
        per = {}
        for direction in DIRECTIONS:
            src, gt = slices.pair(direction)
            pred = run_batched(backends[direction], src)
            per[direction] = fidelity_record(pred, gt, self.reference(self.teacher, direction, case.size),
                                             self.reference(case.model, direction, case.size))
        flat = by_direction(per)
        flat["fidelity_slices"] = len(slices.names)
        flat["fidelity_patients"] = len(set(slices.patients))
        flat["fidelity_vs_gt_meaningful"] = e.trained
        return flat

    def slices(self, size: int) -> SliceSet:
        """The fidelity test slices (loaded once, at ``fidelity_size``)."""
        if self._slices is None:
            self._slices, self.data_source = load_test_slices(size, self.cfg.data or None,
                                                              limit=self.cfg.fidelity_slices)
        return self._slices

    def reference(self, model: str, direction: str, size: int) -> np.ndarray:
        """FP32 outputs of ``model`` on the test slices, run by the torch backend (cached)."""
        key = (model, direction)
        if key not in self._refs:
            src, _ = self.slices(size).pair(direction)
            self._refs[key] = run_batched(load_backend("torch", self.entries[model].models[direction].float()), src)
        return self._refs[key]

    def _calibration(self, direction: str, size: int) -> np.ndarray:
        """Calibration inputs: slices of the calibration split at ``size`` (cached)."""
        if (direction, size) in self._calib:
            return self._calib[(direction, size)]
        splits = load_splits(DataConfig(root=self.cfg.data, size=size))
        calib = splits.get("calibration") or splits["train"]
        self._calib[(direction, size)] = calib.spread(self.cfg.calib_slices).pair(direction)[0]
        return self._calib[(direction, size)]


class _Flipped:
    """A backend behind flip test-time averaging (two inferences a call), timed like any backend."""

    def __init__(self, backend: Any) -> None:
        self.backend, self._run = backend, with_tta(backend, "flip")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._run(x)

    def synchronize(self) -> None:
        self.backend.synchronize()


PARTIAL = "records.partial.jsonl"  # finished cases of a run in progress (one JSON record a line)
CASE_OVERHEAD_S = {"fp32": 3.0, "fp16": 6.0, "bf16": 6.0, "int8": 20.0}  # artifact building, by precision (rough)


def case_key(rec: dict[str, Any] | Case) -> tuple[str, str, str, int]:
    """What identifies a case in a run: model, backend, precision, size."""
    get = rec.get if isinstance(rec, dict) else lambda k: getattr(rec, k)
    return (str(get("model")), str(get("backend")), str(get("precision")), int(get("size")))


def estimate_s(runner: CaseRunner, cases: list[Case]) -> float:
    """A rough duration of ``cases``: one PyTorch FP32 run of the cheapest model here gives this machine's GMAC/s;
    each case costs its timed and warm-up runs, its fidelity runs and a fixed artifact-building overhead."""
    if not cases:
        return 0.0
    e = min(runner.entries.values(), key=lambda m: min(m.macs_per_size.values()))
    size = min(e.macs_per_size, key=e.macs_per_size.get)
    run = load_backend("torch", e.models["mr2ct"].float())
    x = random_input(size, seed=0)
    run(x)
    t0 = time.perf_counter()
    run(x)
    rate = e.macs_per_size[size] / max(time.perf_counter() - t0, 1e-4)
    total = 0.0
    for case in cases:
        m = runner.entries[case.model]
        heavy = m.macs_per_size[case.size] > runner.cfg.heavy_gmac * 1e9
        runs = (runner.cfg.heavy_warmup + runner.cfg.heavy_iters) if heavy else (runner.cfg.warmup + runner.cfg.iters)
        if case.size == runner.fidelity_size and not m.baseline_only:
            runs += 2 * (runner.cfg.fidelity_slices or 24)
        speed = 1.0 if case.backend == "torch" else 2.0  # the exported runtimes run faster than eager PyTorch
        total += runs * m.macs_per_size[case.size] / rate / speed + CASE_OVERHEAD_S.get(case.precision, 5.0)
    return total


def run_suite(cfg: SuiteConfig, cache: Path, on_record: Callable[[dict[str, Any]], None] | None = None,
              progress: bool = True, done: list[dict[str, Any]] | None = None,
              on_plan: Callable[[list[Case], float], None] | None = None) -> dict[str, Any]:
    """Run every case; returns {"machine", "config", "teacher", "records"}. Unsupported cases are records too.

    ``done`` holds records of cases already measured (an interrupted run being continued): those cases are not run
    again. ``on_plan(cases_to_run, estimated_seconds)`` is called once before the first case.
    """
    check_sizes(cfg)
    runner = CaseRunner(cfg, cache)
    cases = runner.prepare()
    finished = {case_key(r): r for r in done or []}
    todo = [c for c in cases if case_key(c) not in finished]
    if on_plan is not None:
        on_plan(todo, estimate_s(runner, todo))
    records = []
    for case in track(cases, "benchmarking", total=len(cases), enabled=progress):
        if case_key(case) in finished:
            records.append(finished[case_key(case)])
            continue
        t0 = time.perf_counter()
        rec = runner.run_case(case)
        rec["wall_s"] = round(time.perf_counter() - t0, 2)
        records.append(rec)
        if on_record:
            on_record(rec)
    if runner.fidelity_size and not runner.data_source:
        runner.slices(runner.fidelity_size)  # a continued run whose fidelity cases were all done before
    return {"machine": machine_info(cfg.threads, cfg.device), "config": runner.config_dict(),
            "teacher": runner.teacher, "data": runner.data_source, "records": records}


def default_out_dir(root: Path = Path("benchmarks/runs")) -> Path:
    """``benchmarks/runs/<timestamp>/``."""
    return root / time.strftime("%Y%m%d-%H%M%S")


def check_out_dir(out: Path) -> None:
    """Refuse an output folder that exists and is not empty (nothing is ever overwritten), unless it holds an
    interrupted run (only its partial records and config), which ``run_bench`` continues."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if out.is_dir() and (out / PARTIAL).is_file() and not (out / "results.json").exists():
            return
        raise InputError("output folder exists and is not empty; nothing was overwritten. Give a new --out", out)


def check_device(device: str) -> None:
    """Refuse --device cuda on a machine where torch sees no CUDA device."""
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"--device must be cpu or cuda, got '{device}'")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is visible here (torch "
                          f"{torch.__version__}, CUDA available: no); run with --device cpu")


def _read_partial(out: Path, cfg: SuiteConfig) -> list[dict[str, Any]]:
    """Records of an interrupted run in ``out`` (checked to be the same suite), else []."""
    if not (out / PARTIAL).is_file():
        return []
    saved = json.loads((out / "config.json").read_text()) if (out / "config.json").is_file() else None
    if saved != json.loads(json.dumps(to_dict(cfg))):
        raise InputError("holds an interrupted benchmark of another suite (config.json differs); give a new --out "
                         "or the same options as before", out)
    lines = (out / PARTIAL).read_text().splitlines()
    def number(v: Any) -> Any:
        return float(v) if v in ("inf", "-inf") else v

    return [{k: number(v) for k, v in json.loads(line).items()} for line in lines if line.strip().endswith("}")]


def run_bench(cfg: SuiteConfig, out: Path | None = None, keep_artifacts: bool = False,
              progress: bool = True) -> tuple[dict[str, Any], Path]:
    """Run the suite and write results.json, results.csv, report.md and pareto.png into ``out``.

    Before the first case the plan (cases, estimated duration) is printed on stderr. Each finished case is appended
    to ``out/records.partial.jsonl`` at once, so an interrupted run keeps what it measured; running the same suite
    into the same ``out`` again continues it (measured cases are not run again). The four result files are written
    at the end (each atomically) and the partial files removed. Artifacts are built in a temporary cache (kept
    under ``out/artifacts`` with ``keep_artifacts``).
    """
    check_device(cfg.device)
    out = Path(out) if out is not None else default_out_dir()
    check_out_dir(out)
    check_writable(out)  # before the benchmark, not after it
    done = _read_partial(out, cfg)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", json.dumps(to_dict(cfg)) + "\n")
    cache = Path(tempfile.mkdtemp(prefix="sccg-bench-"))
    finished = False

    def plan(cases: list[Case], seconds: float) -> None:
        models = sorted({c.model for c in cases})
        again = f" ({len(done)} measured before are kept)" if done else ""
        print(f"bench plan: {len(cases)} cases to run{again}: {len(models)} model(s) ({', '.join(models)}) x "
              f"backends {', '.join(sorted({c.backend for c in cases}))} x precisions "
              f"{', '.join(sorted({c.precision for c in cases}))} x sizes "
              f"{', '.join(str(s) for s in sorted({c.size for c in cases}))}; estimated {seconds / 60:.0f} min "
              f"(rough). Each finished case is saved in {out / PARTIAL}; if interrupted, run the same command with "
              f"--out {out} to continue.", file=sys.stderr, flush=True)

    def save(rec: dict[str, Any]) -> None:
        with (out / PARTIAL).open("a") as fh:
            fh.write(json.dumps(json_safe(rec, inf_as_text=True), default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    try:
        result = run_suite(cfg, cache, on_record=save, progress=progress, done=done, on_plan=plan)
        write_outputs(out, result)
        if keep_artifacts and (cache / "artifacts").is_dir():
            shutil.copytree(cache / "artifacts", out / "artifacts", dirs_exist_ok=True)
        (out / PARTIAL).unlink(missing_ok=True)
        (out / "config.json").unlink(missing_ok=True)
        finished = True
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if not finished and not (out / PARTIAL).is_file():
            # stopped before any case was measured: nothing to continue from, so nothing is left behind
            (out / "config.json").unlink(missing_ok=True)
            if created and out.is_dir() and not any(out.iterdir()):
                out.rmdir()
    return result, out
