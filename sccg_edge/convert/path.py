"""The convert verb: ``convert_path(input, out, ConvertConfig)`` picks the reader from the input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sccg_edge.config import ConvertConfig
from sccg_edge.convert.dicom import convert_dicom
from sccg_edge.convert.png import convert_png_folder, is_png_folder
from sccg_edge.errors import ConfigError, InputError


def convert_path(inp: Path, out: Path, cfg: ConvertConfig, progress: bool = True) -> dict[str, Any]:
    """Convert a DICOM file, a DICOM series folder, a folder of several series, or a folder of PNG slices.

    Args:
        inp: the input (read only; the output may not lie inside it).
        out: the new output folder.
        cfg: which model, in which direction, on which backend (see :class:`~sccg_edge.config.ConvertConfig`).
        progress: show a progress bar on stderr.
    """
    inp = Path(inp)
    if not inp.exists():
        raise InputError("does not exist; give a DICOM file, a DICOM series folder or a folder of PNG slices", inp)
    if is_png_folder(inp):
        if cfg.series is not None:
            raise ConfigError("--series applies to DICOM input only, but the input is a folder of PNG slices")
        return convert_png_folder(inp, out, cfg, progress=progress)
    return convert_dicom(inp, out, cfg, progress=progress)
