"""The main job on the embedded default: ``sccg-edge demo``.

[1/5] write the SYNTHETIC paired CT/MR phantom as real DICOM (no ``../shared`` needed) and inspect it;
[2/5] translate its test patient(s) both ways with the shipped teacher and the default student, scored against the
      phantom's ground truth (0..255 scale, every test slice);
[3/5] quantize the student's MR->CT generator to INT8 for the fastest INT8 target here (the quantize stage's verb);
[4/5] time the teacher's FP32 runtimes and the INT8 student at the phantom's slice size (batch 1, median);
[5/5] write one side-by-side picture (input, ground truth, teacher, student, INT8) and a summary.

The full benchmark (every shipped model x backend x precision, many minutes) runs only with ``bench=True``
(``sccg-edge demo --bench``), into ``OUT/bench``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from sccg_edge.backends import load_backend, open_artifact, run_batched
from sccg_edge.bench import run_bench, time_backend
from sccg_edge.config import DataConfig, QuantConfig, load_suite_config
from sccg_edge.data.inspect import inspect_path
from sccg_edge.data.phantom import write_phantom_dataset
from sccg_edge.data.slices import load_split
from sccg_edge.errors import InputError
from sccg_edge.export import to_openvino
from sccg_edge.metrics.score import fidelity, image_255
from sccg_edge.models.loading import load_generator, shipped_model_names
from sccg_edge.quantize import DEFAULT_MODEL, fastest_int8_target, quantize_artifact

TEACHER = "teacher"
NAMES = {"mr2ct": "sCT (MR->CT)", "ct2mr": "sMR (CT->MR)"}


def _log(step: str, text: str) -> None:
    print(f"[{step}] {text}", file=sys.stderr, flush=True)


def run_demo(out: Path | None = None, patients: int = 4, size: int = 256, iters: int = 10, bench: bool = False,
             bench_iters: int = 10, student: str = DEFAULT_MODEL, slices: int = 12) -> dict[str, Any]:
    """Run the demo into a new folder ``out`` and return its report (``summary`` holds the lines to print)."""
    t_start = time.perf_counter()
    out = Path(out) if out else Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
    if out.exists() and any(out.iterdir()):
        raise InputError("demo output folder exists and is not empty; choose a new --out", out)
    _log("1/5", f"writing the SYNTHETIC phantom ({patients} patients x {slices} slices, {size}x{size}) to "
                f"{out / 'phantom'}")
    phantom = write_phantom_dataset(out / "phantom", patients=patients, size=size, seed=0, slices=slices)
    first = sorted((out / "phantom").glob("p*"))[0]
    ct_info, mr_info = inspect_path(first / "ct"), inspect_path(first / "mr")
    report: dict[str, Any] = {
        "out": str(out), "data": "SYNTHETIC digital brain phantom (not patient data)", "patients": phantom["patients"],
        "slices_per_patient": phantom["slices"], "files": phantom["n_files"], "size": size,
        "ct_hu_range": phantom["ct_hu_range"], "inspect_ct": ct_info, "inspect_mr": mr_info,
    }
    shipped = shipped_model_names()
    if TEACHER in shipped and student in shipped:
        report.update(_models(out, size, student, iters))
    else:
        _log("2/5", "no reference weights ship with this install: skipping translation, INT8 and timing")
        report["translation"] = "skipped: no shipped weights"
    if bench:
        report.update(_bench(out, bench_iters))
    report["wall_s"] = round(time.perf_counter() - t_start, 1)
    report["summary"] = summary_lines(report)
    return report


def _models(out: Path, size: int, student: str, iters: int) -> dict[str, Any]:
    phantom = out / "phantom"
    test = load_split(DataConfig(root=str(phantom), size=size), "test")
    n_patients = len(set(test.patients))
    _log("2/5", f"translating the phantom's test split ({len(test)} slices of {n_patients} patient(s)) both ways "
                f"with '{TEACHER}' and '{student}'")
    scores: dict[str, Any] = {}
    preds: dict[str, np.ndarray] = {}
    for direction in ("mr2ct", "ct2mr"):
        src, gt = test.pair(direction)
        teacher = load_backend("torch", TEACHER, direction=direction)
        ref = load_backend("torch", student, direction=direction)
        scores[f"{TEACHER}/{direction}"] = fidelity(teacher, src, gt)
        scores[f"{student}/{direction}"] = fidelity(ref, src, gt, reference=teacher)
        if direction == "mr2ct":
            preds["teacher"], preds["student"] = run_batched(teacher, src), run_batched(ref, src)
    target, why = fastest_int8_target("cpu")
    _log("3/5", f"quantizing {student} MR->CT to INT8 for {target} ({why})")
    qcfg = QuantConfig(mode="int8", target=target, size=size, data=str(phantom), val_max_slices=4)
    card = quantize_artifact(student, "mr2ct", qcfg, out / "int8-mr2ct")
    int8 = open_artifact(out / "int8-mr2ct" / card["file"])
    src, gt = test.pair("mr2ct")
    scores[f"{student} INT8/mr2ct"] = fidelity(int8, src, gt, reference=load_backend("torch", student,
                                                                                      direction="mr2ct"))
    preds["int8"] = run_batched(int8, src)
    _log("4/5", f"timing at {size}x{size}, batch 1, {iters} runs each: {TEACHER} FP32 on PyTorch and OpenVINO, "
                f"{student} INT8 on {target}")
    timing = _timing(out, size, student, int8, iters)
    picture = _picture(out / "demo.png", test, preds, student)
    _log("5/5", f"side-by-side picture: {picture}")
    return {"test_slices": len(test), "test_patients": n_patients, "student": student, "int8_target": target,
            "int8_artifact": str(out / "int8-mr2ct"), "scores": scores, "timing": timing, "picture": str(picture)}


def _timing(out: Path, size: int, student: str, int8: Any, iters: int) -> dict[str, Any]:
    """Median latency (ms, batch 1) of the teacher's FP32 runtimes and of the INT8 student, all at ``size``."""
    x = np.random.default_rng(0).uniform(-1, 1, (1, 1, size, size)).astype(np.float32)
    teacher = load_generator(TEACHER, "mr2ct").model.eval()
    ov_teacher = to_openvino(teacher, out / "teacher-fp32-openvino" / "model.xml", size=size)
    runs = {f"{TEACHER} FP32 PyTorch": load_backend("torch", TEACHER, direction="mr2ct"),
            f"{TEACHER} FP32 OpenVINO": open_artifact(ov_teacher),
            f"{student} INT8": int8}
    ms = {name: time_backend(run, x, warmup=2, iters=iters).median_ms for name, run in runs.items()}
    best_ref = min((k for k in ms if k.startswith(TEACHER)), key=ms.get)
    return {"ms": ms, "reference": best_ref, "speedup": ms[best_ref] / ms[f"{student} INT8"], "iters": iters,
            "size": size}


def _picture(path: Path, test: Any, preds: dict[str, np.ndarray], student: str) -> Path:
    """Input MR, ground-truth CT, teacher / student / INT8 sCT of the middle test slice, side by side, labelled."""
    i = len(test) // 2
    src, gt = test.pair("mr2ct")
    panels = [("input MR", src[i]), ("ground truth CT", gt[i]), (f"{TEACHER} sCT", preds["teacher"][i]),
              (f"{student} sCT", preds["student"][i]), (f"{student} INT8 sCT", preds["int8"][i])]
    tiles = [np.clip(np.rint(image_255(img)), 0, 255).astype(np.uint8) for _, img in panels]
    h, w = tiles[0].shape
    label = 18
    canvas = Image.new("L", (w * len(tiles), h + label), 0)
    draw = ImageDraw.Draw(canvas)
    for k, ((name, _), tile) in enumerate(zip(panels, tiles)):
        canvas.paste(Image.fromarray(tile), (k * w, label))
        draw.text((k * w + 4, 3), name, fill=255)
    draw.text((4, h + label - 14), f"SYNTHETIC phantom, slice {test.names[i]}", fill=200)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def _bench(out: Path, iters: int) -> dict[str, Any]:
    """The long benchmark (``sccg-edge bench --device cpu`` on the phantom), only with ``--bench``."""
    _log("bench", f"sccg-edge bench --device cpu on the phantom -> {out / 'bench'} (many minutes)")
    cfg = load_suite_config(None, device="cpu", sizes="256", iters=iters, warmup=1, heavy_iters=iters,
                            data=str(out / "phantom"))
    _, folder = run_bench(cfg, out / "bench")
    return {"bench": str(folder), "bench_report": str(folder / "report.md")}


def summary_lines(report: dict[str, Any]) -> list[str]:
    """What a newcomer reads at the end: what ran, on what data, each figure with its unit, scale and n."""
    lines = [f"sccg-edge demo: done in {report['wall_s']:.0f} s; everything is in {report['out']}",
             f"Data: {report['data']}: {report['patients']} synthetic patients x {report['slices_per_patient']} "
             f"slices, {report['size']}x{report['size']}, written as DICOM CT (HU) and T2 MR in "
             f"{Path(report['out']) / 'phantom'}. The shipped models were trained on real scans, so the phantom is "
             "outside what they learned: read the figures as a check that everything runs, not as their quality."]
    if "scores" not in report:
        return lines + ["No reference weights ship with this install: translation, INT8 and timing were skipped."]
    n = f"{report['test_slices']} test slices of {report['test_patients']} phantom patient(s)"
    lines.append(f"Fidelity against the phantom's ground truth ({n}; 0..255 scale, whole slice; PSNR in dB, "
                 "SSIM 0..1 where 1 is identical, MAE in grey levels of 255):")
    for key, rec in report["scores"].items():
        model, direction = key.rsplit("/", 1)
        line = (f"  {NAMES[direction]:13} {model:22} PSNR {rec['psnr']:5.2f} dB  SSIM {rec['ssim']:.3f}  "
                f"MAE {rec['mae']:5.1f}  (n={rec['slices']})")
        if "agreement_psnr" in rec:
            what = "its FP32 source" if model.endswith("INT8") else "the FP32 teacher"
            line += f"; agrees with {what} at {rec['agreement_psnr']:.1f} dB PSNR"
        lines.append(line)
    t = report["timing"]
    ms = "; ".join(f"{k} {v:.1f} ms" for k, v in t["ms"].items())
    lines.append(f"Speed at {t['size']}x{t['size']} on this CPU (batch 1, median of {t['iters']} runs): {ms}.")
    lines.append(f"Speed-up: {report['student']} INT8 ({report['int8_target']}) runs {t['speedup']:.1f}x faster than "
                 f"the teacher's best FP32 runtime here ({t['reference']}).")
    lines.append(f"Picture (input MR | ground-truth CT | teacher | student | INT8 sCT): {report['picture']}")
    lines.append(f"INT8 model and its card: {report['int8_artifact']}/card.md")
    if "bench" in report:
        lines.append(f"Full benchmark: {report['bench_report']}")
    else:
        lines.append("The full benchmark (every shipped model x backend x precision, many minutes): "
                     "sccg-edge demo --bench, or sccg-edge bench --device cpu")
    return lines
