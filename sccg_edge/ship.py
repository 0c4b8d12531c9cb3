"""The ship stage: a trained run packaged as a shipped model, ``sccg_edge/weights/<name>/`` with weights, config and
model card.

Works for teacher runs (``train``: weights in ``checkpoints/best``) and distillation runs (``distill``: the exported
``student/`` folder). The generators are written as self-describing safetensors (config and preprocessing in the
metadata, optionally in FP16 to halve the size); every metric in the card is measured on the written files.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from sccg_edge.config import EvalConfig, ShipConfig
from sccg_edge.data.splits import trains_on_every_patient
from sccg_edge.errors import InputError
from sccg_edge.evaluate import evaluate_model
from sccg_edge.models import count_macs
from sccg_edge.models.loading import load_generator, save_generator
from sccg_edge.utils.fs import atomic_dir, check_writable, claim_output


def _weights_source(run: Path, train_cfg: dict[str, Any]) -> tuple[Path, str]:
    """The folder the shipped weights come from, and which weights they are (for the card).

    A train run with no validation patients (trained on all the data, its recipe chosen by cross-validation) has
    only its own training slices to "validate" on, so its final (learning-rate-decayed, weight-averaged) weights
    are shipped, not the epoch that fitted the training slices best.
    """
    if (run / "student" / "g_mr2ct.safetensors").is_file() or (run / "student" / "g_ct2mr.safetensors").is_file():
        return run / "student", "the distillation's exported student"
    data = train_cfg.get("data") or {}
    if trains_on_every_patient(data.get("train_patients") or (), data.get("val_patients") or ()) \
            and (run / "checkpoints" / "last").is_dir():
        return run / "checkpoints" / "last", "the final weights (no validation patient: trained on all patients)"
    if (run / "checkpoints" / "best").is_dir():
        return run, "the best validation epoch"
    raise InputError("neither checkpoints/best (a train run) nor student/ (a distill run) is in this folder", run)


def cv_summary(path: Path) -> dict[str, Any]:
    """The expected accuracy on unseen patients from a cross-validation result (``sccg-edge cv``'s ``cv.json``)."""
    try:
        cv = json.loads(Path(path).read_text())
        study, mean_std = cv["study"], cv["mean_std"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a cross-validation result ({exc}); give the cv.json that `sccg-edge cv` wrote",
                         path) from exc
    keep = ("psnr", "ssim", "mae", "iou", "head_psnr", "head_ssim", "head_mae")
    return {"source": Path(path).as_posix(), "recipe": study.get("recipe"), "folds": len(cv.get("folds") or []),
            "budget_minutes": study.get("budget_minutes"), "overrides": study.get("overrides", {}),
            "n_slices": cv.get("n_slices"),
            "mean_std": {d: {m: mean_std[d][m] for m in keep if m in mean_std.get(d, {})}
                         for d in ("sct", "smr") if d in mean_std},
            "student_gaps": cv.get("student_gaps") or {}}


def _run_summary(run: Path) -> dict[str, Any]:
    best, last = run / "checkpoints" / "best" / "state.json", run / "checkpoints" / "last" / "state.json"
    b = json.loads(best.read_text()) if best.is_file() else {}
    la = json.loads(last.read_text()) if last.is_file() else {}
    return {"best_epoch": b.get("best_epoch"), "best_val_score": b.get("best_score"),
            "epochs_trained": la.get("epoch"), "steps": la.get("global_step"),
            "wall_hours": round(float(la.get("wall_s", 0.0)) / 3600.0, 2)}


def ship_run(run: Path, dest: Path, cfg: ShipConfig | None = None) -> dict[str, Any]:
    """Write the best weights of ``run`` as a shipped model folder ``dest`` and score it (val and test).

    Args:
        run: a ``train`` or ``distill`` run folder.
        dest: the new model folder (refused if it exists).
        cfg: FP16 storage, notes for the card, a model to compare with (see :class:`~sccg_edge.config.ShipConfig`).
    """
    cfg = cfg or ShipConfig()
    half, notes, compare = cfg.half, cfg.notes, cfg.compare
    run, dest = Path(run), Path(dest)
    if dest.exists():
        raise InputError("destination exists; nothing was overwritten (remove it first to re-ship)", dest)
    train_cfg = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").is_file() else {}
    source, shipped = _weights_source(run, train_cfg)
    cv = cv_summary(Path(cfg.cv)) if cfg.cv else None
    directions = [d for d in ("mr2ct", "ct2mr")
                  if (source / f"g_{d}.safetensors").is_file() or source != run / "student"]
    run_data = (train_cfg.get("data") or {}).get("root") if isinstance(train_cfg, dict) else None
    data = cfg.data or str(run_data or "")  # score on the data the run was trained on unless told otherwise
    check_writable(dest)
    with claim_output(dest), atomic_dir(dest) as tmp:  # scored before renamed: a failed evaluation leaves no dest
        for direction in directions:
            gen = load_generator(source, direction)
            save_generator(gen.model, tmp / f"g_{direction}.safetensors", direction, gen.size, gen.ct_window,
                           extra={"recipe": train_cfg.get("recipe", ""), "shipped": time.strftime("%Y-%m-%d")},
                           half=half)
        if (run / "config.yaml").is_file():
            shutil.copy(run / "config.yaml", tmp / "config.yaml")
        gen = load_generator(tmp, directions[0])
        scored = {split: {**evaluate_model(tmp, EvalConfig(split, tuple(directions), data)), "model": str(dest)}
                  for split in ("val", "test")}
        card: dict[str, Any] = {
            "name": dest.name, "generator": gen.config.to_dict(), "train_config": train_cfg,
            "weights_dtype": "float16" if half else "float32",
            "cost_512": count_macs(gen.model, (1, 1, 512, 512)).__dict__,
            "cost_256": count_macs(gen.model, (1, 1, 256, 256)).__dict__,
            "run": {**_run_summary(run), "shipped": shipped}, "notes": notes, **scored,
        }
        if cv is not None:
            card["cv"] = cv
        if compare:
            card["compare"] = {"model": compare, "test": evaluate_model(compare, EvalConfig("test", tuple(directions),
                                                                                             data))}
        (tmp / "card.json").write_text(json.dumps(card, indent=2) + "\n")
        (tmp / "MODEL_CARD.md").write_text(render_card(card))
    return card


def _metric_rows(label: str, rep: dict[str, Any]) -> list[str]:
    rows = []
    for key, name in (("sct", "sCT (MR->CT)"), ("smr", "sMR (CT->MR)")):
        if key in rep:
            m = rep[key]
            rows.append(f"| {label} | {', '.join(rep['patients'])} | {rep['n_slices']} | {name} | {m['psnr']:.2f} | "
                        f"{m['ssim']:.4f} | {m['mae']:.2f} | {m['iou']:.4f} | {m['head_psnr']:.2f} | "
                        f"{m['head_ssim']:.4f} | {m['head_mae']:.2f} |")
    return rows


def render_card(card: dict[str, Any]) -> str:
    """The model card as Markdown, generated from ``card.json`` (every figure comes from a measurement)."""
    g, run, tc = card["generator"], card["run"], card.get("train_config") or {}
    data, optim = tc.get("data", {}), tc.get("optim", {})
    lines = [
        f"# Model card: {card['name']}", "", card.get("notes", "").strip(), "",
        "## Architecture",
        f"- generator: {g['arch']} ngf {g['ngf']}, {g['n_blocks']} {g['block']} residual blocks, {g['n_down']} "
        f"down/upsamplings, {g['norm']} norm, {g['upsample']} upsampling; weights stored as {card['weights_dtype']}",
        f"- cost per slice: {card['cost_512']['macs'] / 1e9:.2f} GMAC at 512x512, "
        f"{card['cost_256']['macs'] / 1e9:.2f} GMAC at 256x256; {card['cost_256']['params']:,} parameters",
        "", "## Training",
        f"- recipe `{tc.get('recipe', '?')}`: slices {data.get('size')}x{data.get('size')}, random crops "
        f"{data.get('crop') or 'none'}, batch {optim.get('batch_size')}, Adam lr {optim.get('lr')} "
        f"({optim.get('schedule')} schedule); loss weights {tc.get('loss', {})}",
        f"- trained {run['epochs_trained']} epochs ({run['steps']} steps) in {run['wall_hours']} h wall time; "
        f"shipped weights: {run.get('shipped') or 'the best validation epoch'}"
        + (f" ({run['best_epoch']})" if "best" in (run.get("shipped") or "best") else ""),
        "", "## Metrics (0..255 scale; head = inside the head mask of the pair)", "",
        "| model / split | patients | slices | direction | PSNR | SSIM | MAE | IoU@20 | head PSNR | head SSIM | "
        "head MAE |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for split in ("val", "test"):
        label = f"{card['name']} / {split}" + (" (trained on: in-sample)" if card[split].get("in_sample") else "")
        lines += _metric_rows(label, card[split])
    if card.get("compare"):
        other = card["compare"]["test"]
        lines += _metric_rows(f"{card['compare']['model']} / test"
                              + (" (trained on: in-sample)" if other.get("in_sample") else ""), other)
    lines += ["", f"Data: {card['test']['data']}."]
    if any(card[s].get("in_sample") for s in ("val", "test")) or (card.get("compare") or {}).get("test", {}).get(
            "in_sample"):
        lines += ["", "Rows marked in-sample score patients this model trained on: they show the fit, not the accuracy "
                      "to expect on new patients (see the cross-validation below)."]
    if card.get("cv"):
        lines += ["", *_cv_lines(card["cv"], card["name"])]
    return "\n".join(lines) + "\n"


def _cv_lines(cv: dict[str, Any], model: str) -> list[str]:
    """The cross-validation section of a card: the accuracy to expect on patients the model has not seen (the
    teacher recipe's folds), and for a student its gap to the teacher on those folds."""
    lines = ["## Expected accuracy on unseen patients (patient cross-validation)", "",
             f"The recipe `{cv['recipe']}` with {cv['overrides']}, cross-validated over {cv['folds']} patient folds "
             f"({cv['n_slices']} slices, every patient tested once by a model that never saw it), "
             f"{cv['budget_minutes']:g} budget minutes per fold; from `{cv['source']}`. Mean +- std over folds, "
             "0..255 scale:", "",
             "| direction | PSNR | SSIM | MAE | IoU@20 | head PSNR | head SSIM | head MAE |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, name in (("sct", "sCT (MR->CT)"), ("smr", "sMR (CT->MR)")):
        m = cv["mean_std"].get(key)
        if m:
            cells = [f"{m[k]['mean']:.{dg}f} +- {m[k]['std']:.{dg}f}" if k in m else "-"
                     for k, dg in (("psnr", 2), ("ssim", 3), ("mae", 2), ("iou", 3), ("head_psnr", 2),
                                   ("head_ssim", 3), ("head_mae", 2))]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for student, gap in (cv.get("student_gaps") or {}).items():
        if student != model:
            continue
        g = gap["mean"]
        lines += ["", f"{student} distilled from each fold's teacher, minus that teacher, on the fold's test patients "
                      f"(mean over {len(gap['per_fold'])} folds): sCT {g['sct_psnr']:+.2f} dB / {g['sct_ssim']:+.4f} "
                      f"SSIM, sMR {g['smr_psnr']:+.2f} dB / {g['smr_ssim']:+.4f} SSIM."]
    return lines
