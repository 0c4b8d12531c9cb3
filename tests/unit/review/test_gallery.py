"""`gallery`: every image written, metrics equal to the project's scorer on the backends' outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sccg_edge.cli import main


@pytest.fixture(scope="module")
def gallery(tiny_data: Path, review_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sccg_edge.review.gallery import GalleryConfig, make_gallery

    out = tmp_path_factory.mktemp("gallery") / "g"
    models = ",".join(f"{k}={v}" for k, v in review_models.items())
    make_gallery(GalleryConfig(models=models, data=str(tiny_data), reference="alpha", slices=2), out)
    return out


def test_gallery_metrics_are_the_project_metrics(gallery: Path, tiny_data: Path,
                                                 review_models: dict[str, Path]) -> None:
    from sccg_edge.backends import load_backend
    from sccg_edge.metrics import image_metrics
    from sccg_edge.review.inputs import load_slices, to_255

    data = json.loads((gallery / "gallery.json").read_text())
    assert data["reference"] == "alpha" and data["n_slices"] == 2 and len(data["rows"]) == 4
    slices = load_slices(str(tiny_data), "test", 32, 2)
    beta = {d: load_backend("torch", review_models["beta"], direction=d) for d in ("mr2ct", "ct2mr")}
    alpha = {d: load_backend("torch", review_models["alpha"], direction=d) for d in ("mr2ct", "ct2mr")}
    for row in data["rows"]:
        src, gt = slices.pair(row["direction"])
        i = slices.names.index(row["slice"])
        pred = beta[row["direction"]](src[i:i + 1])[0]
        ref = alpha[row["direction"]](src[i:i + 1])[0]
        cell = next(c for c in row["outputs"] if c["model"] == "beta")
        want = image_metrics(to_255(pred), to_255(gt[i]), scale="uint8")
        assert cell["gt"] == {k: round(want[k], 4) for k in ("psnr", "ssim", "mae")}
        vs_ref = image_metrics(to_255(pred), to_255(ref), scale="uint8")
        assert cell["ref"]["mae"] == round(vs_ref["mae"], 4)
        a_cell = next(c for c in row["outputs"] if c["model"] == "alpha")
        assert a_cell["ref"] is None and a_cell["diff_ref"] is None  # the reference is not compared with itself
        for path in (row["input"], row["gt"], cell["img"], cell["diff_gt"], cell["diff_ref"]):
            assert (gallery / path).is_file()
    with (gallery / "metrics.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 8
    shown = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(gallery / data["rows"][0]["gt"]))
    assert shown.shape == (32, 32) and shown.dtype == np.uint8


def test_gallery_page_is_self_contained(gallery: Path) -> None:
    page = (gallery / "index.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert '<filter id="win-bone"' in page and "@CSS@" not in page and "@JS@" not in page


def test_gallery_cli_refuses_an_existing_folder(gallery: Path, review_models: dict[str, Path], capsys) -> None:
    code = main(["gallery", "--models", f"x={review_models['alpha']}", "--out", str(gallery)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"error: {gallery}: the output folder exists; give a new --out (nothing is overwritten)"
