"""Convert a folder of PNG slices into a folder of translated 8-bit PNG slices of the same names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sccg_edge.config import ConvertConfig
from sccg_edge.convert.output import check_output_folder, clean_stale_partials, mark_owner, unmark_owner
from sccg_edge.convert.translator import load_translator, translate_slice
from sccg_edge.data.pairs import read_png_unit
from sccg_edge.errors import InputError
from sccg_edge.utils.fs import atomic_dir, check_writable, claim_output
from sccg_edge.utils.progress import track

IMAGE_SUFFIXES = (".png",)


def convert_png_folder(inp: Path, out: Path, cfg: ConvertConfig, progress: bool = True) -> dict[str, Any]:
    """Translate every PNG slice of ``inp`` into ``out`` (8-bit PNGs, same names) with the generator of
    ``cfg.direction``."""
    inp, out = Path(inp), Path(out)
    if not inp.is_dir():
        raise InputError("input folder not found (give a folder of PNG slices)", inp)
    files = sorted(p for p in inp.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError("no PNG slices in this folder", inp)
    check_output_folder(out, inp)
    check_writable(out, need_bytes=sum(p.stat().st_size for p in files))
    direction = cfg.direction
    with claim_output(out):
        check_output_folder(out, inp)  # again, now that no other run can write it
        clean_stale_partials(out)
        tr = load_translator(cfg)
        with atomic_dir(out) as tmp:
            mark_owner(tmp)
            for path in track(files, description=f"convert {direction}", enabled=progress):
                y = translate_slice(tr, read_png_unit(path))
                Image.fromarray(np.round(y * 255.0).astype(np.uint8)).save(tmp / path.name)
            unmark_owner(tmp)
    return {"model": str(cfg.model), "direction": direction, "input": str(inp), "out": str(out), "n": len(files),
            "weights": tr.source, "backend": tr.backend, "precision": tr.precision}


def is_png_folder(inp: Path) -> bool:
    if not inp.is_dir():
        return False
    names = [p for p in inp.iterdir() if p.is_file() and not p.name.startswith(".")]
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in names) and not any(
        p.suffix.lower() in (".dcm", ".dicom", ".ima") for p in names)
