"""Naming the fastest precision / runtime from measured latencies."""

from __future__ import annotations

import time

import numpy as np

from sccg_edge.backends.speed import fastest, fastest_lines, time_interleaved


def test_fastest_names_the_winner_and_a_slower_choice() -> None:
    got = fastest({"onnxruntime int8": 30.0, "onnxruntime fp32": 20.0}, chosen="onnxruntime int8")
    assert got["fastest"] == "onnxruntime fp32"
    assert list(got["ms"]) == ["onnxruntime fp32", "onnxruntime int8"]
    assert "1.50x slower" in got["note"]
    assert "slower" not in fastest({"a": 1.0, "b": 2.0}, chosen="a")["note"]


def test_time_interleaved_ranks_a_slow_run_last() -> None:
    def slow(x: np.ndarray) -> np.ndarray:
        time.sleep(0.004)
        return x

    ms = time_interleaved({"slow": slow, "fast": lambda x: x}, np.zeros((1, 1, 4, 4), np.float32), rounds=3)
    assert ms["slow"] >= 3.5 > ms["fast"]


def test_bench_records_give_one_line_per_model_and_size() -> None:
    rec = [{"model": "s", "label": "student-s", "size": 256, "backend": "openvino", "precision": "int8",
            "status": "ok", "lat_median_ms": 3.0},
           {"model": "s", "label": "student-s", "size": 256, "backend": "openvino", "precision": "fp16",
            "status": "ok", "lat_median_ms": 6.0},
           {"model": "s", "label": "student-s", "size": 256, "backend": "tensorrt", "precision": "int8",
            "status": "unsupported: no GPU"},
           {"model": "s", "label": "student-s", "size": 512, "backend": "openvino", "precision": "int8",
            "status": "ok", "lat_median_ms": 12.0}]
    lines = fastest_lines(rec)
    assert lines == ["student-s 256x256: fastest on this CPU: openvino int8 (openvino int8 3.0 ms, openvino fp16 "
                     "6.0 ms per slice, measured here)"]
