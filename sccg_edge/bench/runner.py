"""Runs single benchmark cases: artifact on the fly, backend load, timing, memory, fidelity."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.bench.artifacts import Unsupported, case_artifact
from sccg_edge.bench.fidelity import DIRECTIONS, TestSlices, combine_directions, fidelity_record, translate_all
from sccg_edge.bench.harness import artifact_size_mb, peak_rss_mb, reset_peak_rss, time_backend
from sccg_edge.bench.suite import (
    Case,
    ModelEntry,
    SuiteConfig,
    build_cases,
    random_input,
    resolve_models,
    split_list,
    teacher_name,
)
from sccg_edge.errors import ConfigError, SccgError


class CaseRunner:
    """Holds the models, test slices and FP32 reference outputs shared by the cases of one suite run."""

    def __init__(self, cfg: SuiteConfig, cache: Path) -> None:
        self.cfg, self.cache = cfg, Path(cache)
        self.entries: dict[str, ModelEntry] = {}
        self.teacher = ""
        self.data_source = ""
        self._slices: TestSlices | None = None
        self._refs: dict[tuple[str, str], np.ndarray] = {}
        self._calib: dict[tuple[str, int], np.ndarray] = {}

    def prepare(self) -> list[Case]:
        """Resolve models and backends, count MACs, and list the cases."""
        from sccg_edge.backends import available_backends
        from sccg_edge.backends.base import BACKENDS, _ensure_registered
        from sccg_edge.models import count_macs

        _ensure_registered()
        avail = available_backends(self.cfg.device)
        if not avail:
            raise ConfigError(f"no inference backend can run on {self.cfg.device} here")
        backends = split_list(self.cfg.backends) or avail
        for b in backends:
            if b not in BACKENDS:
                raise ConfigError(f"unknown backend '{b}'; choose from: {', '.join(BACKENDS.names())}")
        entries = resolve_models(self.cfg, self.cache / "models")
        for e in entries:
            for size in (int(s) for s in split_list(self.cfg.sizes)):
                cost = count_macs(e.models["mr2ct"], (1, 1, size, size))
                e.macs_per_size[size], e.params = cost.macs, cost.params
        self.entries = {e.name: e for e in entries}
        self.teacher = teacher_name(entries)
        self.available = avail
        sizes = [int(s) for s in split_list(self.cfg.sizes)]
        fid = self.cfg.fidelity_size
        self.fidelity_size = 0 if not fid else (fid if fid in sizes else min(sizes))
        return build_cases(self.cfg, entries, backends)

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.cfg)

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
        from sccg_edge.backends import load_backend

        folder = self.cache / "artifacts" / f"{_slug(case.model)}-{direction}"
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
        if case.size == self.fidelity_size and not e.baseline_only:
            out.update(self._fidelity(case, e, backend))
        out["peak_rss_mb"] = peak_rss_mb()
        return out

    def _fidelity(self, case: Case, e: ModelEntry, first: Any) -> dict[str, Any]:
        slices = self.slices(case.size)
        per = {}
        for direction in DIRECTIONS:
            backend = first if direction == "mr2ct" else self._backend(case, e, direction)[0]
            src, gt = slices.pair(direction)
            pred = translate_all(backend, src)
            per[direction] = fidelity_record(pred, gt, self.reference(self.teacher, direction, case.size),
                                             self.reference(case.model, direction, case.size))
        flat = combine_directions(per)
        flat["fidelity_slices"] = len(slices.names)
        flat["fidelity_vs_gt_meaningful"] = e.trained
        return flat

    def slices(self, size: int) -> TestSlices:
        """The fidelity test slices (loaded once, at ``fidelity_size``)."""
        if self._slices is None:
            from sccg_edge.bench.fidelity import load_test_slices

            self._slices = load_test_slices(size, self.cfg.data or None, limit=self.cfg.fidelity_slices)
            self.data_source = self._slices.source
        return self._slices

    def reference(self, model: str, direction: str, size: int) -> np.ndarray:
        """FP32 eager-torch outputs of ``model`` on the test slices (cached)."""
        key = (model, direction)
        if key not in self._refs:
            import torch

            src, _ = self.slices(size).pair(direction)
            with torch.inference_mode():
                gen = self.entries[model].models[direction].float().eval()
                self._refs[key] = np.concatenate([gen(torch.from_numpy(src[i:i + 1])).numpy()
                                                  for i in range(len(src))])
        return self._refs[key]

    def _calibration(self, direction: str, size: int) -> np.ndarray:
        """Calibration inputs: slices of the calibration split at ``size`` (cached)."""
        if (direction, size) in self._calib:
            return self._calib[(direction, size)]
        from sccg_edge.config import DataConfig
        from sccg_edge.train.slices import load_splits

        splits = load_splits(DataConfig(root=self.cfg.data, size=size))
        calib = splits.get("calibration") or splits["train"]
        src = calib.mr if direction == "mr2ct" else calib.ct
        n = len(src)
        idx = np.unique(np.linspace(0, n - 1, num=min(self.cfg.calib_slices, n)).round().astype(int))
        self._calib[(direction, size)] = src[idx].numpy()
        return self._calib[(direction, size)]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name))[-60:]
