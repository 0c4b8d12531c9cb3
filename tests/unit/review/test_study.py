"""`study make`: blinding, per-reader orders fixed by the seed, the key beside the pages and not inside them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sccg_edge.review.study import make_study, study_id


def _page_items(page: Path) -> list[dict]:
    text = page.read_text()
    block = re.search(r'<script type="application/json" id="study-data">(.*?)</script>', text, re.DOTALL).group(1)
    return json.loads(block)["items"]


def test_pages_are_blinded_and_the_key_unblinds(review_study: Path, review_models: dict[str, Path]) -> None:
    key = json.loads((review_study / "key.json").read_text())
    assert key["study"] == study_id(key)
    assert sorted(key["readers"]) == ["reader-01", "reader-02", "reader-03"]
    # 2 slices: real CT + real MR, and each model's sCT and sMR
    assert len(key["images"]) == 2 * (2 + 2 * len(review_models))
    sources = {v["source"] for v in key["images"].values()}
    assert sources == {"real", "alpha", "beta"}
    pages = sorted((review_study / "study").glob("*.html"))
    assert [p.name for p in pages] == ["reader-01.html", "reader-02.html", "reader-03.html"]
    assert not list((review_study / "study").rglob("key*"))
    for page in pages:
        text = page.read_text()
        for secret in ("alpha", "beta", str(review_models["alpha"]), '"source"', '"slice"'):
            assert secret not in text, f"{page.name} gives away {secret}"
        items = _page_items(page)
        assert [i["item"] for i in items] == key["readers"][page.stem]
        assert all(i["modality"] == key["images"][i["item"]]["modality"] for i in items)
    imgs = {p.stem for p in (review_study / "study" / "img").glob("*.png")}
    assert imgs == set(key["images"])


def test_orders_differ_per_reader_and_repeat_with_the_seed(review_study: Path, tiny_data: Path,
                                                           review_models: dict[str, Path], tmp_path: Path) -> None:
    from sccg_edge.review.study import StudyConfig

    key = json.loads((review_study / "key.json").read_text())
    orders = list(key["readers"].values())
    assert all(sorted(o) == sorted(key["images"]) for o in orders)  # everyone rates every image once
    assert len({tuple(o) for o in orders}) == len(orders)
    for order in orders:  # modalities come as two blocks
        mods = [key["images"][t]["modality"] for t in order]
        assert mods == sorted(mods) or mods == sorted(mods, reverse=True)
    models = ",".join(f"{k}={v}" for k, v in review_models.items())
    again = make_study(StudyConfig(models=models, readers=3, data=str(tiny_data), slices=2, seed=7), tmp_path / "s")
    key2 = json.loads((tmp_path / "s" / "key.json").read_text())
    assert again["study"] == key["study"] and key2["readers"] == key["readers"]
