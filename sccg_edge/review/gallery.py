"""``make_gallery``: a static visual comparison page of every model on the test slices, both directions.

Per slice and direction the page shows the input, the ground truth, each model's output, and signed difference maps
against the ground truth and against the reference model (the FP32 teacher by default), with per-image PSNR / SSIM /
MAE (:func:`sccg_edge.metrics.image_metrics`, the paper's 0..255 scale) beside them. The output folder holds
``index.html`` (self-contained: inline CSS and script, no network), ``img/`` (the PNGs), ``gallery.json`` (every
figure on the page) and ``metrics.csv`` (one row per image).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.config import DataConfig
from sccg_edge.config.loader import normalize
from sccg_edge.data.transforms import CT_WINDOWS
from sccg_edge.errors import InputError
from sccg_edge.metrics.score import slice_scores
from sccg_edge.review.inputs import (
    SOURCE_MODALITY,
    TARGET_MODALITY,
    LoadedModel,
    ReviewSlices,
    load_models,
    load_slices,
    model_size,
    parse_models,
    run_models,
    to_255,
)
from sccg_edge.review.render import build_page, diff_rgb, finite, svg_filters, window_maps, write_png
from sccg_edge.utils.fs import atomic_dir, check_writable

METRICS = ("psnr", "ssim", "mae")


@dataclass(frozen=True)
class GalleryConfig:
    """What a gallery shows.

    Attributes:
        models: model list, items ``[LABEL=]SPEC[@DIRECTION]`` (see :mod:`sccg_edge.review.inputs`).
        data: paired slices folder ("" = the shared pairs when present, else the phantom).
        split: patient-level split to show.
        reference: the model the second difference map compares against ("none": no such map); loaded and shown
            first when it is not in ``models``.
        slices: at most this many slices, spread along the head (0: all).
        size: slice size (0: the first model's size).
        device: backend device.
        threads: CPU threads per backend (0: the runtime's default).
        title: page title.
    """

    models: tuple[str, ...]
    data: str = ""
    split: str = "test"
    reference: str = "teacher"
    slices: int = 0
    size: int = 0
    device: str = "cpu"
    threads: int = 0
    title: str = "sccg-edge gallery"

    def __post_init__(self) -> None:
        normalize(self)


def make_gallery(cfg: GalleryConfig, out: Path) -> dict[str, Any]:
    """Write the gallery folder ``out`` (refused if it exists); returns the summary (``gallery.json`` less rows)."""
    out = Path(out)
    if out.exists():
        raise InputError("the output folder exists; give a new --out (nothing is overwritten)", out)
    check_writable(out)
    specs = parse_models(cfg.models)
    ref_label = None
    if cfg.reference.lower() != "none":
        ref_spec = next((s for s in specs if cfg.reference in (s.label, s.spec)), None)
        if ref_spec is None:
            ref_spec = parse_models([cfg.reference])[0]
            specs = [ref_spec, *specs]
        ref_label = ref_spec.label
    models = load_models(specs, device=cfg.device, threads=cfg.threads)
    slices = load_slices(cfg.data, cfg.split, cfg.size or model_size(models), cfg.slices)
    outputs = run_models(models, slices)
    with atomic_dir(out) as tmp:
        rows = _write_rows(tmp, slices, models, outputs, ref_label)
        data = _page_data(cfg, slices, models, rows, ref_label)
        (tmp / "index.html").write_text(build_page("gallery", cfg.title, data,
                                                   {"@FILTERS@": svg_filters(data["windows"])}), encoding="utf-8")
        (tmp / "gallery.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        (tmp / "metrics.csv").write_text(_metrics_csv(rows), encoding="utf-8")
    return {k: v for k, v in data.items() if k != "rows"} | {"out": str(out)}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def _metrics(pred: np.ndarray, ref: np.ndarray) -> dict[str, float | None]:
    m = slice_scores(pred, ref)
    return {k: finite(m[k]) for k in METRICS}


def _write_rows(folder: Path, slices: ReviewSlices, models: list[LoadedModel],
                outputs: dict[tuple[str, str], np.ndarray], ref_label: str | None) -> list[dict[str, Any]]:
    """Write every PNG and return one row per (slice, direction) with image paths and metrics."""
    rows = []
    for direction in ("mr2ct", "ct2mr"):
        served = [m for m in models if (m.label, direction) in outputs]
        if not served:
            continue
        src, gt = slices.pair(direction)
        ref_out = outputs.get((ref_label, direction)) if ref_label else None
        for i, name in enumerate(slices.names):
            stem = f"img/{_safe(name)}_{direction}"
            write_png(to_255(src[i]), folder / f"{stem}_input.png")
            write_png(to_255(gt[i]), folder / f"{stem}_gt.png")
            cells = []
            for m in served:
                pred = outputs[(m.label, direction)][i]
                cell: dict[str, Any] = {"model": m.label, "img": f"{stem}_{_safe(m.label)}.png",
                                        "diff_gt": f"{stem}_{_safe(m.label)}_dgt.png", "gt": _metrics(pred, gt[i]),
                                        "diff_ref": None, "ref": None}
                write_png(to_255(pred), folder / cell["img"])
                write_png(diff_rgb(to_255(pred), to_255(gt[i])), folder / cell["diff_gt"])
                if ref_out is not None and m.label != ref_label:
                    cell["diff_ref"] = f"{stem}_{_safe(m.label)}_dref.png"
                    cell["ref"] = _metrics(pred, ref_out[i])
                    write_png(diff_rgb(to_255(pred), to_255(ref_out[i])), folder / cell["diff_ref"])
                cells.append(cell)
            rows.append({"id": f"{_safe(name)}-{direction}", "slice": name, "patient": slices.patients[i],
                         "index": i, "direction": direction, "input_modality": SOURCE_MODALITY[direction],
                         "target_modality": TARGET_MODALITY[direction], "input": f"{stem}_input.png",
                         "gt": f"{stem}_gt.png", "outputs": cells})
    return rows


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean metrics per (model, direction) against the ground truth and against the reference."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        for cell in row["outputs"]:
            groups.setdefault((cell["model"], row["direction"]), []).append(cell)
    out = []
    for (model, direction), cells in groups.items():
        rec: dict[str, Any] = {"model": model, "direction": direction, "n": len(cells)}
        for against in ("gt", "ref"):
            for k in METRICS:
                vals = [c[against][k] for c in cells if c[against] and c[against][k] is not None]
                rec[f"{against}_{k}"] = finite(float(np.mean(vals))) if vals else None
        out.append(rec)
    return out


def _page_data(cfg: GalleryConfig, slices: ReviewSlices, models: list[LoadedModel], rows: list[dict[str, Any]],
               ref_label: str | None) -> dict[str, Any]:
    stored = DataConfig().ct_window
    lo, hi = CT_WINDOWS[stored]
    return {
        "title": cfg.title, "data": slices.source, "split": cfg.split, "patients": sorted(set(slices.patients)),
        "n_slices": len(slices.names), "size": int(slices.ct.shape[-1]), "reference": ref_label,
        "models": [m.describe() for m in models], "scale": "0..255",
        "windows": window_maps((lo, hi)),
        "window_note": (f"CT images here are 8-bit renderings of the {stored} window ({lo:g}..{hi:g} HU stored as "
                        "0..255), and the models predict that window. A display window can only re-map that stored "
                        f"range: tissue outside {lo:g}..{hi:g} HU was clipped when the images were made, so the bone "
                        "and soft-tissue windows show no detail beyond it. True windows need HU data."),
        "diff_note": "Difference maps: prediction minus comparison; orange brighter, azure darker, black equal, "
                     "full colour at 64 grey levels (0..255 scale).",
        "summary": _summary(rows), "rows": rows,
    }


def _metrics_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["slice", "patient", "direction", "model", *(f"gt_{k}" for k in METRICS),
                     *(f"ref_{k}" for k in METRICS)])
    for row in rows:
        for c in row["outputs"]:
            writer.writerow([row["slice"], row["patient"], row["direction"], c["model"],
                             *((c["gt"] or {}).get(k) for k in METRICS), *((c["ref"] or {}).get(k) for k in METRICS)])
    return buf.getvalue()
