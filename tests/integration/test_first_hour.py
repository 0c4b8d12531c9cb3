"""The three commands the toolkit is known by, typed bare, as a new user without ``../shared`` types them.

``sccg-edge distill``, ``sccg-edge quantize --int8`` and ``sccg-edge bench --device cpu`` run exactly so; only their
budgets are cut through ``$SCCG_SET_<COMMAND>`` (extra ``--set`` items), so that the test takes seconds, not hours.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sccg_edge.cli import main

THIRD_PARTY_NOISE = ("WARNING:root", "UserWarning", "TracerWarning", "Statistics collection", "Fast Bias correction")


@pytest.fixture()
def new_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder on a machine without the shared real data (the phantom is the default data)."""
    monkeypatch.setenv("SCCG_SHARED_DATA", str(tmp_path / "no-shared-data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _one(pattern: str, root: Path) -> Path:
    found = sorted(root.glob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


def test_bare_distill_quantize_and_bench(new_user: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("SCCG_SET_DISTILL", "max_steps=1 val_max_slices=1 data.size=32 data.crop=0 "
                                           "optim.batch_size=1")
    assert main(["distill"]) == 0
    out, err = capsys.readouterr()
    run = _one("runs/distill-student-s-*", new_user)
    assert "student student-s from teacher 'teacher', recipe distill-cpu" in err
    assert str(run.relative_to(new_user)) in err
    assert "--resume" in err and "--max-minutes" in err  # how to change or continue what was chosen
    assert "SYNTHETIC" in err and "run" in out and "{" not in out  # a human table, not JSON, without --json
    assert all(noise not in err for noise in THIRD_PARTY_NOISE), err
    for direction in ("mr2ct", "ct2mr"):
        assert (run / "student" / f"g_{direction}.safetensors").is_file()

    monkeypatch.setenv("SCCG_SET_QUANTIZE", "size=32 subset_size=4 val_max_slices=1")
    assert main(["quantize", "--int8"]) == 0
    out, err = capsys.readouterr()
    q = _one("runs/quantize-student-s-int8-openvino-*", new_user)
    assert "--model student-s" in err and "--target openvino" in err and str(q.relative_to(new_user)) in err
    assert all(noise not in err for noise in THIRD_PARTY_NOISE), err
    for direction in ("mr2ct", "ct2mr"):
        card = json.loads((q / direction / "card.json").read_text())
        assert card["direction"] == direction and card["precision"] == "int8"
        assert (q / direction / "model.xml").is_file()
    assert "quantize mr2ct" in out and "quantize ct2mr" in out
    assert "0000000" not in out  # rounded figures

    monkeypatch.setenv("SCCG_SET_BENCH", "models=[student-xs] sizes=[32] precisions=[fp32] backends=[torch,openvino] "
                                         "warmup=0 iters=1 heavy_iters=1 heavy_warmup=0 paper_baseline=false")
    assert main(["bench", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(_one("benchmarks/runs/*/results.json", new_user).read_text())
    assert {(r["backend"], r["status"]) for r in result["records"]} == {("torch", "ok"), ("openvino", "ok")}
    assert "SYNTHETIC" in result["data"]
