"""Open a PNG/TIFF slice with its size checked against the memory budget before any pixel is decoded.

Every reader of 2-D image files (the pair reader, ``convert`` on PNG folders, ``metrics``) opens them here, so an
image whose header declares a huge size (a 218 KB PNG of 15000 x 15000) is refused with one line, whether Pillow's
own decompression-bomb limit or the memory budget (:mod:`sccg_edge.utils.budget`) is the tighter.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from sccg_edge.errors import InputError
from sccg_edge.utils.budget import check_allocation

_BYTES_PER_PIXEL = 16  # decoded band values + a grey copy + the float64 array a reader makes of it


@contextlib.contextmanager
def open_image(path: Path) -> Iterator[Image.Image]:
    """``Image.open(path)`` (header only), refused when decoding it would pass the memory budget."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the budget below decides
            img = Image.open(path)
    except Image.DecompressionBombError as err:
        raise InputError(f"declares an image too large to decode safely ({err}); a decompression bomb or a "
                         "corrupt header: give slices of a plausible size", path) from None
    with img:
        width, height = img.size
        check_allocation(width * height * len(img.getbands()) * _BYTES_PER_PIXEL,
                         f"decoding this {width} x {height} image", path)
        yield img
