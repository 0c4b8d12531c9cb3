"""``make_study``: a blinded reader study of real and synthetic images, one self-contained page per reader.

The paper asked 10 radiographers, for each synthetic image, "How similar is this image to a real MR / real CT?" on
five levels (very similar, similar, neutral, not similar, very dissimilar; the first three count as positive).
Here real images of each modality are mixed in as the control. Every image is written once under a random name
(``study/img/<token>.png``); each reader's page (``study/reader-NN.html``) lists the tokens in an order drawn from
the seed and the reader's number, and never names a model. The key that unblinds the tokens is ``key.json``, beside
the ``study/`` folder and never inside a page: hand out ``study/`` alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.config.loader import normalize
from sccg_edge.errors import ConfigError, InputError
from sccg_edge.review.inputs import (
    REAL,
    TARGET_MODALITY,
    load_models,
    load_slices,
    model_size,
    parse_models,
    run_models,
    to_255,
)
from sccg_edge.review.render import build_page, write_png
from sccg_edge.utils.fs import atomic_dir, check_writable

KEY_FORMAT = "sccg-edge-study-key-v1"
ANSWERS_FORMAT = "sccg-edge-study-answers-v1"
QUESTION = "How similar is this image to a real {modality}?"
#: The paper's five answers, best first, with the score each is given (5 = very similar).
LEVELS: tuple[tuple[int, str], ...] = ((5, "Very similar"), (4, "Similar"), (3, "Neutral"), (2, "Not similar"),
                                       (1, "Very dissimilar"))
POSITIVE = (5, 4, 3)  # the paper counts very similar, similar and neutral as positive
MODALITIES = ("CT", "MR")


@dataclass(frozen=True)
class StudyConfig:
    """What a study shows.

    Attributes:
        models: model list, items ``[LABEL=]SPEC[@DIRECTION]`` (see :mod:`sccg_edge.review.inputs`).
        readers: number of readers (one page each).
        data: paired slices folder ("" = the shared pairs when present, else the phantom).
        split: patient-level split the slices come from.
        slices: at most this many slices, spread along the head (0: all).
        seed: fixes the image names and every reader's order.
        size: slice size (0: the first model's size).
        title: page title.
        device: backend device.
        threads: CPU threads per backend (0: the runtime's default).
    """

    models: tuple[str, ...]
    readers: int = 1
    data: str = ""
    split: str = "test"
    slices: int = 0
    seed: int = 0
    size: int = 0
    title: str = "Synthetic image reader study"
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self) -> None:
        normalize(self)


def reader_ids(n: int) -> list[str]:
    """``reader-01`` ... ``reader-NN``."""
    width = max(2, len(str(n)))
    return [f"reader-{i:0{width}d}" for i in range(1, n + 1)]


def make_study(cfg: StudyConfig, out: Path) -> dict[str, Any]:
    """Write ``out/study/`` (the pages and images to hand out), ``out/key.json`` and ``out/README.md``."""
    out = Path(out)
    if out.exists():
        raise InputError("the output folder exists; give a new --out (nothing is overwritten)", out)
    check_writable(out)
    if not 1 <= cfg.readers <= 999:
        raise ConfigError(f"--readers must be between 1 and 999, got {cfg.readers}")
    models = load_models(parse_models(cfg.models), device=cfg.device, threads=cfg.threads)
    slices = load_slices(cfg.data, cfg.split, cfg.size or model_size(models), cfg.slices)
    outputs = run_models(models, slices)
    rng = np.random.default_rng([cfg.seed, 0x5cc6])
    images: dict[str, dict[str, Any]] = {}
    pictures: dict[str, np.ndarray] = {}

    def add(source: str, modality: str, i: int, img: np.ndarray) -> None:
        token = _token(rng, images)
        images[token] = {"source": source, "modality": modality, "slice": slices.names[i],
                         "patient": slices.patients[i]}
        pictures[token] = img

    for i in range(len(slices.names)):
        add(REAL, "CT", i, slices.ct[i])
        add(REAL, "MR", i, slices.mr[i])
    for (label, direction), arr in outputs.items():
        for i in range(len(slices.names)):
            add(label, TARGET_MODALITY[direction], i, arr[i])
    readers = {rid: _reader_order(images, cfg.seed, r) for r, rid in enumerate(reader_ids(cfg.readers), start=1)}
    key = {"format": KEY_FORMAT, "title": cfg.title, "seed": cfg.seed, "data": slices.source, "split": cfg.split,
           "size": int(slices.ct.shape[-1]), "question": QUESTION, "levels": [list(lv) for lv in LEVELS],
           "positive": list(POSITIVE), "models": [m.describe() for m in models], "images": images,
           "readers": readers}
    key["study"] = study_id(key)
    with atomic_dir(out) as tmp:
        for token, img in sorted(pictures.items()):  # in name order: the files' order tells nothing
            write_png(to_255(img), tmp / "study" / "img" / f"{token}.png")
        for rid, order in readers.items():
            page = build_page("study", cfg.title, _page_data(key, rid, order), {"@FIRST@": f"img/{order[0]}.png"})
            (tmp / "study" / f"{rid}.html").write_text(page, encoding="utf-8")
        (tmp / "key.json").write_text(json.dumps(key, indent=1) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(_readme(key), encoding="utf-8")
    counts = {m: sum(1 for v in images.values() if v["modality"] == m) for m in MODALITIES}
    return {"out": str(out), "study": key["study"], "readers": list(readers), "images": len(images),
            "per_modality": counts, "models": [m.label for m in models], "slices": len(slices.names),
            "data": slices.source, "key": str(out / "key.json")}


def _token(rng: np.random.Generator, taken: dict[str, Any]) -> str:
    while True:
        token = f"{int(rng.integers(0, 2**48)):012x}"
        if token not in taken:
            return token


def _reader_order(images: dict[str, dict[str, Any]], seed: int, reader: int) -> list[str]:
    """The reader's order: the modalities as two blocks in a random order, each block shuffled."""
    rng = np.random.default_rng([seed, reader])
    blocks = [sorted(t for t, v in images.items() if v["modality"] == m) for m in MODALITIES]
    blocks = [b for b in blocks if b]
    order = []
    for b in rng.permutation(len(blocks)):
        order.extend(blocks[int(b)][int(j)] for j in rng.permutation(len(blocks[int(b)])))
    return order


def study_id(key: dict[str, Any]) -> str:
    """A short id of the study: a hash of its images and reader orders (the pages and answer files carry it)."""
    blob = json.dumps({"seed": key["seed"], "images": key["images"], "readers": key["readers"]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _page_data(key: dict[str, Any], reader: str, order: list[str]) -> dict[str, Any]:
    """What one reader's page holds: tokens and modalities in order, the question and answers; no model names."""
    return {"format": ANSWERS_FORMAT, "study": key["study"], "reader": reader, "title": key["title"],
            "size": key["size"], "question": key["question"], "levels": key["levels"],
            "items": [{"item": t, "modality": key["images"][t]["modality"]} for t in order]}


def _readme(key: dict[str, Any]) -> str:
    n = len(key["images"])
    readers = ", ".join(key["readers"])
    return f"""# Reader study {key['study']}

{key['title']}: {n} images (real and synthetic, both modalities) for each of {len(key['readers'])} readers.

* `study/` is what you hand out (a USB stick or a zip file works; no server, no network): `study/<reader>.html`
  is one reader's page, `study/img/` the images. Readers: {readers}.
* `key.json` unblinds the images (which model made which). **Keep it; do not hand it out.**

Each reader opens their page in a browser, answers "{key['question'].format(modality='CT / MR')}" for every image
(five levels, an optional comment), and presses *Download answers*. Answers stay in that browser if the page is
closed or reloaded. Collect the downloaded files into one folder, then:

```bash
sccg-edge study score --key key.json --answers ANSWERS_FOLDER --out SCORE_FOLDER
```
"""
