"""Open a DICOM file for reading, with every allocation bounded before it is made.

Two things happen here and nowhere else:

* :func:`inflated_dataset` reads a Deflated Explicit VR Little Endian file (the whole dataset after the file meta
  is one raw deflate stream). pydicom inflates such a file in one unbounded call and then cannot read its deferred
  values back from the compressed file, so :mod:`sccg_edge.data.dicom_scan` and :mod:`sccg_edge.data.dicom` read
  it through here instead: the stream is inflated in chunks, and stops as soon as it passes what its own header
  declares (the pixel data element's length) or the memory budget.
* :func:`check_pixel_size` compares the pixel data a header declares (Rows x Columns x NumberOfFrames x samples
  x bits) with what the file holds and with the memory budget, before any pixel is decoded.
"""

from __future__ import annotations

import functools
import math
import zlib
from io import BytesIO
from pathlib import Path

from pydicom import Dataset, FileDataset, dcmread
from pydicom.filereader import read_dataset, read_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian

from sccg_edge.errors import InputError
from sccg_edge.utils.budget import check_allocation, format_bytes

_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_PIXEL_TAGS = (b"\xe0\x7f\x10\x00", b"\xe0\x7f\x08\x00", b"\xe0\x7f\x09\x00")  # (7FE0,0010/0008/0009) LE
_CHUNK = 1 << 20
_HEADER_MAX = 64 << 20  # a header (before the pixel data) larger than this is not an image header
_TRAILER_SLACK = 1 << 20  # elements after the pixel data (trailing padding) may add this much


def _meta_end(data: bytes) -> tuple[int, str]:
    """(offset where the dataset starts, TransferSyntaxUID) from the raw file meta group (explicit VR LE)."""
    pos, syntax = (132 if data[128:132] == b"DICM" else 0), ""
    while pos + 8 <= len(data) and data[pos:pos + 2] == b"\x02\x00":
        vr = data[pos + 4:pos + 6]
        if vr in _LONG_VRS:
            head, length = 12, int.from_bytes(data[pos + 8:pos + 12], "little")
        else:
            head, length = 8, int.from_bytes(data[pos + 6:pos + 8], "little")
        if data[pos + 2:pos + 4] == b"\x10\x00":  # (0002,0010) TransferSyntaxUID
            syntax = data[pos + head:pos + head + length].rstrip(b"\0 ").decode("ascii", "replace")
        pos += head + length
    return pos, syntax


def is_deflated(path: Path) -> bool:
    """Whether ``path`` is stored as Deflated Explicit VR Little Endian (from its file meta alone)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16384)
    except OSError:
        return False
    return _meta_end(head)[1] == DeflatedExplicitVRLittleEndian


def _declared_end(prefix: bytes) -> int | None:
    """Where the inflated dataset must end, from its first pixel data element's length (None: not seen yet)."""
    for tag in _PIXEL_TAGS:
        for vr in (b"OB", b"OW", b"OF", b"OD"):
            pos = prefix.find(tag + vr)
            if pos >= 0 and pos + 12 <= len(prefix):
                return pos + 12 + int.from_bytes(prefix[pos + 8:pos + 12], "little") + _TRAILER_SLACK
    return None


def _inflate(path: Path, zipped: bytes) -> bytes:
    """Inflate the raw deflate stream in chunks, never past what the header declares or the memory budget."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out, limit, pending = bytearray(), None, zipped
    try:
        while pending or not inflater.eof:
            chunk = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            out += chunk
            if limit is None:
                limit = _declared_end(bytes(out[:_HEADER_MAX]))
                if limit is not None:
                    check_allocation(limit, "inflating this deflated file (as its pixel data element declares)", path)
                elif len(out) > _HEADER_MAX:
                    raise InputError(f"its deflated dataset holds no pixel data in the first "
                                     f"{format_bytes(_HEADER_MAX)}; the file is corrupt or a decompression bomb: "
                                     "re-export it", path)
            if limit is not None and len(out) > limit:
                raise InputError(f"its deflated data inflates beyond the {format_bytes(limit)} its header declares "
                                 "(a decompression bomb or a corrupt file); re-export it uncompressed", path)
            if not chunk and not pending:
                break
        out += inflater.flush()
    except zlib.error as err:
        raise InputError(f"its deflated data cannot be inflated ({err}); the file is truncated or corrupt: copy "
                         "it again from the source", path) from None
    return bytes(out)


def inflated_dataset(path: Path) -> FileDataset:
    """Read a deflated DICOM file completely (its values inflated within bounds, see :func:`_inflate`).

    Each call returns a new dataset; the inflated bytes of the last two files are kept, so reading a multi-frame
    file frame by frame inflates it once.
    """
    path = Path(path)
    stat = path.stat()
    inflated, preamble = _inflated(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    ds = read_dataset(BytesIO(inflated), is_implicit_VR=False, is_little_endian=True)
    return FileDataset(str(path), ds, preamble=preamble, file_meta=read_file_meta_info(path), is_implicit_VR=False,
                       is_little_endian=True)


@functools.lru_cache(maxsize=2)
def _inflated(name: str, mtime_ns: int, size: int) -> tuple[bytes, bytes | None]:
    """(inflated dataset bytes, preamble) of a deflated file (cached by name, modification time and size)."""
    path = Path(name)
    check_allocation(size, "reading this deflated file", path)
    data = path.read_bytes()
    offset, _ = _meta_end(data)
    return _inflate(path, data[offset:]), (data[:128] if data[128:132] == b"DICM" else None)


def read_dicom(path: Path) -> Dataset:
    """A whole DICOM file (pixel values read on access), its declared pixel data checked by
    :func:`check_pixel_size` first; deflated files through :func:`inflated_dataset`."""
    path = Path(path)
    if is_deflated(path):
        return inflated_dataset(path)
    ds = dcmread(path, defer_size=4096)
    check_pixel_size(path, ds, path.stat().st_size)
    return ds


def _pixel_length(ds: Dataset, keyword: str) -> tuple[int | None, int | None]:
    """(value length, offset of the value in the file) of a pixel element; length None when undefined."""
    elem = ds.get_item(keyword)
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if getattr(elem, "is_undefined_length", False) or (syntax is not None and syntax.is_encapsulated):
        return None, None
    length = getattr(elem, "length", None)
    if length is None:  # a converted element: its value is in memory
        value = elem.value
        length = len(value) if value is not None else 0
    return (None if length == 0xFFFFFFFF else int(length)), getattr(elem, "value_tell", None)


def check_pixel_size(path: Path, ds: Dataset, file_size: int) -> None:
    """InputError unless the pixel data ``ds`` declares fits in the file and in the memory budget.

    Native pixel data must be at least Rows x Columns x NumberOfFrames x SamplesPerPixel x BitsAllocated / 8
    bytes and lie inside the file; encapsulated (compressed) data holds at least one 8-byte item per frame.
    Decoding one frame (as float64) must fit the memory budget.
    """
    keyword = next((k for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData") if k in ds), None)
    if keyword is None or "Rows" not in ds or "Columns" not in ds:
        return
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        frames = int(ds.get("NumberOfFrames") or 1)
        samples = int(ds.get("SamplesPerPixel") or 1)
        bits = int(ds.get("BitsAllocated") or 16)
    except (TypeError, ValueError) as err:
        raise InputError(f"its image size tags are not numbers ({err}); the header is corrupt: copy the file "
                         "again from the source", path) from None
    dims = f"Rows {rows} x Columns {cols} x NumberOfFrames {frames} x SamplesPerPixel {samples} x {bits} bits"
    if min(rows, cols, frames, samples, bits) <= 0:
        raise InputError(f"declares an empty or negative image ({dims}); the header is corrupt: copy the file "
                         "again from the source", path)
    frame_bytes = math.ceil(rows * cols * samples * bits / 8)
    declared = frame_bytes * frames
    length, tell = _pixel_length(ds, keyword)
    if length is None:  # encapsulated: each frame is at least one item (8-byte header)
        if frames * 8 > file_size:
            raise InputError(f"declares {frames} frames but a file of {format_bytes(file_size)} can hold at most "
                             f"{file_size // 8}; the header is corrupt: copy the file again from the source", path)
    else:
        held = min(length, file_size - tell) if tell is not None else length
        if declared > held:
            raise InputError(f"declares {format_bytes(declared)} of pixel data ({dims}) but the file holds "
                             f"{format_bytes(max(held, 0))}: the file is truncated or its header corrupt; copy it "
                             "again from the source", path)
    check_allocation(rows * cols * samples * 8 + frame_bytes, f"decoding one {rows} x {cols} frame", path)
