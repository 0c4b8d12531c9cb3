"""The bad-input corpus: each case builds a bad (or unusual but valid) input from real files into a folder.

A builder gets ``(where, env)`` (an empty folder and the shared :class:`Env`) and returns a :class:`Case`: the CLI
arguments, whether the command must succeed, and for failures a regex the one-line error must match and the name
it must mention. Nothing here is stored in the repository: every input is generated from the shared series and
pydicom's test files at test time.
"""

from __future__ import annotations

import contextlib
import pickle
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.data import get_testdata_file


@dataclass
class Env:
    """What builders share: the tiny model and a way to get the real-data fixtures (skipping when absent)."""

    model: Path
    fixture: Callable[[str], Path]


@dataclass
class Case:
    """One corpus input and the expected outcome."""

    argv: list[str]
    ok: bool = False
    match: str = ""
    name: str = ""  # a file or folder name the error must mention
    guard: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
    watch: list[Path] = field(default_factory=list)  # inputs that must stay byte-identical
    marker: Path | None = None  # a file that must NOT exist afterwards
    isolated: bool = False  # run as a subprocess, its peak RSS measured on its own (resource bombs)
    env: dict[str, str] = field(default_factory=dict)  # environment of an isolated run


def pydicom_file(name: str) -> Path:
    """A pydicom test file (pydicom-data)."""
    import pytest

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} not available (install pydicom-data)")
    return Path(path)


def convert_argv(env: Env, inp: Path, where: Path, direction: str, *extra: str) -> list[str]:
    """``convert`` arguments with the tiny model, writing to ``where/out``."""
    return ["convert", "--model", str(env.model), "--direction", direction, "--input", str(inp), "--out",
            str(where / "out"), "--no-progress", "--threads", "1", *extra]


def copy_in(where: Path, files: list[Path]) -> Path:
    """Copy ``files`` into ``where/in`` and return that folder."""
    folder = where / "in"
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, folder / f.name)
    return folder


def contiguous(env: Env, fixture: str, n: int, start: int = 4) -> list[Path]:
    """``n`` neighbouring slices (by position) of a real series."""
    from sccg_edge.data.dicom import scan_series

    return scan_series(env.fixture(fixture)).files[start:start + n]


def edited(src: Path, dest: Path, edit: Callable[[pydicom.Dataset], None]) -> Path:
    """Re-save a real file after ``edit`` changed its dataset."""
    ds = pydicom.dcmread(src)
    edit(ds)
    dest.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dest)
    return dest


def set_pixels(ds: pydicom.Dataset, arr: np.ndarray, bits_stored: int | None = None) -> None:
    """Replace the pixels of an uncompressed dataset with ``arr`` (integer or float), fixing the pixel module."""
    for kw in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if kw in ds:
            delattr(ds, kw)
    ds.Rows, ds.Columns = arr.shape
    bits = arr.dtype.itemsize * 8
    if arr.dtype.kind == "f":
        if "PixelRepresentation" in ds:
            del ds.PixelRepresentation
        ds.BitsAllocated = bits
        setattr(ds, "FloatPixelData" if bits == 32 else "DoubleFloatPixelData", arr.tobytes())
        for kw in ("BitsStored", "HighBit", "RescaleSlope", "RescaleIntercept"):
            if kw in ds:
                delattr(ds, kw)
        return
    ds.BitsAllocated, ds.BitsStored = bits, bits_stored or bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if arr.dtype.kind == "i" else 0
    ds.PixelData = arr.tobytes()
    ds["PixelData"].VR = "OB" if bits == 8 else "OW"


def flip_bytes(data: bytes, offsets: list[int]) -> bytes:
    """Invert the bytes at ``offsets``."""
    buf = bytearray(data)
    for off in offsets:
        buf[off] ^= 0xFF
    return bytes(buf)


class ExecutingPickle:
    """A pickle payload that would create ``marker`` when unpickled (to prove it is never unpickled)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (_touch, (str(self.marker), "pwned"))


def _touch(path: str, text: str) -> None:  # what unpickling the payload would call
    Path(path).write_text(text)


def write_pickle(path: Path, marker: Path) -> Path:
    """A real pickle that would run code (create ``marker``) if loaded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({"state_dict": ExecutingPickle(marker)}))
    return path


@contextlib.contextmanager
def without_decoders(uid: str) -> Iterator[None]:
    """Make pydicom's decoder for ``uid`` have no plugins (the supported ``remove_plugin`` API), then restore."""
    from pydicom.pixels import get_decoder

    decoder = get_decoder(uid)
    labels = list(decoder.available_plugins)
    for label in labels:
        decoder.remove_plugin(label)
    try:
        yield
    finally:
        for label in labels:
            module = "pydicom.pixels.decoders." + ("rle" if label == "pydicom" else label)  # pydicom's own RLE
            decoder.add_plugin(label, (module, "_decode_frame"))
