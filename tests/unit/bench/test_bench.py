from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sccg_edge.backends import Backend
from sccg_edge.bench.fidelity import fidelity_record
from sccg_edge.bench.harness import artifact_size_mb, latency_stats, peak_rss_mb, time_backend
from sccg_edge.bench.machine import parse_cpuinfo
from sccg_edge.bench.pareto import pareto_front
from sccg_edge.cli import main
from sccg_edge.errors import ConfigError
from sccg_edge.metrics.score import by_direction


class _Sleepy(Backend):
    name = "sleepy"

    def __init__(self) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.calls = 0
        self.syncs = 0

    def _infer(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        import time

        time.sleep(0.002)
        return -x

    def synchronize(self) -> None:
        self.syncs += 1


def test_time_backend_stats() -> None:
    b = _Sleepy()
    rec = time_backend(b, np.zeros((2, 1, 8, 8), np.float32), warmup=2, iters=5)
    assert b.calls == 7 and b.syncs >= 10
    assert rec.iters == 5 and rec.warmup == 2 and rec.batch == 2
    assert 2.0 <= rec.min_ms <= rec.median_ms <= rec.p90_ms <= rec.p99_ms
    assert rec.slices_per_s == pytest.approx(2000.0 / rec.median_ms)
    with pytest.raises(ConfigError):
        time_backend(b, np.zeros((1, 1, 8, 8), np.float32), iters=0)


def test_latency_stats_exact() -> None:
    rec = latency_stats([0.001, 0.002, 0.003, 0.004, 0.010])
    assert rec.median_ms == pytest.approx(3.0) and rec.min_ms == pytest.approx(1.0)
    assert rec.mean_ms == pytest.approx(4.0) and rec.p90_ms == pytest.approx(7.6)


def test_memory_and_size(tmp_path: Path) -> None:
    assert peak_rss_mb() > 10
    (tmp_path / "m.xml").write_bytes(b"x" * 1024)
    (tmp_path / "m.bin").write_bytes(b"x" * 3 * 1024)
    assert artifact_size_mb(tmp_path / "m.xml") == pytest.approx(4 / 1024)
    assert artifact_size_mb(tmp_path / "none.onnx") is None


def test_parse_cpuinfo() -> None:
    info = parse_cpuinfo("model name\t: Some CPU\nflags\t\t: fpu avx2 fma avx512f amx_tile\n")
    assert info["cpu_model"] == "Some CPU"
    assert info["isa"]["avx2"] and info["isa"]["amx_tile"] and not info["isa"]["avx512_vnni"]


def test_pareto_front() -> None:
    pts = [(10.0, 30.0), (1.0, 20.0), (5.0, 25.0), (6.0, 24.0), (20.0, 29.0)]
    assert pareto_front(pts) == [1, 2, 0]


def test_fidelity_record() -> None:
    rng = np.random.default_rng(0)
    gt = rng.uniform(-1, 1, (2, 1, 16, 16)).astype(np.float32)
    src = np.clip(gt + 0.05, -1, 1)
    pred = np.clip(gt + 0.1, -1, 1)
    rec = fidelity_record(pred, gt, teacher_ref=pred, source_ref=src)
    assert rec["agree_psnr"] == float("inf") and rec["agree_mae"] == 0.0
    assert rec["d_psnr"] < 0 and rec["d_mae"] > 0
    flat = by_direction({"mr2ct": rec, "ct2mr": rec})
    assert flat["sct_psnr"] == flat["smr_psnr"] == flat["mean_psnr"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_bench_cuda_without_cuda(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:

    rc = main(["bench", "--device", "cuda", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "no CUDA device" in err and err.startswith("error:")
    assert not (tmp_path / "o").exists()


def test_model_table_speedups_and_fidelity_deltas() -> None:
    from sccg_edge.bench.report import model_table

    def rec(model, backend, ms, size=512, **fid):
        return {"model": model, "backend": backend, "precision": "fp32", "size": size, "status": "ok",
                "trained": True, "baseline_only": False, "gmacs": 1.0, "lat_median_ms": ms, **fid}

    fid_t = {"sct_psnr": 20.0, "sct_ssim": 0.70, "sct_mae": 10.0, "smr_psnr": 18.0, "smr_ssim": 0.6, "smr_mae": 12.0}
    fid_s = {"sct_psnr": 19.5, "sct_ssim": 0.69, "sct_mae": 11.0, "smr_psnr": 18.2, "smr_ssim": 0.61, "smr_mae": 12.5}
    records = [rec("teacher", "torch", 800.0), rec("teacher", "openvino", 500.0), rec("s", "openvino", 20.0),
               rec("s", "torch", 100.0), rec("teacher", "torch", 200.0, size=256, **fid_t),
               rec("s", "torch", 10.0, size=256, **fid_s)]
    result = {"records": records, "teacher": "teacher"}
    rows = {r["model"]: r for r in model_table(result)}
    assert rows["s"]["best_fp32"] == "openvino" and rows["s"]["speedup_best_vs_best"] == pytest.approx(25.0)
    assert rows["s"]["speedup_same_runtime"] == pytest.approx(25.0)
    assert rows["s"]["d_sct_psnr"] == pytest.approx(-0.5) and rows["s"]["d_smr_ssim"] == pytest.approx(0.01)
    assert rows["teacher"]["speedup_best_vs_best"] == pytest.approx(1.0)


def _result(reference: str) -> dict:
    def rec(model, backend, precision, ms, **extra):
        return {"model": model, "backend": backend, "precision": precision, "size": 256, "status": "ok",
                "trained": True, "baseline_only": False, "is_teacher": model == reference, "gmacs": 1.0,
                "lat_median_ms": ms, **extra}

    fid = {"fidelity_slices": 21, "fidelity_patients": 1}
    records = [rec(reference, "torch", "fp32", 515.0, mean_psnr=15.0, mean_ssim=0.6, **fid),
               rec(reference, "openvino", "fp32", 56.0), rec("s", "openvino", "int8", 1.0, mean_psnr=14.5,
                                                                mean_ssim=0.55, status_note="", **fid)]
    machine = {"isa": {"avx2": True}, "cpu_model": "cpu", "usable_cores": 2, "threads": 0, "versions": {},
               "device": "cpu"}
    return {"records": records, "teacher": reference, "machine": machine, "data": "SYNTHETIC phantom"}


def test_headline_speedup_is_against_the_references_best_runtime_and_names_it() -> None:
    from sccg_edge.bench.report import report_markdown, summary

    s = summary(_result("teacher"))["256"]
    assert s["speedup"] == pytest.approx(56.0) and s["reference_best_fp32"] == "teacher openvino fp32"
    text = report_markdown(_result("teacher"))
    assert "**56.0x** faster than the teacher's best FP32 runtime at the same size (teacher openvino fp32" in text
    assert "n = 21 slices, 1 patient" in text and "515" not in text.split("## Models")[0].split("faster")[0]
    # the signed difference reads as a direction ('lower' / 'higher'), never as 'loses -0.11 dB'
    assert "against the FP32 teacher: PSNR 0.50 dB lower, SSIM 0.0500 lower (n = 21 slices" in text
    better = _result("teacher")
    better["records"][2].update(mean_psnr=15.11, mean_ssim=0.6)
    assert "against the FP32 teacher: PSNR 0.11 dB higher, SSIM unchanged (n = 21" in report_markdown(better)
    other = report_markdown(_result("student-s"))  # no teacher among the models: no model is called the teacher
    assert "teacher FP32" not in other and "the reference model student-s (no teacher was benchmarked)" in other
    assert "faster than the reference model's best FP32 runtime" in other


def test_terminal_table_is_compact_when_narrow_or_piped() -> None:
    from rich.console import Console

    from sccg_edge.bench.report import results_table

    result = _result("teacher")
    result["records"][1]["status"] = "unsupported: a long reason " * 4
    for width in (None, 100):
        console = Console(width=120, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
        console.print(results_table(result, width))
        lines = console.export_text().splitlines()
        assert max(len(line) for line in lines) <= 120 and "long reason" not in "".join(lines)
        assert len([line for line in lines if "teacher" in line]) == 2  # one line per record: nothing wraps
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(results_table(result, 200))
    assert "agree PSNR" in console.export_text()
