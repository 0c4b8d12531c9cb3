"""The evaluate stage: score a model on a patient-level split, ``evaluate_model(spec, EvalConfig(split="test"))``.

Both directions, on the paper's 0..255 scale, over whole slices and inside a head mask
(:func:`sccg_edge.metrics.score.head_masks`: it keeps the head and drops the scanner couch that the ground-truth CTs
show and no MR can predict). The model runs through the torch backend; any other :class:`~sccg_edge.backends.Backend`
or callable is scored the same way by :func:`evaluate_runs`. ``EvalConfig.register`` scores against ground truth
registered onto the input (rigid/affine, :mod:`sccg_edge.data.register`); ``EvalConfig.tta="flip"`` averages each
prediction with its mirrored twin (:mod:`sccg_edge.backends.tta`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sccg_edge.backends import Run, load_backend, run_batched
from sccg_edge.backends.tta import with_tta
from sccg_edge.config import DataConfig, EvalConfig, from_dict
from sccg_edge.config.loader import read_yaml_mapping
from sccg_edge.data.pairs import list_pairs
from sccg_edge.data.slices import load_splits, resolve_data_root
from sccg_edge.errors import InputError
from sccg_edge.metrics.score import PREFIX, head_masks, score

PATIENT_KEYS = ("train_patients", "val_patients", "test_patients")


def evaluate_runs(runs: Mapping[str, Run], split: str = "test", data: DataConfig | None = None,
                  seed: int = 0) -> dict[str, Any]:
    """Score runs keyed by direction ("mr2ct", "ct2mr") on ``split`` of the data (batches of 4 slices)."""
    data = data or DataConfig()
    sets = load_splits(data, seed=seed)
    if split not in sets:
        raise InputError(f"the data has no '{split}' split; available: {', '.join(sets)}")
    s = sets[split]
    masks = head_masks(s.ct.numpy(), s.mr.numpy())
    report: dict[str, Any] = {"split": split, "data": resolve_data_root(data)[1], "patients": sorted(set(s.patients)),
                              "n_slices": len(s), "size": data.size, "scale": "0..255", "iou_threshold": "iou@20"}
    for direction, run in runs.items():
        src, tgt = s.pair(direction)
        rec = score(run_batched(run, src, 4), tgt, masks)
        rec.pop("iou_threshold")
        report[PREFIX[direction]] = rec
    return report


def evaluate_model(spec: str | Path, cfg: EvalConfig | None = None) -> dict[str, Any]:
    """Score a generator pair (shipped name, model folder or run folder) on a split of the paired data.

    A run or model folder trained on a patient split of its own (``data.train_patients`` ...) is scored on that
    split, so that its test patients are the ones it never trained on. ``cfg.patients`` scores exactly those
    patients instead, whatever split they are in.
    """
    cfg = cfg or EvalConfig()
    backends = {d: load_backend("torch", spec, direction=d) for d in cfg.directions}
    size = cfg.size or next(iter(backends.values())).input_size
    runs = {d: with_tta(b, cfg.tta) for d, b in backends.items()}
    data = DataConfig(root=cfg.data, size=size, crop=0, flip=False, register=cfg.register)
    extra = {"tta": cfg.tta, "registered_ground_truth": cfg.register}
    own = patient_split_of(spec)
    trained = set(own.get("train_patients", ()))
    if not cfg.patients:
        # A model trained on every patient has no held-out split of its own: the data's default split scores it,
        # in-sample (the report says so).
        held_out = own if own.get("val_patients") or own.get("test_patients") else {}
        data = dataclasses.replace(data, **held_out)
        report = {"model": str(spec), **evaluate_runs(runs, cfg.split, data), **extra}
    else:
        data, split = _only_patients(data, cfg.patients)
        report = {"model": str(spec), **evaluate_runs(runs, split, data),
                  "split": f"patients {','.join(cfg.patients)}", **extra}
    report["in_sample"] = bool(trained) and set(report["patients"]) <= trained
    return report


def _only_patients(data: DataConfig, wanted: tuple[str, ...]) -> tuple[DataConfig, str]:
    """``data`` with a split that holds the ``wanted`` patients alone, and that split's name."""
    root, _ = resolve_data_root(data)
    present = sorted({r.patient for r in list_pairs(root)})
    unknown = sorted(set(wanted) - set(present))
    if unknown:
        raise InputError(f"patients {unknown} are not in the data; its patients are {', '.join(present)}", root)
    others = tuple(p for p in present if p not in wanted)
    if not others:  # every patient: the one split is "train"
        return dataclasses.replace(data, train_patients=wanted), "train"
    return dataclasses.replace(data, train_patients=others, test_patients=wanted), "test"


def patient_split_of(spec: str | Path) -> dict[str, tuple[str, ...]]:
    """The ``data.*_patients`` keys in the config.yaml of a run or model folder, when it sets a split."""
    cfg_file = Path(spec) / "config.yaml"
    if not cfg_file.is_file():
        return {}
    data = read_yaml_mapping(cfg_file, "config").get("data") or {}
    split = from_dict(DataConfig, {k: data[k] for k in PATIENT_KEYS if data.get(k)}, str(cfg_file), "data.")
    return {k: getattr(split, k) for k in PATIENT_KEYS if getattr(split, k)}
