"""Score a model on a patient-level split: ``evaluate_model(spec, split="test")``.

Both directions, on the paper's 0..255 scale, over whole slices and inside a head mask. The head mask of a pair is
the union of the largest filled components of its CT and MR above 20/255: it keeps the head and drops the scanner
couch that the ground-truth CTs show and no MR can predict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.config import DataConfig

Translate = Callable[[np.ndarray], np.ndarray]  # (N, 1, S, S) in [-1, 1] -> same


def head_mask_pair(ct255: np.ndarray, mr255: np.ndarray) -> np.ndarray:
    """Head mask of a co-registered pair on the 0..255 scale (see module docs)."""
    from sccg_edge.metrics import head_mask_from_uint8

    mask = np.zeros(ct255.shape, dtype=bool)
    for img in (ct255, mr255):
        if (img > 20).any():
            mask |= head_mask_from_uint8(img)
    return mask


def score_direction(pred: np.ndarray, target: np.ndarray, masks: list[np.ndarray]) -> dict[str, float]:
    """Mean metrics of predictions vs targets ((N, 1, S, S) in [-1, 1]), whole slice and inside the masks."""
    from sccg_edge.metrics import image_metrics, summarize

    full, head = [], []
    for p, t, m in zip(pred, target, masks):
        p255 = np.clip((p[0].astype(np.float64) + 1) * 127.5, 0, 255)
        t255 = np.clip((t[0].astype(np.float64) + 1) * 127.5, 0, 255)
        full.append(image_metrics(p255, t255, scale="uint8"))
        head.append(image_metrics(p255, t255, scale="uint8", mask=m))
    out = {k: float(v) for k, v in summarize(full).items() if k != "iou_threshold"}
    out.update({f"head_{k}": float(v) for k, v in summarize(head).items() if k in ("psnr", "ssim", "mae")})
    return out


def evaluate_translators(translators: dict[str, Translate], split: str = "test", data: DataConfig | None = None,
                         seed: int = 0) -> dict[str, Any]:
    """Score callables keyed by direction ("mr2ct", "ct2mr") on ``split`` of the data."""
    from sccg_edge.train.slices import load_splits, resolve_data_root

    data = data or DataConfig()
    sets = load_splits(data, seed=seed)
    if split not in sets:
        from sccg_edge.errors import InputError

        raise InputError(f"the data has no '{split}' split; available: {', '.join(sets)}")
    s = sets[split]
    ct, mr = s.ct.numpy(), s.mr.numpy()
    masks = [head_mask_pair((c[0] + 1) * 127.5, (m[0] + 1) * 127.5) for c, m in zip(ct, mr)]
    report: dict[str, Any] = {"split": split, "data": resolve_data_root(data)[1], "patients": sorted(set(s.patients)),
                              "n_slices": len(s), "size": data.size, "scale": "0..255", "iou_threshold": "iou@20"}
    for direction, fn in translators.items():
        src, tgt = (mr, ct) if direction == "mr2ct" else (ct, mr)
        report["sct" if direction == "mr2ct" else "smr"] = score_direction(fn(src), tgt, masks)
    return report


def torch_translator(spec: str | Path, direction: str, batch: int = 4) -> Translate:
    """A translate callable running a loaded generator in eval mode with PyTorch."""
    import torch

    from sccg_edge.models.loading import load_generator

    gen = load_generator(spec, direction)

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.concatenate([gen.model(torch.from_numpy(x[i:i + batch])).numpy()
                                   for i in range(0, len(x), batch)])

    run.size = gen.size  # type: ignore[attr-defined]
    return run


def evaluate_model(spec: str | Path, split: str = "test", directions: tuple[str, ...] = ("mr2ct", "ct2mr"),
                   data_root: str = "", size: int | None = None, patients: str = "", register: str = "none",
                   tta: str = "none") -> dict[str, Any]:
    """Score a generator pair (shipped name, model folder or run folder) on a split of the paired data.

    A run or model folder trained on a patient split of its own (``data.train_patients`` ...) is scored on that
    split, so that its test patients are the ones it never trained on. ``patients`` (comma-separated ids) scores
    exactly those patients instead, whatever split they are in. ``register`` scores against ground truth registered
    onto the input (rigid/affine, :mod:`sccg_edge.data.register`); ``tta="flip"`` averages each prediction with its
    mirrored twin (:mod:`sccg_edge.backends.tta`).
    """
    from sccg_edge.backends.tta import with_tta

    fns = {d: torch_translator(spec, d) for d in directions}
    model_size = size or next(iter(fns.values())).size  # type: ignore[attr-defined]
    fns = {d: with_tta(fn, tta) for d, fn in fns.items()}
    data = DataConfig(root=data_root, size=model_size, crop=0, flip=False, register=register)
    extra = {"tta": tta, "registered_ground_truth": register}
    if not patients:
        data = dataclasses.replace(data, **patient_split_of(spec))
        return {"model": str(spec), **evaluate_translators(fns, split, data), **extra}
    data, split = _only_patients(data, patients)
    return {"model": str(spec), **evaluate_translators(fns, split, data), "split": f"patients {patients}", **extra}


def _only_patients(data: DataConfig, patients: str) -> tuple[DataConfig, str]:
    """``data`` with a split that holds ``patients`` alone, and that split's name."""
    from sccg_edge.data.pairs import list_pairs
    from sccg_edge.data.splits import patient_ids
    from sccg_edge.errors import InputError
    from sccg_edge.train.slices import resolve_data_root

    root, _ = resolve_data_root(data)
    wanted = patient_ids(patients)
    present = sorted({r.patient for r in list_pairs(root)})
    unknown = sorted(set(wanted) - set(present))
    if unknown:
        raise InputError(f"patients {unknown} are not in the data; its patients are {', '.join(present)}", root)
    others = [p for p in present if p not in wanted]
    if not others:  # every patient: the one split is "train"
        return dataclasses.replace(data, train_patients=",".join(wanted)), "train"
    return dataclasses.replace(data, train_patients=",".join(others), test_patients=",".join(wanted)), "test"


def patient_split_of(spec: str | Path) -> dict[str, str]:
    """The ``data.*_patients`` keys in the config.yaml of a run or model folder, when it sets a split."""
    import yaml

    cfg_file = Path(spec) / "config.yaml"
    if not cfg_file.is_file():
        return {}
    data = (yaml.safe_load(cfg_file.read_text()) or {}).get("data") or {}
    keys = ("train_patients", "val_patients", "test_patients")
    return {k: str(data[k]) for k in keys if data.get(k)}
