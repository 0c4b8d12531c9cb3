"""The recipe study's table: every variant's cross-validation (``sccg-edge cv``) side by side.

    python benchmarks/recipe_study.py --study runs/study --out benchmarks/results/<date>_recipe_study

Reads ``<study>/<variant>/cv.json`` and ``curves.csv`` (written by ``benchmarks/recipe_study.sh``) and writes
``report.md`` (the table, with steps per minute measured from each fold's own log), ``table.csv``, ``curves.csv`` and
``curves.png`` (validation SSIM / MAE against wall-clock minutes, every variant and fold), plus each variant's
``report.md`` and ``study.json`` (the exact options) under ``variants/``. Nothing here trains or scores: every figure
comes from the cv outputs.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
from pathlib import Path

from sccg_edge.bench.machine import machine_info
from sccg_edge.train import plot_curves

BAR = {"sct": {"ssim": 0.70, "mae": 20.0}, "smr": {"ssim": 0.65, "mae": 16.0}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="runs/study", help="folder holding one cv folder per variant")
    ap.add_argument("--out", required=True, help="new results folder")
    ap.add_argument("--notes", default="", help="a Markdown file whose text is placed under the title")
    args = ap.parse_args()
    study, out = Path(args.study), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    for cv_file in sorted(study.glob("*/cv.json")):
        variant = cv_file.parent.name
        cv = json.loads(cv_file.read_text())
        if not cv["folds"]:
            continue
        (out / "variants" / variant).mkdir(parents=True, exist_ok=True)
        for name in ("report.md", "study.json", "curves.csv"):
            if (cv_file.parent / name).is_file():
                shutil.copy(cv_file.parent / name, out / "variants" / variant / name)
        with (cv_file.parent / "curves.csv").open() as fh:
            curves[variant] = [{k: float(v) if k != "fold" else int(v) for k, v in r.items()} for r in csv.DictReader(fh)]
        rows.append(_row(variant, cv))
    common = sorted(set.intersection(*(set(r["folds"].split(",")) for r in rows))) if rows else []
    for r, cv_file in zip(rows, [f for f in sorted(study.glob("*/cv.json"))
                                 if json.loads(f.read_text())["folds"]]):
        folds = [f for f in json.loads(cv_file.read_text())["folds"] if str(f["fold"]) in common]
        for d in ("sct", "smr"):
            for m in ("ssim", "mae"):
                r[f"common_{d}_{m}"] = round(sum(f[d][m] for f in folds) / len(folds), 4) if folds else None
        r["common_folds"] = ",".join(common)
    _write_csv(out / "table.csv", rows)
    flat = [{"variant": v, **r} for v, rs in curves.items() for r in rs]
    _write_csv(out / "curves.csv", flat)
    if curves:
        plot_curves(curves, out / "curves.png", x="cpu_minutes")
    notes = Path(args.notes).read_text() if args.notes else ""
    (out / "report.md").write_text(_report(rows, study, notes))
    print(json.dumps({"out": str(out), "variants": [r["variant"] for r in rows]}))


def _row(variant: str, cv: dict) -> dict:
    ms = cv["mean_std"]
    clock = "cpu_s" if cv["study"]["overrides"].get("budget_clock") == "cpu" else "wall_s"
    steps = [f["steps"] / (f[clock] / 60.0) for f in cv["folds"] if f.get("steps") and f.get(clock)]
    row = {"variant": variant, "overrides": " ".join(f"{k}={v}" for k, v in cv["study"]["overrides"].items()),
           "budget_min": cv["study"]["budget_minutes"], "folds": ",".join(str(f["fold"]) for f in cv["folds"]),
           "n_slices": cv["n_slices"], "steps_per_cpu_min": round(sum(steps) / len(steps), 2) if steps else None}
    for view in ("sct", "smr", "sct_tta", "smr_tta", "sct_registered", "smr_registered"):
        for m in ("psnr", "ssim", "mae", "head_ssim", "head_mae"):
            if view in ms and m in ms[view]:
                row[f"{view}_{m}"] = round(ms[view][m]["mean"], 4)
                row[f"{view}_{m}_std"] = round(ms[view][m]["std"], 4)
    return row


def _report(rows: list[dict], study: Path, notes: str) -> str:
    m = machine_info()
    lines = ["# Teacher recipe study", "", notes, "",
             "Made by `bash benchmarks/recipe_study.sh` (each variant: `sccg-edge cv` of the `cpu` recipe plus the "
             "overrides below) and `python benchmarks/recipe_study.py --study runs/study --out <this folder>`.",
             f"Machine: {m.get('cpu_model', platform.processor())} (AMX: {m['isa'].get('amx_tile')}, AVX512-BF16: {m['isa'].get('avx512_bf16')}), {m.get('logical_cores', '?')} logical CPUs; two "
             "folds trained at once, one thread each.", "",
             "Mean over the folds done (test patients never trained or selected on), 0..255, whole slice; head-mask "
             "SSIM beside it. Bar: sCT SSIM >= 0.70 with MAE <= 20, sMR SSIM >= 0.65 with MAE <= 16.", "",
             "| variant | folds | n | steps per CPU min | sCT PSNR / SSIM / MAE | sMR PSNR / SSIM / MAE | head SSIM sCT / sMR "
             "| with flip TTA: SSIM sCT / sMR | overrides |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tta = (f"{r['sct_tta_ssim']:.4f} / {r['smr_tta_ssim']:.4f}" if "sct_tta_ssim" in r else "")
        lines.append(
            f"| {r['variant']} | {r['folds']} | {r['n_slices']} | {r['steps_per_cpu_min']} | {r['sct_psnr']:.2f} / "
            f"{r['sct_ssim']:.4f} +- {r['sct_ssim_std']:.4f} / {r['sct_mae']:.2f} | {r['smr_psnr']:.2f} / "
            f"{r['smr_ssim']:.4f} +- {r['smr_ssim_std']:.4f} / {r['smr_mae']:.2f} | {r['sct_head_ssim']:.4f} / "
            f"{r['smr_head_ssim']:.4f} | {tta} | `{r['overrides'] or '(cpu recipe + common overrides)'}` |")
    if rows and rows[0].get("common_folds"):
        lines += ["", f"The same variants on the folds every one of them ran ({rows[0]['common_folds']}), so that they "
                  "compare like for like:", "", "| variant | sCT SSIM / MAE | sMR SSIM / MAE |", "|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['variant']} | {r['common_sct_ssim']:.4f} / {r['common_sct_mae']:.2f} | "
                         f"{r['common_smr_ssim']:.4f} / {r['common_smr_mae']:.2f} |")
    lines += ["", "Learning curves (validation patient of each fold, against CPU minutes of the training process): `curves.png`, "
              "`curves.csv`. Per-variant fold tables: `variants/<variant>/report.md`.", ""]
    return "\n".join(lines)


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
