"""``sccg-edge bench`` end to end on two tiny generators: real ONNX / OpenVINO / NNCF artifacts, the four output
files, and no overwriting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from sccg_edge.cli import main
from sccg_edge.models import build_generator
from sccg_edge.models.loading import save_generator
from tests.conftest import snapshot


@pytest.fixture(scope="module")
def bench_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from sccg_edge.data.phantom import write_phantom_dataset

    root = tmp_path_factory.mktemp("bench")
    write_phantom_dataset(root / "data", patients=3, size=32, slices=4)
    for name, ngf in (("wide", 8), ("narrow", 4)):
        (root / name).mkdir()
        for i, direction in enumerate(("mr2ct", "ct2mr")):
            torch.manual_seed(i)
            save_generator(build_generator("student-s", ngf=ngf, n_blocks=1).eval(),
                           root / name / f"g_{direction}.safetensors", direction, 32)
    return {"root": root, "data": root / "data", "wide": root / "wide", "narrow": root / "narrow"}


def test_bench_cli_writes_four_files(bench_inputs: dict[str, Path], capsys: pytest.CaptureFixture) -> None:

    out = bench_inputs["root"] / "run"
    models = f"{bench_inputs['wide']},{bench_inputs['narrow']}"
    rc = main(["bench", "--models", models, "--size", "32", "--iters", "2", "--warmup", "1", "--threads", "1",
               "--precisions", "fp32,int8", "--backends", "torch,openvino", "--data", str(bench_inputs["data"]),
               "--fidelity-slices", "1", "--no-paper-baseline", "--out", str(out), "--json"])
    assert rc == 0, capsys.readouterr().err
    printed = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in out.iterdir()) == ["pareto.png", "report.md", "results.csv", "results.json"]
    result = json.loads((out / "results.json").read_text())
    assert result["machine"]["usable_cores"] >= 1 and "avx2" in result["machine"]["isa"]
    recs = {(r["model"], r["backend"], r["precision"]): r for r in result["records"]}
    assert len(recs) == 8 and len(printed["records"]) == 8
    ok = recs[("wide", "openvino", "fp32")]
    assert ok["status"] == "ok" and ok["lat_median_ms"] > 0 and ok["artifact_mb"] > 0 and ok["peak_rss_mb"] > 0
    assert ok["mean_agree_psnr"] > 60 and abs(ok["mean_d_psnr"]) < 0.01  # same weights as the FP32 teacher
    assert recs[("wide", "torch", "int8")]["status"].startswith("unsupported:")
    int8 = recs[("wide", "openvino", "int8")]  # NNCF PTQ through sccg_edge.quantize
    assert int8["status"] == "ok" and int8["lat_median_ms"] > 0 and int8["mean_agree_psnr"] > 15
    assert result["teacher"] == "wide"
    assert "speedup" in result["summary"]["32"]
    assert (out / "results.csv").read_text().count("\n") == 9
    assert "x** faster" in (out / "report.md").read_text()
    assert Image.open(out / "pareto.png").size == (900, 600)
    # nothing is overwritten
    before = snapshot(out)
    rc = main(["bench", "--models", models, "--size", "32", "--out", str(out)])
    assert rc == 2 and "not empty" in capsys.readouterr().err
    assert snapshot(out) == before
