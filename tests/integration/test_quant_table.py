"""The quantization table on a tiny generator end to end: real NNCF / ONNX Runtime artifacts, scored, timed, and
reused when the table is made again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sccg_edge.bench import quant_table
from sccg_edge.config import QuantTableConfig


def test_table_rows_are_measured_and_resumable(tiny_generator: Path, tiny_data: Path, tmp_path: Path) -> None:
    cfg = QuantTableConfig(variants="ov-fp16,ov-int8,qdq-int8", directions="mr2ct", size=32, data=str(tiny_data),
                           iters=2, warmup=1)
    out = tmp_path / "table"
    result = quant_table(str(tiny_generator), out, cfg, progress=False)
    rows = {r["variant"]: r for r in result["rows"]}
    assert list(rows) == ["fp32", "ov-fp16", "ov-int8", "qdq-int8"]
    assert rows["fp32"]["test"]["agreement_psnr"] > 60  # OpenVINO FP32 reproduces PyTorch FP32
    assert rows["qdq-int8"]["convs"]["int8"] > 0 and rows["qdq-int8"]["runtime"] == "onnxruntime"
    assert rows["ov-int8"]["convs"]["int8"] > 0 and rows["ov-int8"]["runtime"] == "openvino"
    for r in rows.values():
        assert r["test"]["slices"] > 0 and r["latency_ms"] > 0 and r["bytes"] > 0
        assert r["test"]["fp32_psnr"] == pytest.approx(rows["fp32"]["test"]["fp32_psnr"])
    assert rows["qdq-int8"]["test"]["agreement_psnr"] < rows["fp32"]["test"]["agreement_psnr"]
    report = (out / "report.md").read_text()
    assert "| mr2ct | qdq-int8 | onnxruntime |" in report
    saved = json.loads((out / "results.json").read_text())
    assert [r["variant"] for r in saved["rows"]] == list(rows)
    stamp = (out / "artifacts" / "ov-int8-mr2ct" / "model.xml").stat().st_mtime_ns
    again = quant_table(str(tiny_generator), out, cfg, progress=False)  # artifacts reused, rows re-measured
    assert (out / "artifacts" / "ov-int8-mr2ct" / "model.xml").stat().st_mtime_ns == stamp
    assert len(again["rows"]) == 4
