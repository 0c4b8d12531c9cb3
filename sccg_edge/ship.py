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
from sccg_edge.errors import InputError
from sccg_edge.evaluate import evaluate_model
from sccg_edge.models import count_macs
from sccg_edge.models.loading import load_generator, save_generator
from sccg_edge.utils.fs import atomic_dir, check_writable, claim_output


def _weights_source(run: Path) -> Path:
    if (run / "student" / "g_mr2ct.safetensors").is_file() or (run / "student" / "g_ct2mr.safetensors").is_file():
        return run / "student"
    if (run / "checkpoints" / "best").is_dir():
        return run
    raise InputError("neither checkpoints/best (a train run) nor student/ (a distill run) is in this folder", run)


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
    source = _weights_source(run)
    if dest.exists():
        raise InputError("destination exists; nothing was overwritten (remove it first to re-ship)", dest)
    train_cfg = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").is_file() else {}
    directions = [d for d in ("mr2ct", "ct2mr") if (source / f"g_{d}.safetensors").is_file() or source == run]
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
            "run": _run_summary(run), "notes": notes, **scored,
        }
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
        f"shipped weights are the best validation epoch ({run['best_epoch']})",
        "", "## Metrics (0..255 scale; head = inside the head mask of the pair)", "",
        "| model / split | patients | slices | direction | PSNR | SSIM | MAE | IoU@20 | head PSNR | head SSIM | "
        "head MAE |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += _metric_rows(f"{card['name']} / val", card["val"]) + _metric_rows(f"{card['name']} / test", card["test"])
    if card.get("compare"):
        lines += _metric_rows(f"{card['compare']['model']} / test", card["compare"]["test"])
    lines += ["", f"Data: {card['test']['data']}.", ""]
    return "\n".join(lines)
