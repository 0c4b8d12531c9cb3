"""Package a trained run as a shipped model: ``sccg_edge/weights/<name>/`` with weights, config and model card.

The generators are written as self-describing safetensors (config and preprocessing in the metadata, optionally in
FP16 to halve the size); the metrics in the card are measured on the written files, not on the run's FP32 copy.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from sccg_edge.errors import InputError
from sccg_edge.utils.fs import atomic_dir


def _run_summary(run: Path) -> dict[str, Any]:
    state = json.loads((run / "checkpoints" / "best" / "state.json").read_text())
    last = json.loads((run / "checkpoints" / "last" / "state.json").read_text())
    return {"best_epoch": state.get("best_epoch"), "best_val_score": state.get("best_score"),
            "epochs_trained": last.get("epoch"), "steps": last.get("global_step"),
            "wall_hours": round(float(last.get("wall_s", 0.0)) / 3600.0, 2)}


def ship_run(run: Path, dest: Path, half: bool = True, notes: str = "") -> dict[str, Any]:
    """Write the best checkpoint of ``run`` as a shipped model folder ``dest`` and score it (val and test)."""
    from sccg_edge.config import load_recipe, to_dict
    from sccg_edge.evaluate import evaluate_model
    from sccg_edge.models import count_macs
    from sccg_edge.models.loading import load_generator, save_generator

    run, dest = Path(run), Path(dest)
    if not (run / "checkpoints" / "best").is_dir():
        raise InputError("no checkpoints/best in this run folder; train it first", run)
    if dest.exists():
        raise InputError("destination exists; nothing was overwritten (remove it first to re-ship)", dest)
    cfg = load_recipe(str(run / "config.yaml"))
    with atomic_dir(dest) as tmp:
        for direction in ("mr2ct", "ct2mr"):
            gen = load_generator(run, direction)
            save_generator(gen.model, tmp / f"g_{direction}.safetensors", direction, gen.size, gen.ct_window,
                           extra={"recipe": cfg.recipe, "shipped": time.strftime("%Y-%m-%d")}, half=half)
        shutil.copy(run / "config.yaml", tmp / "config.yaml")
    gen = load_generator(dest, "mr2ct")
    card: dict[str, Any] = {
        "name": dest.name, "generator": gen.config.to_dict(), "train_config": to_dict(cfg),
        "weights_dtype": "float16" if half else "float32",
        "cost_512": count_macs(gen.model, (1, 1, 512, 512)).__dict__,
        "cost_256": count_macs(gen.model, (1, 1, 256, 256)).__dict__,
        "run": _run_summary(run),
        "val": evaluate_model(dest, "val"), "test": evaluate_model(dest, "test"), "notes": notes,
    }
    (dest / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (dest / "MODEL_CARD.md").write_text(render_card(card))
    return card


def render_card(card: dict[str, Any]) -> str:
    """The model card as Markdown, generated from ``card.json`` (every figure comes from a measurement)."""
    g, run, tc = card["generator"], card["run"], card["train_config"]
    lines = [
        f"# Model card: {card['name']}", "",
        card.get("notes", "").strip(), "",
        "## Architecture",
        f"- generator: {g['arch']} ngf {g['ngf']}, {g['n_blocks']} {g['block']} residual blocks, {g['n_down']} "
        f"down/upsamplings, {g['norm']} norm, {g['upsample']} upsampling; weights stored as {card['weights_dtype']}",
        f"- cost per slice: {card['cost_512']['macs'] / 1e9:.2f} GMAC at 512x512, "
        f"{card['cost_256']['macs'] / 1e9:.2f} GMAC at 256x256; {card['cost_256']['params']:,} parameters",
        "",
        "## Training",
        f"- recipe `{tc['recipe']}`: slices {tc['data']['size']}x{tc['data']['size']}, random crops "
        f"{tc['data']['crop'] or 'none'}, batch {tc['optim']['batch_size']}, Adam lr {tc['optim']['lr']} "
        f"({tc['optim']['schedule']} schedule), lambdas adv {tc['loss']['lambda_adv']} / pix "
        f"{tc['loss']['lambda_pix']} / str {tc['loss']['lambda_str']} / cyc {tc['loss']['lambda_cyc']}",
        f"- trained {run['epochs_trained']} epochs ({run['steps']} steps) in {run['wall_hours']} h wall time; "
        f"shipped weights are the best validation epoch ({run['best_epoch']}, mean SSIM {run['best_val_score']:.4f})",
        "",
        "## Metrics (0..255 scale; head = inside the head mask of the pair)", "",
        "| split | patients | slices | direction | PSNR | SSIM | MAE | IoU@20 | head PSNR | head SSIM | head MAE |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for split in ("val", "test"):
        rep = card[split]
        for key, label in (("sct", "sCT (MR->CT)"), ("smr", "sMR (CT->MR)")):
            m = rep[key]
            lines.append(f"| {split} | {', '.join(rep['patients'])} | {rep['n_slices']} | {label} | {m['psnr']:.2f} | "
                         f"{m['ssim']:.4f} | {m['mae']:.2f} | {m['iou']:.4f} | {m['head_psnr']:.2f} | "
                         f"{m['head_ssim']:.4f} | {m['head_mae']:.2f} |")
    lines += ["", f"Data: {card['test']['data']}.", ""]
    return "\n".join(lines)
