"""Where the teacher's test-patient gap comes from: models against the bar, and how the bar reacts to small errors.

Usage (from the repository root, with ../shared/data present):
    python benchmarks/teacher_gap.py --out benchmarks/results/DATE_teacher_gap \
        [--model NAME=SPEC[@PATIENTS] ...] [--reference teacher]

Writes ``results.json`` and ``report.md``:
- each ``--model`` scored on the test patient (or on ``@PATIENTS``, e.g. a run that trained on them), both
  directions, against the issue's bar (sCT SSIM >= 0.70 and MAE <= 20; sMR SSIM >= 0.65 and MAE <= 16);
- the ground truth scored against itself after a small blur or a shift: how much of the bar a prediction with the
  right content but 2-4 px off, or a little smoother, already gives away;
- for ``--reference``, the integer shift (within +-6 px) that best aligns each of its sCT slices with the CT, and
  the metrics after it: how much a rigid misregistration of the pairs explains; and its sCT with the brain's
  brightness set to the ground truth's (an oracle): how much the per-patient CT window explains.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

BAR = {"sct": {"ssim": 0.70, "mae": 20.0}, "smr": {"ssim": 0.65, "mae": 16.0}}
PERTURBATIONS = ("blur 0.7 px", "blur 1.5 px", "blur 3 px", "shift 2 px", "shift 4 px", "all black")


def _perturb(img: np.ndarray, name: str) -> np.ndarray:
    from scipy import ndimage as ndi

    kind, _, amount = name.partition(" ")
    if kind == "blur":
        return ndi.gaussian_filter(img, float(amount.split()[0]))
    if kind == "shift":
        return ndi.shift(img, (float(amount.split()[0]), 0.0), order=1)
    return np.zeros_like(img)


def _mean_metrics(preds: np.ndarray, gts: np.ndarray) -> dict[str, float]:
    from sccg_edge.metrics.score import score_255

    mean = score_255(np.clip(preds, 0, 255), gts)
    return {k: mean[k] for k in ("psnr", "ssim", "mae")}


def sensitivity(split: Any) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics of the perturbed ground truth against itself, per modality."""
    from sccg_edge.metrics.score import to_255

    out: dict[str, dict[str, dict[str, float]]] = {}
    for key, images in (("sct", split.ct), ("smr", split.mr)):
        gts = to_255(images.numpy()[:, 0])
        out[key] = {name: _mean_metrics(np.stack([_perturb(g, name) for g in gts]), gts) for name in PERTURBATIONS}
    return out


def best_shift(spec: str, split: Any, radius: int = 6) -> dict[str, Any]:
    """Per slice, the integer shift of the model's sCT that minimises MAE to the CT; metrics before and after."""
    from sccg_edge.backends import load_backend, run_batched
    from sccg_edge.metrics.score import to_255

    pred = to_255(run_batched(load_backend("torch", spec, direction="mr2ct"), split.mr.numpy(), 4)[:, 0])
    gts = to_255(split.ct.numpy()[:, 0])
    shifts, moved = [], []
    for p, g in zip(pred, gts):
        _, dy, dx = min((float(np.abs(np.roll(p, (dy, dx), (0, 1)) - g).mean()), dy, dx)
                          for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1))
        shifts.append((dy, dx))
        moved.append(np.roll(p, (dy, dx), (0, 1)))
    norms = [float(np.hypot(*s)) for s in shifts]
    return {"model": spec, "median_shift_px": float(np.median(norms)), "max_shift_px": max(norms),
            "before": _mean_metrics(pred, gts), "after": _mean_metrics(np.stack(moved), gts),
            "brightness_oracle": _mean_metrics(np.stack([_match_brain(p, g) for p, g in zip(pred, gts)]), gts)}


def _match_brain(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``pred`` remapped piecewise-linearly (0 -> 0, its brain median -> the ground truth's, 255 -> 255).

    The brain is the ground truth's soft tissue (40..200) inside the skull, 8 px in from it.
    """
    from scipy import ndimage as ndi

    brain = ndi.binary_erosion(ndi.binary_fill_holes(gt > 200), iterations=8) & (gt > 40) & (gt < 200)
    if brain.sum() < 500:
        return pred
    src, dst = float(np.median(pred[brain])), float(np.median(gt[brain]))
    return np.interp(pred, [0.0, src, 255.0], [0.0, dst, 255.0]) if 0 < src < 255 else pred


def score(name: str, spec: str) -> dict[str, Any]:
    """``NAME=SPEC[@PATIENTS]`` scored on the test split (or on PATIENTS), both directions."""
    from sccg_edge.config import EvalConfig
    from sccg_edge.evaluate import evaluate_model

    spec, _, patients = spec.partition("@")
    report = evaluate_model(spec, EvalConfig("test", patients=patients))
    meets = all(report[k]["ssim"] >= BAR[k]["ssim"] and report[k]["mae"] <= BAR[k]["mae"] for k in BAR)
    return {"name": name, "spec": spec, "patients": report["patients"], "n_slices": report["n_slices"],
            "in_sample": bool(patients), "sct": report["sct"], "smr": report["smr"], "meets_bar": meets}


def report_markdown(result: dict[str, Any]) -> str:
    lines = [f"# Teacher gap on the test patient ({result['command']})", "",
             "Bar (issue 3): sCT SSIM >= 0.70 and MAE <= 20; sMR SSIM >= 0.65 and MAE <= 16 (0..255 scale).", "",
             "## Models", "",
             "| model | scored on | sCT PSNR / SSIM / MAE | sMR PSNR / SSIM / MAE | meets bar |", "|---|---|---|---|---|"]
    for m in result["models"]:
        where = f"patients {', '.join(m['patients'])}" + (" (trained on them)" if m["in_sample"] else " (unseen)")
        cells = [f"{m[k]['psnr']:.2f} / {m[k]['ssim']:.4f} / {m[k]['mae']:.2f}" for k in ("sct", "smr")]
        lines.append(f"| {m['name']} (`{m['spec']}`) | {where} | {cells[0]} | {cells[1]} | "
                     f"{'yes' if m['meets_bar'] else 'no'} |")
    lines += ["", "## The ground truth against itself, perturbed (test patient)", "",
              "| perturbation | CT SSIM / MAE | MR SSIM / MAE |", "|---|---|---|"]
    sens = result["sensitivity"]
    for name in PERTURBATIONS:
        lines.append(f"| {name} | {sens['sct'][name]['ssim']:.3f} / {sens['sct'][name]['mae']:.1f} | "
                     f"{sens['smr'][name]['ssim']:.3f} / {sens['smr'][name]['mae']:.1f} |")
    if result.get("alignment"):
        a = result["alignment"]
        shift = ("Rigid alignment to the CT (per slice, the integer shift within +-6 px with the lowest MAE): "
                 f"median shift {a['median_shift_px']:.1f} px (max {a['max_shift_px']:.1f}); sCT SSIM "
                 f"{a['before']['ssim']:.4f} -> {a['after']['ssim']:.4f}, MAE {a['before']['mae']:.2f} -> "
                 f"{a['after']['mae']:.2f}")
        brightness = ("With the brain's brightness of each sCT slice set to the CT's (an oracle, no shift): sCT SSIM "
                      f"{a['brightness_oracle']['ssim']:.4f}, MAE {a['brightness_oracle']['mae']:.2f}")
        lines += ["", f"## Two oracles on `{a['model']}`'s sCT", "", shift, "", brightness]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from sccg_edge.config import DataConfig
    from sccg_edge.data.slices import load_splits
    from sccg_edge.utils.fs import atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", action="append", default=[], help="NAME=SPEC[@PATIENTS]")
    parser.add_argument("--reference", default="teacher")
    args = parser.parse_args(argv)
    test = load_splits(DataConfig(crop=0, flip=False))["test"]
    result: dict[str, Any] = {
        "command": "python benchmarks/teacher_gap.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "models": [score(*item.split("=", 1)) for item in args.model],
        "sensitivity": sensitivity(test),
        "alignment": best_shift(args.reference, test) if args.reference else None,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "results.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(args.out / "report.md", report_markdown(result))
    print(report_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
