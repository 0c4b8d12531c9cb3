"""Patient cross-validation of a training recipe: ``run_cv(CvConfig) -> report``.

The patients of the paired data are sorted and dealt into ``folds`` contiguous groups; fold ``k`` tests on group
``k``, validates (best-checkpoint choice, learning curves) on the first patient of group ``k + 1`` and trains on the
rest, so every patient is tested exactly once and no fold ever trains or selects on its test patients. Each fold is
an ordinary training run folder ``OUT/fold<k>`` with a time budget (``budget_minutes`` of wall-clock time, or of the
training process's CPU time with ``--set budget_clock=cpu``, counted over every resume, with the learning-rate
schedule run over the budget), so an interrupted study continues where it stopped:
run the same command again. When a fold's budget is spent its best checkpoint is scored on its test patients
(``OUT/fold<k>/test.json``), and the report gathers every finished fold::

    OUT/cv.json      the command's config, per-fold and mean +- std metrics (both directions, whole slice and head)
    OUT/folds.csv    one row per fold and direction
    OUT/curves.csv   validation metrics against wall-clock (and CPU) minutes, every fold
    OUT/curves.png   the same as a plot (SSIM and MAE of both directions)
    OUT/report.md    the table, the curves and the command
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.config import CvConfig, DataConfig, EvalConfig, TrainConfig, load_distill_config, load_recipe, to_dict
from sccg_edge.data.pairs import list_pairs
from sccg_edge.data.slices import resolve_data_root
from sccg_edge.distill import distill
from sccg_edge.errors import ConfigError, InputError
from sccg_edge.evaluate import evaluate_model
from sccg_edge.train.run import train_teacher
from sccg_edge.utils.fs import atomic_write_text, check_writable

METRICS = ("psnr", "ssim", "mae", "iou", "head_psnr", "head_ssim", "head_mae")
#: per-fold score sets: plain, with flip test-time averaging, and against ground truth registered onto the input
VIEWS = ("sct", "smr", "sct_tta", "smr_tta", "sct_registered", "smr_registered")


def fold_splits(patients: list[str], folds: int) -> list[dict[str, list[str]]]:
    """Train/val/test patients of every fold (see module docs); patients are sorted numerically when they can be."""
    order = sorted(patients, key=lambda p: (0, int(p), p) if p.isdigit() else (1, 0, p))
    if len(order) < folds + 2:
        raise InputError(f"{len(order)} patients cannot make {folds} folds with a validation and a training patient "
                         f"each; use at most {max(0, len(order) - 2)} folds")
    groups = [list(g) for g in np.array_split(np.array(order, dtype=object), folds)]
    out = []
    for k, test in enumerate(groups):
        val = groups[(k + 1) % folds][0]
        train = [p for p in order if p not in test and p != val]
        out.append({"train": train, "val": [val], "test": list(test)})
    return out


def fold_config(cfg: CvConfig, split: dict[str, list[str]]) -> TrainConfig:
    """The training config of one fold: the recipe, the overrides, the fold's split and the budget."""
    overrides = {**cfg.overrides, "budget_minutes": cfg.budget_minutes, "data.train_patients": split["train"],
                 "data.val_patients": split["val"], "data.test_patients": split["test"]}
    if cfg.data:
        overrides["data.root"] = cfg.data
    train_cfg = load_recipe(cfg.recipe, overrides=overrides)
    if train_cfg.max_minutes or train_cfg.max_steps:
        raise ConfigError("max_minutes / max_steps would cut a fold short of its budget; cross-validation folds "
                          "end by --budget-minutes alone (run the command again to continue a stopped study)")
    # The budget, not the epochs, ends a fold: allow far more epochs than the budget can hold.
    return dataclasses.replace(train_cfg, optim=dataclasses.replace(train_cfg.optim, epochs=100_000))


def run_cv(cfg: CvConfig, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) every selected fold, score finished folds on their test patients, write the report."""
    if not cfg.out:
        raise InputError("give --out DIR for the cross-validation runs (an existing one is continued)")
    out = Path(cfg.out)
    root, described = resolve_data_root(DataConfig(root=cfg.data))
    splits = fold_splits(sorted({r.patient for r in list_pairs(root)}), cfg.folds)
    check_writable(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_same_study(out, cfg)
    for k in cfg.only or range(cfg.folds):
        fold_dir = out / f"fold{k}"
        train_cfg = fold_config(cfg, splits[k])
        resume = (fold_dir / "config.yaml").is_file()
        if resume:
            _check_same_fold(fold_dir, train_cfg)
        if cfg.report_only:
            if resume:
                score_fold(fold_dir, k, train_cfg, cfg.data)
            continue
        summary = train_teacher(train_cfg, fold_dir, resume=resume, progress=progress)
        if summary["stopped_by"] in ("budget", "epochs"):
            score_fold(fold_dir, k, train_cfg, cfg.data)
            for preset in cfg.students:
                distill_fold(cfg, fold_dir, preset, train_cfg, splits[k], progress)
    return write_report(out, cfg, splits, described)


def _can_register() -> bool:
    return importlib.util.find_spec("SimpleITK") is not None


def score_fold(fold_dir: Path, k: int, train_cfg: TrainConfig, data_root: str) -> None:
    """Score a finished fold's best checkpoint on its test patients (``test.json``), adding any missing view:
    plain, flip test-time averaged, and against ground truth registered onto the input (the fold's own
    registration kind, else rigid; skipped without SimpleITK)."""
    state_file = fold_dir / "checkpoints" / "last" / "state.json"
    if not state_file.is_file():
        return
    state = json.loads(state_file.read_text())
    clock = "cpu_s" if train_cfg.budget_clock == "cpu" else "wall_s"
    spent = state.get(clock, 0.0) >= 60.0 * train_cfg.budget_minutes
    if not spent and state.get("epoch", 0) < train_cfg.optim.epochs:
        return  # not finished: scored when its budget is spent
    test_file = fold_dir / "test.json"
    report = json.loads(test_file.read_text()) if test_file.is_file() else {}
    if "sct" not in report:
        report.update(evaluate_model(fold_dir, EvalConfig(split="test", data=data_root)))
        report.update(fold=k, wall_s=state["wall_s"], cpu_s=state.get("cpu_s"), steps=state["global_step"],
                      budget_clock=train_cfg.budget_clock)
    if "sct_tta" not in report:  # what flip test-time averaging buys
        tta = evaluate_model(fold_dir, EvalConfig(split="test", data=data_root, tta="flip"))
        report.update(sct_tta=tta["sct"], smr_tta=tta["smr"])
    if "sct_registered" not in report and _can_register():  # SynthRAD registers before scoring: both views
        kind = train_cfg.data.register if train_cfg.data.register != "none" else "rigid"
        reg = evaluate_model(fold_dir, EvalConfig(split="test", data=data_root, register=kind))
        report.update(sct_registered=reg["sct"], smr_registered=reg["smr"], registered_kind=kind)
    atomic_write_text(test_file, json.dumps(report, indent=2))


#: distill-cpu overrides per student preset: student-ps folds space to depth, so its down0 has the resolution of
#: the teacher's encoder output (the shipped student-ps was distilled the same way)
STUDENT_DEFAULTS: dict[str, dict[str, Any]] = {"student-ps": {"loss.feature_pairs": ["down0:enc"]}}


def distill_fold(cfg: CvConfig, fold_dir: Path, preset: str, train_cfg: TrainConfig, split: dict[str, list[str]],
                 progress: bool = True) -> None:
    """Distil ``preset`` from a fold's teacher on the fold's own training patients, then score it on the fold's
    test patients (``FOLD/students/<preset>/test.json``); resumable like the teacher."""
    out = fold_dir / "students" / preset
    overrides = {**STUDENT_DEFAULTS.get(preset, {}), **cfg.student_overrides, "student.preset": preset,
                 "budget_minutes": cfg.student_budget_minutes, "budget_clock": train_cfg.budget_clock,
                 "threads": train_cfg.threads, "amp": train_cfg.amp, "data.size": train_cfg.data.size,
                 "data.train_patients": split["train"], "data.val_patients": split["val"],
                 "data.test_patients": split["test"]}
    if cfg.data:
        overrides["data.root"] = cfg.data
    dcfg = load_distill_config("distill-cpu", overrides)
    dcfg = dataclasses.replace(dcfg, optim=dataclasses.replace(dcfg.optim, epochs=100_000))
    resume = (out / "config.yaml").is_file()
    if not (out / "student" / "g_mr2ct.safetensors").is_file() or resume and not (out / "test.json").is_file():
        summary = distill(dcfg, str(fold_dir), out, resume=resume, progress=progress)
        if summary["stopped_by"] not in ("budget", "epochs"):
            return
    if not (out / "test.json").is_file():
        report = evaluate_model(out / "student", EvalConfig(data=cfg.data, patients=tuple(split["test"])))
        atomic_write_text(out / "test.json", json.dumps(report, indent=2))


def _study_record(cfg: CvConfig) -> dict[str, Any]:
    return {"recipe": cfg.recipe, "folds": cfg.folds, "budget_minutes": cfg.budget_minutes, "data": cfg.data,
            "overrides": {k: cfg.overrides[k] for k in sorted(cfg.overrides)}}


def _check_same_study(out: Path, cfg: CvConfig) -> None:
    """An existing study folder is continued only with the same recipe, folds, budget and overrides."""
    record = out / "study.json"
    want = _study_record(cfg)
    if record.is_file():
        have = json.loads(record.read_text())
        if have != want:
            raise InputError(f"this folder holds a study of {have}; continue it with the same options or choose "
                             "a new --out (nothing was changed)", out)
    else:
        atomic_write_text(record, json.dumps(want, indent=2))


def _check_same_fold(fold_dir: Path, train_cfg: TrainConfig) -> None:
    have = load_recipe(str(fold_dir / "config.yaml"), cls=TrainConfig)
    if to_dict(have) != to_dict(train_cfg):
        raise InputError("this fold was started with another config; continue it with the options it was started "
                         "with or choose a new --out (nothing was changed)", fold_dir / "config.yaml")


def write_report(out: Path, cfg: CvConfig, splits: list[dict[str, list[str]]], data: str) -> dict[str, Any]:
    """Gather the finished folds into cv.json, folds.csv, curves.csv, curves.png and report.md."""
    rows, folds = [], []
    for k in range(cfg.folds):
        test_file = out / f"fold{k}" / "test.json"
        if not test_file.is_file():
            continue
        rep = json.loads(test_file.read_text())
        folds.append({"fold": k, **splits[k], "wall_s": rep.get("wall_s"), "cpu_s": rep.get("cpu_s"),
                      "budget_clock": rep.get("budget_clock", "wall"), "steps": rep.get("steps"),
                      "n_slices": rep["n_slices"], **{v: rep[v] for v in VIEWS if v in rep}})
        students = {}
        for st_file in sorted((out / f"fold{k}" / "students").glob("*/test.json")):
            st = json.loads(st_file.read_text())
            students[st_file.parent.name] = {"sct": st["sct"], "smr": st["smr"]}
        if students:
            folds[-1]["students"] = students
        for direction in [v for v in VIEWS if v in rep]:
            rows.append({"fold": k, "direction": direction, "test_patients": " ".join(splits[k]["test"]),
                         "n_slices": rep["n_slices"], **{m: rep[direction].get(m) for m in METRICS}})
    summary = {v: _mean_std([f[v] for f in folds]) for v in VIEWS if folds and all(v in f for f in folds)}
    result = {"study": _study_record(cfg), "data": data, "scale": "0..255", "folds_done": [f["fold"] for f in folds],
              "folds": folds, "mean_std": summary, "n_slices": sum(f["n_slices"] for f in folds),
              "student_gaps": student_gaps(folds)}
    atomic_write_text(out / "cv.json", json.dumps(result, indent=2))
    _write_csv(out / "folds.csv", rows)
    curves = learning_curves(out, cfg.folds)
    _write_csv(out / "curves.csv", curves)
    if curves:
        cpu = str(cfg.overrides.get("budget_clock", "wall")) == "cpu"
        plot_curves({"": curves}, out / "curves.png", x="cpu_minutes" if cpu else "minutes")
    atomic_write_text(out / "report.md", report_markdown(result, cfg))
    return result


def student_gaps(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per student: (student - teacher) PSNR and SSIM of both directions on each fold's test patients, their mean,
    and whether the mean stays within 0.5 dB and 0.01 SSIM of the teacher (issue 12's bar for students)."""
    out: dict[str, Any] = {}
    names = sorted({name for f in folds for name in f.get("students", {})})
    for name in names:
        rows = []
        for f in folds:
            st = f.get("students", {}).get(name)
            if st is None:
                continue
            rows.append({"fold": f["fold"], **{f"{d}_{m}": st[d][m] - f[d][m] for d in ("sct", "smr")
                                               for m in ("psnr", "ssim")}})
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "fold"}
        within = all(mean[f"{d}_psnr"] >= -0.5 and mean[f"{d}_ssim"] >= -0.01 for d in ("sct", "smr"))
        out[name] = {"per_fold": rows, "mean": mean, "within_0.5dB_0.01ssim": within}
    return out


def _mean_std(per_fold: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for m in METRICS:
        vals = [float(f[m]) for f in per_fold if f.get(m) is not None]
        if vals:
            out[m] = {"mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0}
    return out


def learning_curves(out: Path, folds: int) -> list[dict[str, Any]]:
    """Validation metrics against wall-clock minutes of every fold's metrics.csv."""
    rows = []
    for k in range(folds):
        path = out / f"fold{k}" / "metrics.csv"
        if not path.is_file():
            continue
        with path.open() as fh:
            for rec in csv.DictReader(fh):
                rows.append({"fold": k, "minutes": round(float(rec["wall_s"]) / 60.0, 3),
                             "cpu_minutes": round(float(rec.get("cpu_s") or "nan") / 60.0, 3), "step": int(rec["step"]),
                             **{f"{d}_{m}": float(rec[f"{d}_{m}"]) for d in ("sct", "smr") for m in ("ssim", "mae")}})
    return rows


def plot_curves(curves: dict[str, list[dict[str, Any]]], path: Path, x: str = "minutes") -> None:
    """SSIM and MAE of both directions against minutes (``x``: "minutes" wall-clock or "cpu_minutes" of the
    training process); one line per (label, fold)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, rows) in enumerate(curves.items()):
        for fold in sorted({r["fold"] for r in rows}):
            pts = [r for r in rows if r["fold"] == fold]
            name = f"{label} fold {fold}".strip()
            for ax, key in zip(axes.flat, ("sct_ssim", "sct_mae", "smr_ssim", "smr_mae")):
                ax.plot([p[x] for p in pts], [p[key] for p in pts], color=colors[i % len(colors)],
                        linestyle=("-", "--", ":", "-.")[fold % 4], label=name)
    for ax, key in zip(axes.flat, ("sct_ssim", "sct_mae", "smr_ssim", "smr_mae")):
        ax.set_title(f"validation {key.replace('_', ' ').upper()} (0..255, whole slice)", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("CPU minutes of the training process" if x == "cpu_minutes" else "wall-clock minutes")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    path.write_bytes(buf.getvalue())


def report_markdown(result: dict[str, Any], cfg: CvConfig) -> str:
    """The fold table, the mean +- std and the command that made it."""
    sets = " ".join(f"--set {k}={v}" for k, v in sorted(cfg.overrides.items()))
    lines = [f"# Cross-validation of recipe `{cfg.recipe}`", "",
             f"`sccg-edge cv --recipe {cfg.recipe} --folds {cfg.folds} --budget-minutes {cfg.budget_minutes:g} "
             f"{sets}`".replace("  ", " "), "",
             f"Data: {result['data']}. Folds done: {result['folds_done'] or 'none'} of {cfg.folds}; "
             f"{result['n_slices']} test slices in all. Scale 0..255; whole slice, and inside the head mask (head_*).",
             "", "| fold | test patients | n | sCT PSNR / SSIM / MAE | sMR PSNR / SSIM / MAE | sCT head SSIM / MAE "
             "| sMR head SSIM / MAE |", "|---|---|---|---|---|---|---|"]
    for f in result["folds"]:
        s, m = f["sct"], f["smr"]
        lines.append(f"| {f['fold']} | {', '.join(f['test'])} | {f['n_slices']} | {s['psnr']:.2f} / {s['ssim']:.4f} / "
                     f"{s['mae']:.2f} | {m['psnr']:.2f} / {m['ssim']:.4f} / {m['mae']:.2f} | "
                     f"{s['head_ssim']:.4f} / {s['head_mae']:.2f} | {m['head_ssim']:.4f} / {m['head_mae']:.2f} |")
    ms = result["mean_std"]
    if ms:
        def cell(d: str, k: str, digits: int) -> str:
            return f"{ms[d][k]['mean']:.{digits}f} +- {ms[d][k]['std']:.{digits}f}"

        lines.append(f"| mean +- std | | {result['n_slices']} | {cell('sct', 'psnr', 2)} / {cell('sct', 'ssim', 4)} / "
                     f"{cell('sct', 'mae', 2)} | {cell('smr', 'psnr', 2)} / {cell('smr', 'ssim', 4)} / "
                     f"{cell('smr', 'mae', 2)} | {cell('sct', 'head_ssim', 4)} / {cell('sct', 'head_mae', 2)} | "
                     f"{cell('smr', 'head_ssim', 4)} / {cell('smr', 'head_mae', 2)} |")
    for view, what in (("tta", "with flip test-time averaging"), ("registered", "against registered ground truth")):
        if f"sct_{view}" in ms:
            lines.append(f"\nMean +- std {what}: sCT SSIM {cell(f'sct_{view}', 'ssim', 4)} / MAE "
                         f"{cell(f'sct_{view}', 'mae', 2)}; sMR SSIM {cell(f'smr_{view}', 'ssim', 4)} / MAE "
                         f"{cell(f'smr_{view}', 'mae', 2)}.")
    for name, gap in result.get("student_gaps", {}).items():
        m = gap["mean"]
        lines.append(f"\nStudent `{name}` minus the fold's teacher, mean over folds {[r['fold'] for r in gap['per_fold']]} "
                     f"(test patients): sCT {m['sct_psnr']:+.2f} dB / {m['sct_ssim']:+.4f} SSIM, sMR "
                     f"{m['smr_psnr']:+.2f} dB / {m['smr_ssim']:+.4f} SSIM; within 0.5 dB and 0.01 SSIM: "
                     f"{'yes' if gap['within_0.5dB_0.01ssim'] else 'no'}.")
    lines += ["", "Learning curves (validation patient of each fold): `curves.csv`, `curves.png`.", ""]
    return "\n".join(lines)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())
