"""Writers for a benchmark run: results.json, results.csv, report.md, pareto.png; and the terminal table."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from rich.table import Table

from sccg_edge.bench.pareto import draw_pareto
from sccg_edge.utils.fs import atomic_write_text
from sccg_edge.utils.jsonsafe import json_safe

OUTPUT_FILES = ("results.json", "results.csv", "report.md", "pareto.png")
TABLE_COLUMNS = (("model", "model"), ("backend", "backend"), ("precision", "prec"), ("size", "size"),
                 ("lat_median_ms", "median ms"), ("lat_p90_ms", "p90 ms"), ("slices_per_s", "slices/s"),
                 ("gmacs", "GMAC"), ("artifact_mb", "MiB"), ("peak_rss_mb", "RSS MiB"), ("mean_psnr", "PSNR"),
                 ("mean_ssim", "SSIM"), ("mean_agree_psnr", "agree PSNR"), ("mean_d_psnr", "dPSNR"),
                 ("fidelity_slices", "n"), ("status", "status"))
#: the columns of the compact terminal table (narrow terminals and pipes; report.md has them all)
COMPACT_COLUMNS = (("model", "model"), ("backend", "backend"), ("precision", "prec"), ("size", "size"),
                   ("lat_median_ms", "ms"), ("mean_psnr", "PSNR"), ("mean_ssim", "SSIM"), ("fidelity_slices", "n"),
                   ("status", "status"))


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "inf" if value > 0 else "nan"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def reference_label(result: dict[str, Any]) -> str:
    """How reports name the FP32 reference model: "the teacher" only when it is the teacher."""
    name = result["teacher"]
    return f"the teacher ({name})" if name == "teacher" else f"the reference model {name} (no teacher was benchmarked)"


def _n(rec: dict[str, Any]) -> str:
    """The sample a fidelity figure rests on, e.g. ``n = 21 slices, 1 patient``."""
    if "fidelity_slices" not in rec:
        return ""
    pats = rec.get("fidelity_patients")
    return f"n = {rec['fidelity_slices']} slices" + (f", {pats} patient{'s' if pats != 1 else ''}" if pats else "")


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Per size: the reference model's best FP32 latency (its fastest runtime at that size) over the fastest working
    artifact's, and that artifact's fidelity loss against the reference."""
    ok = [r for r in result["records"] if r.get("status") == "ok"]
    out: dict[str, Any] = {}
    for size in sorted({r["size"] for r in ok}):
        at = [r for r in ok if r["size"] == size]
        refs = [r for r in at if r["is_teacher"] and r["precision"] == "fp32"]
        if not refs:
            continue
        ref = min(refs, key=lambda r: r["lat_median_ms"])
        best = min(at, key=lambda r: r["lat_median_ms"])
        item = {"reference": ref["model"], "reference_is_teacher": ref["model"] == "teacher",
                "reference_best_fp32": f"{ref['model']} {ref['backend']} fp32", "reference_ms": ref["lat_median_ms"],
                "best": f"{best['model']} {best['backend']} {best['precision']}", "best_ms": best["lat_median_ms"],
                "speedup": ref["lat_median_ms"] / best["lat_median_ms"]}
        ref_q = next((r for r in refs if "mean_psnr" in r), None)
        if "mean_psnr" in best and ref_q is not None:
            item.update({"psnr_loss_vs_reference": ref_q["mean_psnr"] - best["mean_psnr"],
                         "ssim_loss_vs_reference": ref_q["mean_ssim"] - best["mean_ssim"],
                         "agree_psnr": best.get("mean_agree_psnr"), "agree_ssim": best.get("mean_agree_ssim"),
                         "fidelity_slices": best.get("fidelity_slices"),
                         "fidelity_patients": best.get("fidelity_patients")})
        out[str(size)] = item
    return out


def model_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per trained model: GMAC and best FP32 latency at the largest size, the speed-up over the teacher's best FP32
    there (and on the same runtime), and its FP32 test fidelity per direction beside the teacher's."""
    ok = [r for r in result["records"] if r.get("status") == "ok" and r["trained"] and not r["baseline_only"]]
    if not ok:
        return []
    size = max(r["size"] for r in ok)
    fp32 = [r for r in ok if r["precision"] == "fp32"]

    def best(model: str, backend: str | None = None) -> dict[str, Any] | None:
        rows = [r for r in fp32 if r["model"] == model and r["size"] == size and backend in (None, r["backend"])]
        return min(rows, key=lambda r: r["lat_median_ms"]) if rows else None

    def quality(model: str) -> dict[str, Any]:
        rows = [r for r in fp32 if r["model"] == model and "sct_psnr" in r and r["backend"] == "torch"] or \
            [r for r in fp32 if r["model"] == model and "sct_psnr" in r]
        return {f"{d}_{k}": rows[0][f"{d}_{k}"] for d in ("sct", "smr") for k in ("psnr", "ssim", "mae")
                if f"{d}_{k}" in rows[0]} if rows else {}

    def flat(q: dict[str, Any]) -> dict[str, Any]:
        return {f"{d}_{k}": q.get(f"{d}_{k}") for d in ("sct", "smr") for k in ("psnr", "ssim", "mae")}

    teacher = result["teacher"]
    t_best, t_q = best(teacher), flat(quality(teacher))
    out = []
    for model in sorted({r["model"] for r in fp32}, key=lambda m: (m != teacher, m)):
        b = best(model)
        if b is None:
            continue
        same = best(teacher, b["backend"])
        row = {"model": model, "size": size, "gmacs": b["gmacs"], "best_fp32": f"{b['backend']}",
               "best_fp32_ms": b["lat_median_ms"],
               "speedup_best_vs_best": t_best["lat_median_ms"] / b["lat_median_ms"] if t_best else None,
               "speedup_same_runtime": same["lat_median_ms"] / b["lat_median_ms"] if same else None,
               **flat(quality(model))}
        for key in ("sct_psnr", "sct_ssim", "smr_psnr", "smr_ssim"):
            if row[key] is not None and t_q[key] is not None:
                row[f"d_{key}"] = row[key] - t_q[key]
        out.append(row)
    return out


def _model_table_lines(result: dict[str, Any]) -> list[str]:
    rows = model_table(result)
    if not rows:
        return []
    size = rows[0]["size"]
    ref = result["teacher"]
    sample = next((_n(r) for r in result["records"] if "fidelity_slices" in r), "")
    lines = [f"## Models at {size}x{size}: FP32 latency beside test fidelity", "",
             (f"Best FP32 runtime per model at {size}x{size}; speed-up over {reference_label(result)} at its best "
              f"FP32 runtime (and over `{ref}` on the same runtime); fidelity of the FP32 model on the test split "
              f"({sample or 'n/a'}; 0..255 scale, PSNR in dB), with the difference to `{ref}` (model minus "
              f"`{ref}`)."), "",
             ("| model | GMAC | best FP32 | ms | speed-up | same runtime | sCT PSNR (d) | sCT SSIM (d) | sCT MAE "
              "| sMR PSNR (d) | sMR SSIM (d) | sMR MAE |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def val(r: dict[str, Any], key: str, digits: int) -> str:
        v, d = r.get(key), r.get(f"d_{key}")
        if v is None:
            return "-"
        return f"{v:.{digits}f}" + (f" ({d:+.{digits}f})" if d is not None and r["model"] != result["teacher"] else "")

    for r in rows:
        lines.append(f"| {r['model']} | {r['gmacs']:.2f} | {r['best_fp32']} | {r['best_fp32_ms']:.1f} | "
                     f"{r['speedup_best_vs_best']:.1f}x | {r['speedup_same_runtime']:.1f}x | "
                     f"{val(r, 'sct_psnr', 2)} | {val(r, 'sct_ssim', 4)} | {_fmt(r['sct_mae'])} | "
                     f"{val(r, 'smr_psnr', 2)} | {val(r, 'smr_ssim', 4)} | {_fmt(r['smr_mae'])} |")
    return lines + [""]


def records_csv(records: list[dict[str, Any]]) -> str:
    keys: list[str] = []
    for r in records:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    for r in records:
        writer.writerow({k: json_safe(r.get(k, ""), inf_as_text=True) for k in keys})
    return buf.getvalue()


def report_markdown(result: dict[str, Any]) -> str:
    """The human report: machine, caveats, headline ratio, full table."""
    m = result["machine"]
    isa = ", ".join(k for k, v in m["isa"].items() if v) or "none of interest"
    lines = ["# sccg-edge benchmark", "",
             f"- CPU: {m['cpu_model']} ({m['usable_cores']} usable cores, threads {m['threads']}); ISA: {isa}",
             "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v),
             f"- Device: {m['device']}; fidelity data: {result.get('data') or 'n/a'}",
             f"- FP32 reference for speed-ups and agreement: {reference_label(result)}", ""]
    untrained = sorted({r["model"] for r in result["records"] if not r["trained"]})
    if untrained:
        lines += [(f"> **Untrained models (random weights): {', '.join(untrained)}.** Their PSNR/SSIM against "
                   "ground truth is meaningless; only latency, size and agreement/degradation of an artifact against "
                   "its own FP32 source are informative."), ""]
    who = "teacher" if result["teacher"] == "teacher" else "reference model"
    for size, s in summary(result).items():
        line = (f"- **{size}x{size}**: the fastest artifact, {s['best']} at {s['best_ms']:.1f} ms, is "
                f"**{s['speedup']:.1f}x** faster than the {who}'s best FP32 runtime at the same size "
                f"({s['reference_best_fp32']}, {s['reference_ms']:.1f} ms)")
        if "psnr_loss_vs_reference" in s:
            sample = _n({k: s[k] for k in ("fidelity_slices", "fidelity_patients") if s.get(k) is not None})
            line += (f"; against the FP32 {who}: PSNR {_than(-s['psnr_loss_vs_reference'], '.2f', ' dB')}, SSIM "
                     f"{_than(-s['ssim_loss_vs_reference'], '.4f')} ({sample}, 0..255 scale)")
        lines.append(line)
    lines += ["", *_model_table_lines(result)]
    lines += ["| " + " | ".join(h for _, h in TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for r in result["records"]:
        lines.append("| " + " | ".join(_fmt(r.get(k)).replace("|", "/") for k, _ in TABLE_COLUMNS) + " |")
    lines += ["", ("PSNR (dB) / SSIM: mean of both directions vs ground truth on the 0..255 scale, over the n test "
                   "slices in column n; agree PSNR: vs the FP32 reference's output; dPSNR: artifact minus its FP32 "
                   "source model. Fidelity is measured only at the fidelity size."), ""]
    lines += _tta_lines(result["records"])
    notes = [f"- {r['model']} {r['backend']} {r['precision']} {r['size']}: {r['note']}" for r in result["records"]
             if r.get("note")]
    return "\n".join(lines + (["Notes:"] + notes + [""] if notes else []))


def _than(delta: float, fmt: str, unit: str = "") -> str:
    """'0.11 dB higher' / '0.0012 lower' / 'unchanged' for a signed difference, rounded as printed."""
    shown = format(abs(delta), fmt)
    if float(shown) == 0:
        return "unchanged"
    return f"{shown}{unit} {'higher' if delta > 0 else 'lower'}"


def _tta_lines(records: list[dict[str, Any]]) -> list[str]:
    """The cost of flip test-time averaging per case (``bench --set tta=flip``): latency ratio and fidelity change."""
    rows = [r for r in records if r.get("tta_flip_cost_x") is not None]
    if not rows:
        return []
    lines = ["## Flip test-time averaging (`--set tta=flip`)", "",
             "| model | backend | precision | size | plain ms | flip ms | cost | sCT SSIM plain -> flip | "
             "sMR SSIM plain -> flip | mean PSNR change (dB) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fid = r.get("tta_flip_sct_ssim") is not None and r.get("sct_ssim") is not None
        cells = [f"{r['sct_ssim']:.4f} -> {r['tta_flip_sct_ssim']:.4f}", f"{r['smr_ssim']:.4f} -> "
                 f"{r['tta_flip_smr_ssim']:.4f}", f"{r['tta_flip_mean_psnr'] - r['mean_psnr']:+.2f}"] if fid \
            else ["-", "-", "-"]
        lines.append(f"| {r['model']} | {r['backend']} | {r['precision']} | {r['size']} | {r['lat_median_ms']:.1f} | "
                     f"{r['tta_flip_lat_median_ms']:.1f} | {r['tta_flip_cost_x']:.2f}x | " + " | ".join(cells) + " |")
    return [*lines, ""]


def write_outputs(out_dir: Path, result: dict[str, Any]) -> list[Path]:
    """Write the four output files into ``out_dir`` (which must exist)."""
    out_dir = Path(out_dir)
    payload = {**result, "summary": summary(result)}
    text = json.dumps(json_safe(payload, inf_as_text=True), indent=2, default=str)
    atomic_write_text(out_dir / "results.json", text + "\n")
    atomic_write_text(out_dir / "results.csv", records_csv(result["records"]))
    atomic_write_text(out_dir / "report.md", report_markdown(result))
    plotted = [r for r in result["records"] if r.get("status") == "ok" and isinstance(r.get("mean_psnr"), float)
               and math.isfinite(r["mean_psnr"])]
    pts = [(r["lat_median_ms"], r["mean_psnr"], f"{r['model']}: {r['backend']} {r['precision']} @{r['size']}")
           for r in plotted]
    untrained = any(not r["trained"] for r in plotted)  # only points on the plot decide its caveat
    title = "latency vs PSNR (mean of both directions)" + (" - UNTRAINED models: PSNR meaningless" if untrained
                                                            else "")
    draw_pareto(pts, out_dir / "pareto.png", title)
    return [out_dir / f for f in OUTPUT_FILES]


def results_table(result: dict[str, Any], width: int | None = None) -> Table:
    """The results as a rich table (what ``sccg-edge bench`` prints without --json).

    Every column when ``width`` (the terminal's) holds them, else the compact columns, statuses shortened to their
    first word; ``report.md`` always has everything.
    """
    columns = TABLE_COLUMNS if width is not None and width >= 170 else COMPACT_COLUMNS
    table = Table(title="sccg-edge bench" + ("" if columns is TABLE_COLUMNS else " (all columns: report.md)"))
    for _, header in columns:
        table.add_column(header, overflow="fold")
    for r in result["records"]:
        cells = [_fmt(r.get(k)) for k, _ in columns]
        if columns is COMPACT_COLUMNS:
            cells[-1] = cells[-1].split(":")[0]
        table.add_row(*cells)
    return table
