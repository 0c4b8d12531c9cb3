"""Writers for a benchmark run: results.json, results.csv, report.md, pareto.png; and the terminal table."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from sccg_edge.utils.fs import atomic_write_text

OUTPUT_FILES = ("results.json", "results.csv", "report.md", "pareto.png")
TABLE_COLUMNS = (("model", "model"), ("backend", "backend"), ("precision", "prec"), ("size", "size"),
                 ("lat_median_ms", "median ms"), ("lat_p90_ms", "p90 ms"), ("slices_per_s", "slices/s"),
                 ("gmacs", "GMAC"), ("artifact_mb", "MiB"), ("peak_rss_mb", "RSS MiB"), ("mean_psnr", "PSNR"),
                 ("mean_ssim", "SSIM"), ("mean_agree_psnr", "agree PSNR"), ("mean_d_psnr", "dPSNR"),
                 ("status", "status"))


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


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


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Per size: the teacher's FP32 latency over the fastest working artifact's, and that artifact's loss."""
    ok = [r for r in result["records"] if r.get("status") == "ok"]
    out: dict[str, Any] = {}
    for size in sorted({r["size"] for r in ok}):
        at = [r for r in ok if r["size"] == size]
        teacher = [r for r in at if r["is_teacher"] and r["precision"] == "fp32"]
        if not teacher:
            continue
        ref = next((r for r in teacher if r["backend"] == "torch"), min(teacher, key=lambda r: r["lat_median_ms"]))
        best = min(at, key=lambda r: r["lat_median_ms"])
        item = {"teacher_fp32": f"{ref['model']} {ref['backend']} fp32", "teacher_ms": ref["lat_median_ms"],
                "best": f"{best['model']} {best['backend']} {best['precision']}", "best_ms": best["lat_median_ms"],
                "speedup": ref["lat_median_ms"] / best["lat_median_ms"]}
        if "mean_psnr" in best and "mean_psnr" in ref:
            item.update({"psnr_loss_vs_teacher": ref["mean_psnr"] - best["mean_psnr"],
                         "ssim_loss_vs_teacher": ref["mean_ssim"] - best["mean_ssim"],
                         "agree_psnr": best.get("mean_agree_psnr"), "agree_ssim": best.get("mean_agree_ssim")})
        out[str(size)] = item
    return out


def records_csv(records: list[dict[str, Any]]) -> str:
    keys: list[str] = []
    for r in records:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    for r in records:
        writer.writerow({k: _clean(r.get(k, "")) for k in keys})
    return buf.getvalue()


def report_markdown(result: dict[str, Any]) -> str:
    """The human report: machine, caveats, headline ratio, full table."""
    m = result["machine"]
    isa = ", ".join(k for k, v in m["isa"].items() if v) or "none of interest"
    lines = ["# sccg-edge benchmark", "",
             f"- CPU: {m['cpu_model']} ({m['usable_cores']} usable cores, threads {m['threads']}); ISA: {isa}",
             "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v),
             f"- Device: {m['device']}; fidelity data: {result.get('data') or 'n/a'}",
             f"- FP32 reference for agreement: `{result['teacher']}`", ""]
    untrained = sorted({r["model"] for r in result["records"] if not r["trained"]})
    if untrained:
        lines += [(f"> **Untrained models (random weights): {', '.join(untrained)}.** Their PSNR/SSIM against "
                   "ground truth is meaningless; only latency, size and agreement/degradation of an artifact against "
                   "its own FP32 source are informative."), ""]
    for size, s in summary(result).items():
        line = (f"- **{size}x{size}**: teacher FP32 ({s['teacher_fp32']}) {s['teacher_ms']:.1f} ms; fastest artifact "
                f"{s['best']} {s['best_ms']:.1f} ms: **{s['speedup']:.1f}x** faster")
        if "psnr_loss_vs_teacher" in s:
            line += (f"; PSNR loss vs FP32 teacher {s['psnr_loss_vs_teacher']:+.2f} dB, SSIM loss "
                     f"{s['ssim_loss_vs_teacher']:+.4f}")
        lines.append(line)
    lines += ["", "| " + " | ".join(h for _, h in TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for r in result["records"]:
        lines.append("| " + " | ".join(_fmt(r.get(k)).replace("|", "/") for k, _ in TABLE_COLUMNS) + " |")
    lines += ["", ("PSNR/SSIM: mean of both directions vs ground truth on the 0..255 scale; agree PSNR: vs the FP32 "
                   "teacher's output; dPSNR: artifact minus its FP32 source model. Fidelity is measured only at the "
                   "fidelity size."), ""]
    notes = [f"- {r['model']} {r['backend']} {r['precision']} {r['size']}: {r['note']}" for r in result["records"]
             if r.get("note")]
    return "\n".join(lines + (["Notes:"] + notes + [""] if notes else []))


def write_outputs(out_dir: Path, result: dict[str, Any]) -> list[Path]:
    """Write the four output files into ``out_dir`` (which must exist)."""
    from sccg_edge.bench.pareto import draw_pareto

    out_dir = Path(out_dir)
    payload = {**result, "summary": summary(result)}
    atomic_write_text(out_dir / "results.json", json.dumps(_clean(payload), indent=2, default=str) + "\n")
    atomic_write_text(out_dir / "results.csv", records_csv(result["records"]))
    atomic_write_text(out_dir / "report.md", report_markdown(result))
    plotted = [r for r in result["records"] if r.get("status") == "ok" and isinstance(r.get("mean_psnr"), float)
               and math.isfinite(r["mean_psnr"])]
    pts = [(r["lat_median_ms"], r["mean_psnr"], f"{r['model']} {r['backend']} {r['precision']} {r['size']}")
           for r in plotted]
    untrained = any(not r["trained"] for r in plotted)  # only points on the plot decide its caveat
    title = "latency vs PSNR (mean of both directions)" + (" - UNTRAINED models: PSNR meaningless" if untrained
                                                            else "")
    draw_pareto(pts, out_dir / "pareto.png", title)
    return [out_dir / f for f in OUTPUT_FILES]


def render_table(result: dict[str, Any]) -> None:
    """Print the results as a rich table on stderr-free stdout (not used with --json)."""
    from rich.table import Table

    table = Table(title="sccg-edge bench")
    for _, header in TABLE_COLUMNS:
        table.add_column(header, overflow="fold")
    for r in result["records"]:
        table.add_row(*(_fmt(r.get(k)) for k, _ in TABLE_COLUMNS))
    from sccg_edge.cli._common import result_console

    result_console().print(table)
