"""Shipping a run as a model folder, evaluating it, and converting PNG slices with it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sccg_edge.cli import main
from sccg_edge.config import ShipConfig
from sccg_edge.errors import InputError
from sccg_edge.ship import ship_run
from tests.conftest import TINY


@pytest.fixture(scope="module")
def tiny_run(phantom, tmp_path_factory):
    out = tmp_path_factory.mktemp("ship") / "run"
    assert main(["train", "--recipe", "cpu", "--data", str(phantom), "--out", str(out), "--epochs", "1", *TINY]) == 0
    return out


def test_ship_writes_card_measured_on_shipped_weights(tiny_run, phantom, tmp_path, monkeypatch):
    monkeypatch.setenv("SCCG_SHARED_DATA", str(tmp_path / "no-shared"))  # score on the phantom, not real data
    card = ship_run(tiny_run, tmp_path / "model", ShipConfig(half=True, data=str(phantom)))
    files = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert files == ["MODEL_CARD.md", "card.json", "config.yaml", "g_ct2mr.safetensors", "g_mr2ct.safetensors"]
    assert card["weights_dtype"] == "float16" and card["run"]["epochs_trained"] == 1
    assert 0.0 <= card["test"]["sct"]["ssim"] <= 1.0 and "head_ssim" in card["test"]["smr"]
    md = (tmp_path / "model" / "MODEL_CARD.md").read_text()
    assert f"{card['test']['sct']['ssim']:.4f}" in md
    with pytest.raises(InputError, match="destination exists"):
        ship_run(tiny_run, tmp_path / "model")


def test_convert_png_folder_keeps_names_and_refuses_overwrite(tiny_run, tmp_path, capsys):
    capsys.readouterr()  # drop the fixture's training summary
    src = tmp_path / "mr"
    src.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 255, (48, 40), dtype=np.uint8)).save(src / name)
    out = tmp_path / "sct"
    assert main(["convert", "--model", str(tiny_run), "--direction", "mr2ct", "--input", str(src),
                 "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert np.asarray(Image.open(out / "a.png")).shape == (48, 40)
    assert main(["convert", "--model", str(tiny_run), "--direction", "mr2ct", "--input", str(src),
                 "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_ship_of_a_run_on_every_patient_takes_final_weights_marks_in_sample_and_shows_cv(phantom, tmp_path,
                                                                                          monkeypatch):
    """A run trained on all patients (no validation patient) ships its last checkpoint, its card marks the
    val/test rows as in-sample and carries the cross-validation figures as the expected accuracy."""
    monkeypatch.setenv("SCCG_SHARED_DATA", str(tmp_path / "no-shared"))
    patients = sorted(p.name for p in phantom.iterdir() if p.is_dir())
    run = tmp_path / "all"
    assert main(["train", "--recipe", "cpu", "--data", str(phantom), "--out", str(run), "--epochs", "2", *TINY,
                 "--set", f"data.train_patients={','.join(patients)}", "--set", "amp=none"]) == 0
    gap = {"per_fold": [{"fold": 0}, {"fold": 1}],
           "mean": {"sct_psnr": -0.25, "sct_ssim": -0.004, "smr_psnr": 0.5, "smr_ssim": -0.012}}
    cv = {"study": {"recipe": "cpu", "budget_minutes": 15.0, "overrides": {"ema": 0.995}}, "n_slices": 18,
          "folds": [{"fold": 0}, {"fold": 1}], "student_gaps": {"model": gap, "student-xs": gap},
          "mean_std": {"sct": {"psnr": {"mean": 14.25, "std": 0.5}, "ssim": {"mean": 0.6611, "std": 0.01}},
                       "smr": {"ssim": {"mean": 0.5922, "std": 0.02}}}}
    (tmp_path / "cv.json").write_text(json.dumps(cv))
    card = ship_run(run, tmp_path / "model", ShipConfig(data=str(phantom), cv=str(tmp_path / "cv.json")))
    assert card["run"]["shipped"].startswith("the final weights") and card["test"]["in_sample"]
    from safetensors.numpy import load_file
    shipped = load_file(str(tmp_path / "model" / "g_mr2ct.safetensors"))
    last = load_file(str(run / "checkpoints" / "last" / "weights" / "g_mr2ct_ema.safetensors"))
    key = sorted(last)[0]
    np.testing.assert_allclose(shipped[key].astype(np.float32), last[key], rtol=1e-2, atol=1e-3)
    md = (tmp_path / "model" / "MODEL_CARD.md").read_text()
    assert "in-sample" in md and "Expected accuracy on unseen patients" in md
    assert "14.25 +- 0.50" in md and "0.661 +- 0.010" in md and "0.592 +- 0.020" in md
    # the gap line of this model (shipped as "model"), not another student's
    assert md.count("distilled from each fold's teacher") == 1 and "sMR +0.50 dB / -0.0120 SSIM" in md
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="not a cross-validation result"):
        ship_run(run, tmp_path / "model2", ShipConfig(data=str(phantom), cv=str(tmp_path / "bad.json")))
    assert not (tmp_path / "model2").exists()
