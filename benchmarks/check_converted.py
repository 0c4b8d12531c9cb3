"""Check converted DICOM series: dciodvfy errors and geometry against the source series.

Usage: python benchmarks/check_converted.py runs/convert [--out benchmarks/results/convert_check.json]

For every converted series folder under the given root: runs David Clunie's ``dciodvfy`` on each file (counting
"Error" lines), and compares ImagePositionPatient / ImageOrientationPatient / PixelSpacing / Rows / Columns slice by
slice with the source series the output references. Exits 1 on any error or mismatch.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path


def _dciodvfy(path: Path) -> tuple[int, int]:
    exe = shutil.which("dciodvfy") or str(Path(sys.executable).parent / "dciodvfy")
    res = subprocess.run([exe, str(path)], capture_output=True, text=True)
    lines = (res.stdout + res.stderr).splitlines()
    return sum(line.startswith("Error") for line in lines), sum(line.startswith("Warning") for line in lines)


def check_series(folder: Path, source_dir: Path) -> dict:
    """dciodvfy and geometry results of one converted series folder against its source series folder."""
    import numpy as np
    import pydicom

    files = sorted(folder.glob("*.dcm"))
    errors = warnings = 0
    mismatches = 0
    by_uid = {ds.SOPInstanceUID: ds for ds in (pydicom.dcmread(p, stop_before_pixels=True)
                                               for p in source_dir.glob("*.dcm"))}
    for f in files:
        e, w = _dciodvfy(f)
        errors, warnings = errors + e, warnings + w
        out = pydicom.dcmread(f, stop_before_pixels=True)
        src = by_uid[out.SourceImageSequence[0].ReferencedSOPInstanceUID]
        for key in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
            if not np.allclose([float(v) for v in out.get(key)], [float(v) for v in src.get(key)], atol=1e-4):
                mismatches += 1
        mismatches += int((out.Rows, out.Columns) != (src.Rows, src.Columns))
    return {"series": folder.name, "files": len(files), "dciodvfy_errors": errors, "dciodvfy_warnings": warnings,
            "geometry_mismatches": mismatches, "series_description": str(out.SeriesDescription) if files else ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/convert_check.json"))
    args = parser.parse_args(argv)
    sources = {"porcine": "../shared/data/porcine-head-t2-dicom", "head": "../shared/data/head-ct-dicom"}
    rows = []
    for folder in sorted(p for p in args.root.iterdir() if p.is_dir()):
        src = next(Path(v) for k, v in sources.items() if folder.name.startswith(k))
        rows.append(check_series(folder, src))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": "bash benchmarks/reference_pipeline.sh convert", "series": rows},
                                   indent=2) + "\n")
    print(json.dumps(rows, indent=2))
    return int(any(r["dciodvfy_errors"] or r["geometry_mismatches"] or not r["files"] for r in rows))


if __name__ == "__main__":
    sys.exit(main())
