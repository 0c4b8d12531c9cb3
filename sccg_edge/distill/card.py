"""The distilled students' export: ``RUN/student/`` generator files and the student model card."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sccg_edge.config import DistillConfig, to_dict
from sccg_edge.data.splits import trains_on_every_patient
from sccg_edge.models import count_macs
from sccg_edge.models.loading import save_generator
from sccg_edge.models.weights import load_module
from sccg_edge.utils.fs import atomic_dir, atomic_write_text

if TYPE_CHECKING:
    from sccg_edge.distill.run import Branch


def export_students(branches: list[Branch], cfg: DistillConfig, out: Path, teacher_info: dict[str, Any],
                    state: dict[str, Any], data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write RUN/student/g_<direction>.safetensors (best checkpoint, else current weights) and the model card.

    A run distilled on every patient (``data.train_patients`` set, no ``val_patients``) validates on its own training
    slices, so its final weights are written, not the epoch that fitted them best.
    """
    best = out / "checkpoints" / "best" / "weights"
    from_best = not trains_on_every_patient(cfg.data.train_patients, cfg.data.val_patients) and all((best / f"s_{b.direction}.safetensors").is_file() for b in branches)
    extra = {"teacher": teacher_info["spec"], "preset": cfg.student.preset, "distill_recipe": cfg.recipe,
             "epoch": state.get("best_epoch", state["epoch"]) if from_best else state["epoch"]}
    folder = out / "student"
    with atomic_dir(folder, replace=True) as tmp:
        for b in branches:
            student = copy.deepcopy(b.student).cpu().eval()
            if from_best:
                load_module(student, best / f"s_{b.direction}.safetensors")
            save_generator(student, tmp / f"g_{b.direction}.safetensors", b.direction, cfg.data.size,
                           cfg.data.ct_window, extra=extra)
        card = {**student_card(branches, cfg, teacher_info, state, from_best), "data": data or {}}
        atomic_write_text(tmp / "student_card.json", json.dumps(card, indent=2))
        atomic_write_text(tmp / "student_card.md", card_markdown(card))
    return {"student": str(folder), "card": str(folder / "student_card.md")}


def student_card(branches: list[Branch], cfg: DistillConfig, teacher_info: dict[str, Any], state: dict[str, Any],
                 from_best: bool) -> dict[str, Any]:
    """Model card data: architecture, cost at 256 and 512, and validation metrics beside the teacher's."""
    student, teacher = branches[0].student, branches[0].teacher
    cost: dict[str, Any] = {}
    for side in (256, 512):
        s = count_macs(copy.deepcopy(student).cpu(), (1, 1, side, side))
        cost[f"student_macs_{side}"], cost["student_params"] = s.macs, s.params
    t = count_macs(copy.deepcopy(teacher).cpu(), (1, 1, 256, 256))  # conv MACs scale exactly with the pixel count
    cost.update(teacher_macs_256=t.macs, teacher_macs_512=4 * t.macs, teacher_params=t.params)
    metrics = state.get("best_metrics" if from_best else "last_metrics") or {}
    return {"preset": cfg.student.preset, "generator_config": student.config.to_dict(),
            "directions": [b.direction for b in branches], "size": cfg.data.size, "ct_window": cfg.data.ct_window,
            "teacher": teacher_info, "weights_from": "best" if from_best else "last",
            "epoch": state.get("best_epoch") if from_best else state["epoch"], "steps": state["global_step"],
            "cost": cost, "val_student": metrics, "val_teacher": state.get("teacher_metrics", {}),
            "loss": to_dict(cfg.loss)}


def card_markdown(card: dict[str, Any]) -> str:
    """The model card as Markdown."""
    c = card["cost"]
    lines = [f"# Student model card: {card['preset']}", "",
             (f"Distilled from teacher `{card['teacher']['spec']}`, directions {', '.join(card['directions'])}, "
              f"slice size {card['size']}, CT window {card['ct_window']}; weights from the {card['weights_from']} "
              f"checkpoint (epoch {card['epoch']}, {card['steps']} steps)."), "",
             "| | student | teacher |", "|---|---|---|",
             f"| params | {c['student_params']:,} | {c['teacher_params']:,} |",
             f"| GMAC @256 | {c['student_macs_256'] / 1e9:.2f} | {c['teacher_macs_256'] / 1e9:.2f} |",
             f"| GMAC @512 | {c['student_macs_512'] / 1e9:.2f} | {c['teacher_macs_512'] / 1e9:.2f} |"]
    data = card.get("data") or {}
    if data:
        lines += ["", (f"Validation metrics (0..255 scale) on {data['val_slices']} slices of {data['val_patients']} "
                       f"validation patient(s) of the {data['description']}."), "", "| | student | teacher |",
                  "|---|---|---|"]
    for key in sorted(k for k in card["val_teacher"] if k != "score"):
        if key in card["val_student"]:
            lines.append(f"| val {key} | {card['val_student'][key]:.4g} | {card['val_teacher'][key]:.4g} |")
    return "\n".join(lines) + "\n"
