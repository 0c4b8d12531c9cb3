"""``sccg-edge demo`` end to end on a small phantom with the shipped models: the summary a newcomer reads, the
side-by-side picture, the INT8 artifact; the long benchmark only behind ``--bench``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from sccg_edge.cli import main


def test_demo_explains_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("SCCG_SHARED_DATA", str(tmp_path / "no-shared-data"))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--size", "64", "--slices", "4", "--iters", "2"]) == 0
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text and "not as their quality" in text
    # every fidelity figure has its unit, scale and n; the speed-up says what it is measured against
    assert "0..255 scale" in text and "PSNR in dB" in text and "test slices of 1 phantom patient" in text
    assert text.count("(n=4)") == 5  # teacher and student both ways, the INT8 student MR->CT
    assert text.count("agrees with the FP32 teacher") == 2 and text.count("agrees with its FP32 source") == 1
    assert "faster than the teacher's best FP32 runtime here (teacher FP32 " in text
    assert "median of 2 runs" in text and "bench" in text and not (out / "bench").exists()
    picture = out / "demo.png"
    assert str(picture) in text and Image.open(picture).size == (5 * 64, 64 + 18)
    assert (out / "int8-mr2ct" / "card.md").is_file()
    assert main(["demo", "--out", str(tmp_path / "again"), "--size", "64", "--slices", "4", "--iters", "1",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["test_slices"] == 4 and report["timing"]["speedup"] > 0 and report["summary"][0].startswith("sccg")
