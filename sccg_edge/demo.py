"""The main job on the embedded default: ``sccg-edge demo``.

[1/4] write the synthetic paired CT/MR phantom (real DICOM files; no ``../shared`` needed);
[2/4] inspect it (slices, geometry, HU range);
[3/4] when reference weights ship with the package, translate a phantom series in both directions and score it;
[4/4] ``sccg-edge bench --device cpu`` on the phantom: every shipped model x backend x precision, latency beside
      fidelity, written to ``OUT/bench`` (results.json, results.csv, report.md, pareto.png).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.bench import run_bench
from sccg_edge.config import ConvertConfig, load_suite_config
from sccg_edge.convert import load_translator, translate_slice
from sccg_edge.data.dicom import read_series
from sccg_edge.data.inspect import inspect_path
from sccg_edge.data.phantom import write_phantom_dataset
from sccg_edge.data.transforms import CT_WINDOWS, ct_window_to_unit, mr_to_unit
from sccg_edge.errors import InputError
from sccg_edge.metrics.score import score_255
from sccg_edge.models.loading import shipped_model_names


def _log(step: str, text: str) -> None:
    print(f"[{step}] {text}", file=sys.stderr, flush=True)


def run_demo(out: Path | None = None, patients: int = 4, size: int = 256, bench_iters: int = 10) -> dict[str, Any]:
    """Run the demo into a new folder ``out`` and return its report."""
    out = Path(out) if out else Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
    if out.exists() and any(out.iterdir()):
        raise InputError("demo output folder exists and is not empty; choose a new --out", out)
    _log("1/4", f"writing the SYNTHETIC phantom ({patients} patients, {size}x{size}) to {out / 'phantom'}")
    summary = write_phantom_dataset(out / "phantom", patients=patients, size=size, seed=0)
    first = sorted((out / "phantom").glob("p*"))[0]
    _log("2/4", f"inspecting {first.name}")
    ct_info = inspect_path(first / "ct")
    mr_info = inspect_path(first / "mr")
    report: dict[str, Any] = {
        "out": str(out), "data": "synthetic phantom (not patient data)", "patients": summary["patients"],
        "slices_per_patient": summary["slices"], "files": summary["n_files"],
        "ct_modality": ct_info.get("modality"), "ct_hu_range": str(summary["ct_hu_range"]),
        "mr_modality": mr_info.get("modality"), "rows_x_columns": f"{ct_info.get('rows')}x{ct_info.get('columns')}",
        "phantom": summary, "inspect_ct": ct_info, "inspect_mr": mr_info,
    }
    models = shipped_model_names()
    if models:
        report.update(_translate_phantom(models, first, out))
    else:
        _log("3/4", "no reference weights ship with this install yet: skipping translation")
        report["translation"] = "skipped: no shipped weights"
    report.update(_bench(out, bench_iters))
    return report


def _bench(out: Path, iters: int) -> dict[str, Any]:
    """The headline benchmark on the phantom (a short version of ``sccg-edge bench --device cpu``)."""
    _log("4/4", f"sccg-edge bench --device cpu on the phantom -> {out / 'bench'}")
    cfg = load_suite_config(None, device="cpu", sizes="256", iters=iters, warmup=1, heavy_iters=iters,
                            fidelity_slices=4, data=str(out / "phantom"))
    result, folder = run_bench(cfg, out / "bench")
    report: dict[str, Any] = {"bench": str(folder)}
    for size, row in result.get("summary", {}).items():
        report.update({f"bench_{size}_{k}": v for k, v in row.items() if not isinstance(v, (dict, list))})
    return report


def _translate_phantom(models: list[str], patient: Path, out: Path) -> dict[str, Any]:
    """Translate one phantom patient's series both ways with each shipped model and score against the pair."""
    ct = read_series(patient / "ct").volume
    mr = read_series(patient / "mr").volume
    mr01 = mr_to_unit(mr)[0]
    results: dict[str, Any] = {}
    for name in models:
        t0 = time.perf_counter()
        for direction in ("mr2ct", "ct2mr"):
            tr = load_translator(ConvertConfig(model=name, direction=direction))
            ct01 = ct_window_to_unit(ct, CT_WINDOWS[tr.ct_window])
            src01, tgt01 = (mr01, ct01) if direction == "mr2ct" else (ct01, mr01)
            pred = np.stack([translate_slice(tr, s) for s in src01])
            mean = score_255(pred * 255.0, tgt01 * 255.0)
            results[f"{name}_{direction}_ssim"] = round(float(mean["ssim"]), 4)
            results[f"{name}_{direction}_psnr"] = round(float(mean["psnr"]), 2)
        results[f"{name}_seconds"] = round(time.perf_counter() - t0, 2)
        _log("3/4", f"{name}: sCT SSIM {results[f'{name}_mr2ct_ssim']}, sMR SSIM {results[f'{name}_ct2mr_ssim']} "
                    "on the synthetic phantom (out of its training distribution)")
    return results
