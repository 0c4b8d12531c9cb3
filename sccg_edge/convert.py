"""Translate slices with a generator: ``convert_png_folder`` (PNG slices in, PNG slices out, same names).

The output folder is written under a temporary name and renamed into place when complete, so an interrupted run
leaves nothing behind; an existing output folder is never overwritten, and the output may not lie inside the input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.errors import InputError

IMAGE_SUFFIXES = (".png",)


def check_output_folder(out: Path, inp: Path) -> None:
    """Refuse an existing output folder and an output inside the input folder."""
    out, inp = Path(out).resolve(), Path(inp).resolve()
    if out.exists():
        raise InputError("output folder already exists; nothing was overwritten. Choose a new --out", out)
    if out == inp or inp in out.parents:
        raise InputError(f"output folder lies inside the input folder {inp}; write it elsewhere", out)


def read_png_unit(path: Path) -> np.ndarray:
    """A PNG slice as float32 (H, W) in [0, 1] (RGB is converted to grey)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            arr = np.asarray(img.convert("L") if img.mode not in ("L", "I;16", "I") else img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise InputError(f"cannot decode this image ({err}); replace or remove the file", path) from None
    scale = 65535.0 if arr.dtype == np.uint16 or arr.max() > 255 else 255.0
    return (arr.astype(np.float32) / scale).clip(0.0, 1.0)


def translate_unit(gen: Any, img01: np.ndarray) -> np.ndarray:
    """Run a loaded generator on one [0, 1] slice at its trained size and return [0, 1] on the input grid."""
    import torch

    from sccg_edge.data.transforms import fit_to_size, model_to_unit, restore_from_fit, unit_to_model

    fitted, info = fit_to_size(img01, gen.size)
    x = torch.from_numpy(unit_to_model(fitted).astype(np.float32))[None, None]
    with torch.no_grad():
        y = gen.model(x)[0, 0].numpy()
    return restore_from_fit(model_to_unit(y), info).clip(0.0, 1.0)


def convert_png_folder(model: str, direction: str, inp: Path, out: Path, progress: bool = True) -> dict[str, Any]:
    """Translate every PNG slice of ``inp`` into ``out`` with the generator of ``direction``."""
    from PIL import Image

    from sccg_edge.models.loading import load_generator
    from sccg_edge.utils.fs import atomic_dir
    from sccg_edge.utils.progress import track

    inp, out = Path(inp), Path(out)
    if not inp.is_dir():
        raise InputError("input folder not found (give a folder of PNG slices)", inp)
    files = sorted(p for p in inp.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError("no PNG slices in this folder", inp)
    check_output_folder(out, inp)
    gen = load_generator(model, direction)
    with atomic_dir(out) as tmp:
        for path in track(files, description=f"convert {direction}", enabled=progress):
            y = translate_unit(gen, read_png_unit(path))
            Image.fromarray(np.round(y * 255.0).astype(np.uint8)).save(tmp / path.name)
    return {"model": str(model), "direction": direction, "input": str(inp), "out": str(out), "n": len(files),
            "weights": str(gen.source)}
