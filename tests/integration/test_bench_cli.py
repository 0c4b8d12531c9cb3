"""``sccg-edge bench`` end to end on two tiny generators: real ONNX / OpenVINO / NNCF artifacts, the four output
files, and no overwriting."""

from __future__ import annotations

import json
import re
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


def test_bench_plans_saves_each_case_and_continues(bench_inputs: dict[str, Path],
                                                   capsys: pytest.CaptureFixture) -> None:
    """The plan and an estimate come first; each finished case is on disk at once; a rerun into the same folder keeps
    what was measured and runs only the rest."""
    from sccg_edge.bench.runner import PARTIAL

    out = bench_inputs["root"] / "resumable"
    argv = ["bench", "--models", str(bench_inputs["narrow"]), "--size", "32", "--iters", "1", "--warmup", "0",
            "--threads", "1", "--precisions", "fp32", "--backends", "torch,openvino", "--data",
            str(bench_inputs["data"]), "--fidelity-slices", "1", "--no-paper-baseline", "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert re.search(r"bench plan: 2 cases to run: 1 model\(s\) .*estimated \d+ min", err)
    assert f"--out {out}" in err and not (out / PARTIAL).exists()
    done = json.loads((out / "results.json").read_text())["records"]
    # an interrupted run: only its first case saved, no result files yet
    interrupted = bench_inputs["root"] / "interrupted"
    interrupted.mkdir()
    config = json.loads((out / "results.json").read_text())["config"]
    (interrupted / "config.json").write_text(json.dumps(config) + "\n")
    first = {**done[0], "wall_s": 12345.0}  # a mark: a case run again would get its own wall time
    (interrupted / PARTIAL).write_text(json.dumps(first) + "\n")
    assert main([*argv[:-1], str(interrupted)]) == 0
    err = capsys.readouterr().err
    assert "1 cases to run (1 measured before are kept)" in err
    again = json.loads((interrupted / "results.json").read_text())["records"]
    assert [r["wall_s"] for r in again][0] == 12345.0 and again[1]["wall_s"] != 12345.0
    assert [(r["backend"], r["status"]) for r in again] == [(r["backend"], r["status"]) for r in done]
    assert not (interrupted / PARTIAL).exists() and not (interrupted / "config.json").exists()
    # a folder holding another suite's interrupted run is refused, nothing overwritten
    (interrupted / "results.json").rename(interrupted / "old.json")
    (interrupted / PARTIAL).write_text(json.dumps(first) + "\n")
    (interrupted / "config.json").write_text(json.dumps({"other": 1}) + "\n")
    assert main([*argv[:-1], str(interrupted)]) == 2 and "another suite" in capsys.readouterr().err


def test_bench_reports_what_flip_tta_costs(bench_inputs: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    out = bench_inputs["root"] / "tta"
    rc = main(["bench", "--models", str(bench_inputs["wide"]), "--size", "32", "--iters", "3", "--warmup", "1",
               "--threads", "1", "--precisions", "fp32", "--backends", "torch", "--data", str(bench_inputs["data"]),
               "--fidelity-slices", "2", "--no-paper-baseline", "--set", "tta=flip", "--out", str(out), "--json"])
    assert rc == 0, capsys.readouterr().err
    rec = json.loads((out / "results.json").read_text())["records"][0]
    assert rec["status"] == "ok" and rec["tta_flip_lat_median_ms"] > 0
    assert rec["tta_flip_cost_x"] == pytest.approx(rec["tta_flip_lat_median_ms"] / rec["lat_median_ms"])
    assert 0 <= rec["tta_flip_sct_ssim"] <= 1 and rec["tta_flip_sct_ssim"] != rec["sct_ssim"]  # a real second view
    assert "## Flip test-time averaging" in (out / "report.md").read_text()
    assert main(["bench", "--models", str(bench_inputs["wide"]), "--set", "tta=rotate",
                 "--out", str(bench_inputs["root"] / "tta2")]) == 2
