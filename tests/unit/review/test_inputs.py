"""Model lists, display windows and the page builder of the review package."""

from __future__ import annotations

import json

import pytest

from sccg_edge.errors import ConfigError
from sccg_edge.review.inputs import parse_models
from sccg_edge.review.render import build_page, diff_rgb, json_block, window_maps


def test_model_list_labels_directions_and_refusals(tmp_path) -> None:
    art = tmp_path / "ov-int8" / "model.xml"
    art.parent.mkdir()
    art.write_text("<net/>")
    specs = parse_models(["teacher", " student-s ", f"int8={art}@ct2mr", str(art)])
    assert [(s.label, s.direction) for s in specs] == [("teacher", None), ("student-s", None), ("int8", "ct2mr"),
                                                       ("ov-int8", None)]
    assert specs[2].spec == str(art)
    with pytest.raises(ConfigError, match="names the real images"):
        parse_models(["real=teacher"])
    with pytest.raises(ConfigError, match="not usable"):
        parse_models(["a b=teacher"])
    with pytest.raises(ConfigError, match="empty"):
        parse_models([" ", ""])


def test_one_label_joins_one_direction_each(review_models, tmp_path) -> None:
    from sccg_edge.review.inputs import load_models

    a = review_models["alpha"]
    joined = load_models(parse_models([f"m={a / 'g_mr2ct.safetensors'}", f"m={a / 'g_ct2mr.safetensors'}"]))
    assert len(joined) == 1 and sorted(joined[0].runners) == ["ct2mr", "mr2ct"]
    with pytest.raises(ConfigError, match="both serve ct2mr, mr2ct"):
        load_models(parse_models([f"m={a}", f"m={review_models['beta']}"]))


def test_windows_remap_the_stored_brain_window() -> None:
    maps = window_maps((0.0, 80.0))
    assert maps["brain"]["slope"] == 1.0 and maps["brain"]["intercept"] == 0.0  # the stored window itself
    bone = maps["bone"]  # L500 W2000: -500..1500 HU; stored 0..80 HU lands at 0.25..0.29
    assert bone["slope"] == pytest.approx(80 / 2000) and bone["intercept"] == pytest.approx(500 / 2000)


def test_diff_map_colours_sign_and_saturation() -> None:
    import numpy as np

    pred = np.array([[100.0, 164.0, 36.0, 255.0]])
    ref = np.full((1, 4), 100.0)
    rgb = diff_rgb(pred, ref)
    assert rgb[0, 0].tolist() == [0, 0, 0]  # equal: black
    assert rgb[0, 1].tolist() == [255, 150, 0]  # 64 levels brighter: full orange
    assert rgb[0, 2].tolist() == [0, 160, 255]  # 64 levels darker: full azure
    assert rgb[0, 3].tolist() == rgb[0, 1].tolist()  # saturates beyond 64


def test_page_data_cannot_close_its_script_element() -> None:
    nasty = {"comment": "</script><script>alert(1)</script> & <!--"}
    block = json_block(nasty)
    assert "<" not in block and ">" not in block
    assert json.loads(block) == nasty
    page = build_page("study", "T <b>", {"x": "@CSS@ @JS@"}, {"@FIRST@": "img/a.png"})
    assert "T &lt;b&gt;" in page and "@CSS@" in page.split('id="study-data">')[1]  # data is never re-filled
